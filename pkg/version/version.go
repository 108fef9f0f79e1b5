// Package version holds the build's identity, stamped by the Makefile with -ldflags -X.
package version

import (
	"fmt"
	"runtime"
)

// Set with -ldflags "-X github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version.Version=...".
// These are the only package-level variables the linker writes; nothing else changes them.
var (
	Version = "dev"
	Commit  = "dev"
	Date    = "dev"
)

// Info is what `kubectl pgbackrest version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the stamped build information.
func Get() Info {
	return Info{
		Version:   Version,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// UserAgent is sent to the API server on every request.
func UserAgent() string {
	return "kubectl-pgbackrest/" + Version
}
