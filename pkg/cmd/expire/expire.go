// Package expire is `kubectl pgbackrest expire`: pgBackRest's expire, applying the cluster's
// retention (or removing one set), announced before it runs.
package expire

import (
	"context"
	"fmt"
	"strings"
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

// Options are the flags of `expire` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Storage string
	Set     string
	DryRun  bool
	Output  string
	Timeout time.Duration

	Cluster   string
	Namespace string
	storages  []pgbackrest.Storage
	format    output.Format
	holder    string
	deps      backup.Deps
}

// NewOptions holds every default of `expire`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Output: string(output.Table), Timeout: time.Hour}
}

// NewCmd returns `expire`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "expire CLUSTER",
		Short: "Remove the backups and WAL that the retention no longer keeps",
		Long: `Run pgBackRest's expire in the repository host pod. Every backup already ends with one, so this
is for a retention just lowered (kubectl pgbackrest update --retention-full), or to remove one set
with --set. Before anything goes, expire prints which backup sets and which WAL go from each
repository and what the recoverable window becomes; --dry-run stops there.

An expire that would leave a repository without a full backup is refused: every differential
and incremental builds on a full, so the repository could restore nothing. It is refused too
while a restore is recorded on the cluster, and it holds the cluster's Lease, so no backup or
restore runs beside it.`,
		Example: `  # What the retention in force would remove, and the window after
  kubectl pgbackrest expire mydb --dry-run

  # Apply it to the S3 repository only
  kubectl pgbackrest expire mydb --storage=s3

  # Remove one backup set (and the sets that build on it) from the local repository
  kubectl pgbackrest expire mydb --storage=local --set=20261201-010000F`,
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
	fl.StringVar(&o.Storage, "storage", o.Storage, "repositories to expire: local, s3 or local,s3 (default: all of the cluster's)")
	fl.StringVar(&o.Set, "set", o.Set, "expire this backup set (and the sets that depend on it) instead of applying the retention")
	fl.BoolVar(&o.DryRun, "dry-run", o.DryRun, "print what would be removed and the recoverable window after, change nothing")
	fl.StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
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
	o.deps = backup.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut}
	o.holder = kube.Holder()
	return nil
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	st, err := cmdutil.ParseStorageFlag(o.Storage)
	if err != nil {
		return err
	}
	o.storages = st
	if o.format, err = output.ParseFormat(o.Output); err != nil {
		return err
	}
	if o.Set != "" && !pgbackrest.ValidLabel(o.Set) {
		return exitcode.Usage(fmt.Errorf("invalid --set %q: give a backup label as `kubectl pgbackrest info` lists it, e.g. 20261201-010000F", o.Set))
	}
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	return nil
}

// Run plans, prints the plan, and unless --dry-run expires.
func (o *Options) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	res, err := backup.Expire(ctx, o.deps, backup.ExpireConfig{
		Namespace: o.Namespace, Cluster: o.Cluster, Storages: o.storages, Set: o.Set, DryRun: o.DryRun, Holder: o.holder,
	})
	if res == nil {
		return err
	}
	if perr := output.Print(o.Out, o.format, (*result)(res)); perr != nil && err == nil {
		err = perr
	}
	return err
}

// result prints an ExpireResult as a table: one row per repository.
type result backup.ExpireResult

// Table implements output.Tabler.
func (r *result) Table() ([]string, [][]string) {
	verb := "expired"
	if r.DryRun {
		verb = "would expire"
	}
	headers := []string{"storage", verb, "wal removed before", "kept", "window before", "window after"}
	rows := make([][]string, 0, len(r.Repositories))
	for _, p := range r.Repositories {
		gone := p.Expire
		if !r.DryRun {
			gone = r.Expired[p.Storage]
		}
		rows = append(rows, []string{backup.RepoName(p.Storage), orNone(strings.Join(gone, " ")), orNone(p.WALBefore),
			fmt.Sprint(len(p.Keep)), backup.DescribeWindow(p.WindowBefore), backup.DescribeWindow(p.WindowAfter)})
	}
	return headers, rows
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
