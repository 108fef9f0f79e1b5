// Command docgen writes docs/commands/ (one page per command): `go run ./cmd/docgen docs/commands`.
package main

import (
	"fmt"
	"os"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/docgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: docgen DIR")
		os.Exit(2)
	}
	if err := docgen.Generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
