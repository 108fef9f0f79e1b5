//go:build unix

package kube

import (
	"errors"
	"syscall"
)

// processAlive says whether a process with this pid exists (signal 0 probes without sending).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
