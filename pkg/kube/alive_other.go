//go:build !unix

package kube

// processAlive cannot probe processes here: every holder counts as alive, and a killed run's
// lease is taken over once it goes stale.
func processAlive(int) bool { return true }
