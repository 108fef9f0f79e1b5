// Package backup is `kubectl pgbackrest backup`: one pgBackRest backup per repository, run in the
// cluster's repository host pod with live progress.
package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

const example = `  # An incremental backup (a full one when none exists) to the cluster's storage
  kubectl pgbackrest backup mydb

  # A full backup to both repositories, one after the other, starting at once
  kubectl pgbackrest backup mydb --type=full --storage=local,s3 --options="--start-fast"

  # The result as JSON
  kubectl pgbackrest backup mydb -o json`

// Options are the flags of `backup` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Type    string
	Storage string
	Options string
	Output  string
	Verbose bool
	Timeout time.Duration

	Cluster   string
	Namespace string
	storages  []pgbackrest.Storage
	extra     []string
	format    output.Format
	deps      backup.Deps
	holder    string
}

// NewOptions holds every default of `backup`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Type: pgbackrest.BackupIncr, Output: string(output.Table), Timeout: 2 * time.Hour}
}

// NewCmd returns `backup`; f builds clients from the root's ConfigFlags when the command runs.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "backup CLUSTER",
		Short: "Take a pgBackRest backup of a cluster, with live progress",
		Long: `Take a pgBackRest backup in the cluster's repository host pod.

With --storage=local,s3 one backup is taken per repository, one after the other. Progress goes to
stderr (a bar on a terminal, a line every 10 s otherwise); at the end each backup is reported with
its label, type, size, size in the repository, duration and throughput. Only one backup or restore
of a cluster runs at a time (a Lease). --options passes extra pgBackRest backup options, checked
before anything runs. The backup starts at once with an immediate checkpoint (--start-fast);
--options=--no-start-fast waits for PostgreSQL's next scheduled checkpoint instead.

Ctrl-C or --timeout stops waiting, not pgBackRest: the command then says whether the backup still
runs in the pod and how to follow it. A backup is never retried.`,
		Example:           example,
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
	fl.StringVar(&o.Type, "type", o.Type, "backup type: full, diff or incr (pgBackRest takes a full one when none exists)")
	fl.StringVar(&o.Storage, "storage", o.Storage, "repositories to back up to: local, s3 or local,s3 (default: the cluster's storage when it has one, else local)")
	fl.StringVar(&o.Options, "options", o.Options, `extra pgBackRest backup options, e.g. "--start-fast --process-max=4"`)
	fl.StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
	fl.BoolVarP(&o.Verbose, "verbose", "v", o.Verbose, "show pgBackRest's own detail lines")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up waiting after this long (the backup may go on in the pod)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(pgbackrest.BackupTypes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions([]string{"local", "s3", "local,s3"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
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
	o.deps = backup.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut, TTY: output.IsTerminal(o.ErrOut)}
	o.holder = kube.Holder()
	return nil
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	if err := pgbackrest.ValidateBackupType(o.Type); err != nil {
		return exitcode.Usage(err)
	}
	st, err := cmdutil.ParseStorageFlag(o.Storage)
	if err != nil {
		return err
	}
	o.storages = st
	extra, err := pgbackrest.ParseOptions(pgbackrest.Backup, o.Options)
	if err != nil {
		return exitcode.Usage(err)
	}
	o.extra = extra
	format, err := output.ParseFormat(o.Output)
	if err != nil {
		return exitcode.Usage(err)
	}
	o.format = format
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	return nil
}

// Run takes the backups and prints the result.
func (o *Options) Run(ctx context.Context) error {
	res, err := backup.Run(ctx, o.deps, backup.Config{
		Namespace: o.Namespace, Cluster: o.Cluster, Storages: o.storages, Type: o.Type,
		Options: o.extra, Verbose: o.Verbose, Holder: o.holder, Timeout: o.Timeout,
	})
	if res != nil && len(res.Backups) > 0 {
		if perr := output.Print(o.Out, o.format, res); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}
