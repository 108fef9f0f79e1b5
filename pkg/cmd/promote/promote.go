// Package promote is `kubectl pgbackrest promote`: it ends a recovery that paused at its target
// (restore --target-action=pause), so the restored database becomes writable on a new timeline.
package promote

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/restore"
)

// Options are the flags of `promote`.
type Options struct {
	genericiooptions.IOStreams

	Timeout time.Duration

	Cluster   string
	Namespace string
	deps      restore.Deps
}

// NewOptions holds every default of `promote`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Timeout: 10 * time.Minute}
}

// NewCmd returns `promote`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "promote CLUSTER",
		Short: "End a recovery paused at its target: the database becomes writable",
		Long: `After "kubectl pgbackrest restore --target-action=pause", PostgreSQL stops at the target read-only.
promote runs pg_wal_replay_resume(), waits until PostgreSQL is out of recovery (on a new
timeline) and checks that WAL archiving works. It does nothing when the database is not in
recovery.`,
		Example:           `  kubectl pgbackrest promote mydb`,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "give up waiting for the end of recovery after this long")
	return cmd
}

// Complete takes the cluster name and builds the clients.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace = c.Namespace
	o.deps = restore.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut, TTY: output.IsTerminal(o.ErrOut)}
	return nil
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	return nil
}

// Run promotes and prints the outcome.
func (o *Options) Run(ctx context.Context) error {
	res, err := restore.Promote(ctx, o.deps, o.Namespace, o.Cluster, o.Timeout)
	if err != nil {
		return err
	}
	if res.AlreadyPromoted {
		fmt.Fprintf(o.Out, "cluster %s is not in recovery: nothing to promote\n", o.Cluster)
		return nil
	}
	fmt.Fprintf(o.Out, "cluster %s promoted: writable on a new timeline, WAL archiving checked; take a full backup soon: kubectl pgbackrest backup %s -n %s --type=full\n",
		o.Cluster, o.Cluster, o.Namespace)
	return nil
}
