//go:build linux

package kube

// bootID is the kernel's random per-boot id (shared by the containers of one host, whose pid
// namespaces then tell them apart).
func bootID(readFile func(string) ([]byte, error)) string {
	return readFirst(readFile, "/proc/sys/kernel/random/boot_id")
}
