// Command pause is the pod sandbox's process: it holds the pod's namespaces and waits for SIGTERM.
// The local cluster builds it because no registry serves registry.k8s.io/pause here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// Zombies of the pod's processes are re-parented to us when the pod shares its PID namespace.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGCHLD)
	<-sig
}
