// Package check is `kubectl pgbackrest check`: pgBackRest's check, which proves that WAL archiving
// reaches the cluster's repositories, with a one-line verdict.
package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// ErrCheckFailed is returned when pgBackRest's check fails: archiving does not work.
var ErrCheckFailed = errors.New("archiving check failed")

// Options are the flags of `check` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Storage string
	Timeout time.Duration

	Cluster   string
	Namespace string
	storages  []pgbackrest.Storage
	deps      backup.Deps
	color     *output.Color
}

// NewOptions holds every default of `check`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Timeout: 5 * time.Minute}
}

// NewCmd returns `check`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "check CLUSTER",
		Short: "Check that WAL archiving reaches the cluster's repositories",
		Long: `Run pgBackRest's check in the repository host pod: PostgreSQL switches to a new WAL segment and
the check waits until that segment is in every repository checked. It prints a verdict and exits
non-zero when archiving does not work.`,
		Example: `  # Every repository of the cluster
  kubectl pgbackrest check mydb

  # Only the S3 repository
  kubectl pgbackrest check mydb --storage=s3`,
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
	fl := cmd.Flags()
	fl.StringVar(&o.Storage, "storage", o.Storage, "repositories to check: local, s3 or local,s3 (default: all of the cluster's)")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long")
	return cmd
}

// Complete builds the clients and namespace from the root's flags and takes the cluster name.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace = c.Namespace
	o.color = deps.Color
	o.deps = backup.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut}
	return nil
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	st, err := cmdutil.ParseStorageFlag(o.Storage)
	if err != nil {
		return err
	}
	o.storages = st
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	return nil
}

// Run runs the check and prints its verdict; a failed check is an error (non-zero exit).
func (o *Options) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := backup.Check(ctx, o.deps, backup.CheckConfig{Namespace: o.Namespace, Cluster: o.Cluster, Storages: o.storages})
	if err != nil {
		return err
	}
	cmdutil.WarnCerts(ctx, o.deps.Client, o.ErrOut, o.color, o.Namespace, o.Cluster, o.deps.Now())
	fmt.Fprintln(o.Out, res.Verdict())
	if !res.OK {
		return fmt.Errorf("%w for cluster %s: see the line above; the primary's log (kubectl logs -n %s deploy/%s -c postgres) shows archive-push errors",
			ErrCheckFailed, o.Cluster, o.Namespace, o.Cluster)
	}
	return nil
}
