// Package s3 is `kubectl pgbackrest s3`: configure and show the namespace's S3 Secret.
package s3

import (
	"github.com/spf13/cobra"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
)

// NewCmd wires `s3` and its subcommands.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	cmd := cmdutil.GroupCommand(&cobra.Command{
		Use:   "s3",
		Short: "Configure the S3 repository settings shared by the namespace's clusters",
	})
	cmd.AddCommand(newConfigureCmd(deps), newShowCmd(deps))
	return cmd
}
