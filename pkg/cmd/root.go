// Package cmd is the root command: kubeconfig flags, --color, command groups, and the verbs.
package cmd

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	backupcmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/check"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cleanup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	createcmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/create"
	deletecmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/delete"
	expirecmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/expire"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/info"
	listcmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/list"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/promote"
	psqlcmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/psql"
	restorecmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/restore"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/retired"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/rotatecerts"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/s3"
	schedulecmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/schedule"
	statuscmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/status"
	updatecmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/update"
	versioncmd "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/version"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// Command group IDs. Verbs set cmd.GroupID to one of these.
const (
	GroupCluster = "cluster"
	GroupBackup  = "backup"
	GroupRestore = "restore"
	GroupOther   = "other"
)

// NewRootCmd builds `kubectl pgbackrest` with every verb. Nothing talks to the cluster here.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	configFlags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.UserAgent = version.UserAgent()
		return c
	}
	deps := &cmdutil.Deps{ConfigFlags: configFlags, IOStreams: streams, Color: output.NewColor(false)}
	colorFlag := string(output.ColorAuto)

	root := &cobra.Command{
		Use:   "pgbackrest",
		Short: "Back up and restore PostgreSQL on Kubernetes with pgBackRest, no operator needed",
		Long: `kubectl pgbackrest creates PostgreSQL clusters backed up by pgBackRest (to a local
repository volume, to S3, or both), takes and lists backups, and restores them
(latest or point-in-time) in resumable steps. It needs only the Kubernetes API:
all state lives in the namespace.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl pgbackrest",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := output.ParseColorMode(colorFlag)
			if err != nil {
				return exitcode.Usage(err)
			}
			deps.Color.Configure(mode, streams.ErrOut, os.LookupEnv)
			return nil
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(cmdutil.FlagError)
	cmdutil.GroupCommand(root)

	configFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&colorFlag, "color", colorFlag, "Colour output: auto (on a terminal, unless NO_COLOR is set), always or never")
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(output.ColorModes, cobra.ShellCompDirectiveNoFileComp))

	root.AddGroup(
		&cobra.Group{ID: GroupCluster, Title: "Cluster Commands:"},
		&cobra.Group{ID: GroupBackup, Title: "Backup Commands:"},
		&cobra.Group{ID: GroupRestore, Title: "Restore Commands:"},
		&cobra.Group{ID: GroupOther, Title: "Other Commands:"},
	)
	root.SetHelpCommandGroupID(GroupOther)
	root.SetCompletionCommandGroupID(GroupOther)

	add := func(group string, c *cobra.Command) {
		c.GroupID = group
		root.AddCommand(c)
	}

	// Cluster: create, list, delete, s3, rotate-certs, update, psql.
	add(GroupCluster, createcmd.NewCmd(deps))
	add(GroupCluster, listcmd.NewCmd(deps))
	add(GroupCluster, deletecmd.NewCmd(deps))
	add(GroupCluster, s3.NewCmd(deps))
	add(GroupCluster, rotatecerts.NewCmd(deps))
	add(GroupCluster, updatecmd.NewCmd(deps))
	add(GroupCluster, psqlcmd.NewCmd(deps))

	// Backup: backup, info, check.
	add(GroupBackup, backupcmd.NewCmd(deps))
	add(GroupBackup, info.NewCmd(deps))
	add(GroupBackup, info.NewShowCmd(deps)) // show backup = info
	add(GroupBackup, check.NewCmd(deps))
	add(GroupBackup, expirecmd.NewCmd(deps))
	add(GroupBackup, schedulecmd.NewCmd(deps))
	add(GroupBackup, statuscmd.NewCmd(deps))

	// Restore: restore, promote, retired, cleanup.
	add(GroupRestore, restorecmd.NewCmd(deps))
	add(GroupRestore, promote.NewCmd(deps))
	add(GroupRestore, retired.NewCmd(deps))
	add(GroupRestore, cleanup.NewCmd(deps))

	// Other: version, completion (cobra's), help.
	add(GroupOther, versioncmd.NewCmd(deps))

	return root
}
