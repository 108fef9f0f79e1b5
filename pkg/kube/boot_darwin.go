//go:build darwin

package kube

import "syscall"

// bootID is macOS's random per-boot session id.
func bootID(func(string) ([]byte, error)) string {
	s, err := syscall.Sysctl("kern.bootsessionuuid")
	if err != nil {
		return ""
	}
	return s
}
