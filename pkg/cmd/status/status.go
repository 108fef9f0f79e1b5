// Package status is `kubectl pgbackrest status`: one screen per cluster that says whether it could
// be restored right now, and an exit status a monitoring check can use (0 healthy, 4 unhealthy,
// 1 not readable).
package status

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	st "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/status"
)

const long = `Show whether a cluster could be restored right now: the primary (ready, PostgreSQL version,
timeline, LSN, recovery, data volume and pg_wal), WAL archiving (pg_stat_archiver's last archived and
last failed segment, segments waiting, each repository's queue), each repository (last full, diff and
incr backup with their ages, the oldest, the recoverable window, sizes, retention), the Lease holder,
a restore in progress, the schedules with their last run, and the certificates' expiry.

The exit status is for monitoring: 0 healthy; 4 unhealthy, with the problems listed (archiving
failing or behind more than --max-archive-lag, a repository without a backup or whose newest backup
is older than --max-backup-age, the data volume above 85 %, certificates expiring within 30 days,
no ready primary, a repository that cannot be read); 1 when the status could not be read at all.

--max-backup-age applies to the newest backup of each repository; its default is twice the period
of the repository's full schedule, or 8 days without one.

--all prints one line per cluster of the namespace. -o json and -o yaml print the fields
docs/output.md documents.`

// Options are the flags of `status`.
type Options struct {
	genericiooptions.IOStreams

	All           bool
	Output        string
	MaxArchiveLag time.Duration
	MaxBackupAge  time.Duration
	Timeout       time.Duration

	Cluster   string
	Namespace string
	format    output.Format
	deps      st.Deps
	color     *output.Color
}

// NewOptions holds every default of `status`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Output: string(output.Table), MaxArchiveLag: st.DefaultMaxArchiveLag,
		Timeout: st.DefaultRepoTimeout}
}

// NewCmd returns `status`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "status [CLUSTER | --all]",
		Short: "Show whether a cluster could be restored right now (exit 4 when unhealthy)",
		Long:  long,
		Example: `  # One cluster's screen
  kubectl pgbackrest status mydb

  # Every cluster of the namespace, one line each
  kubectl pgbackrest status --all

  # For a monitoring check: JSON, and a backup older than two days is a problem
  kubectl pgbackrest status mydb -o json --max-backup-age 48h`,
		Args:              cmdutil.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(args); err != nil {
				return err
			}
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.All, "all", o.All, "one line per cluster of the namespace")
	fl.StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
	fl.DurationVar(&o.MaxArchiveLag, "max-archive-lag", o.MaxArchiveLag, "unhealthy when segments wait for archiving longer than this")
	fl.DurationVar(&o.MaxBackupAge, "max-backup-age", o.MaxBackupAge, "unhealthy when a repository's newest backup is older (default: twice its full schedule's period, or 8 days)")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long each repository's pgbackrest info and the primary's read may take")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags and arguments; it needs no cluster.
func (o *Options) Validate(args []string) error {
	switch {
	case o.All && len(args) > 0:
		return exitcode.Usage(fmt.Errorf("give a CLUSTER or --all, not both"))
	case !o.All && len(args) == 0:
		return exitcode.Usage(fmt.Errorf("name a CLUSTER, or give --all for every cluster of the namespace"))
	case o.MaxArchiveLag <= 0:
		return exitcode.Usage(fmt.Errorf("--max-archive-lag %s must be positive (for example 5m)", o.MaxArchiveLag))
	case o.MaxBackupAge < 0:
		return exitcode.Usage(fmt.Errorf("--max-backup-age %s must be positive (for example 192h), or 0 for the default", o.MaxBackupAge))
	case o.Timeout < time.Second:
		return exitcode.Usage(fmt.Errorf("--timeout %s must be at least 1s", o.Timeout))
	}
	f, err := output.ParseFormat(o.Output)
	if err != nil {
		return exitcode.Usage(err)
	}
	o.format = f
	return nil
}

// Complete builds the clients from the root's flags.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	if len(args) > 0 {
		o.Cluster = args[0]
	}
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace, o.color = c.Namespace, deps.Color
	o.deps = st.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now}
	return nil
}

func (o *Options) config(name string) st.Config {
	return st.Config{Namespace: o.Namespace, Cluster: name, RepoTimeout: o.Timeout,
		Limits: st.Limits{MaxArchiveLag: o.MaxArchiveLag, MaxBackupAge: o.MaxBackupAge}}
}

// Run reads the status, prints it and returns an Unhealthy error listing the problems.
func (o *Options) Run(ctx context.Context) error {
	if o.All {
		return o.runAll(ctx)
	}
	s, err := st.Gather(ctx, o.deps, o.config(o.Cluster))
	if err != nil {
		return err
	}
	if o.format != output.Table {
		if err := output.Print(o.Out, o.format, s); err != nil {
			return err
		}
	} else {
		c := o.color
		if !output.IsTerminal(o.Out) {
			c = nil
		}
		st.Render(o.Out, s, c)
	}
	return Unhealthy(s)
}

// Unhealthy is nil for a healthy status, else an error (exit status 4) listing its problems.
func Unhealthy(s *st.Status) error {
	if s.Healthy {
		return nil
	}
	lines := make([]string, len(s.Problems))
	for i, p := range s.Problems {
		lines[i] = "  " + p.Message + "; " + p.Fix
	}
	return exitcode.MarkUnhealthy(fmt.Errorf("cluster %s is unhealthy (%d problems):\n%s", s.Cluster, len(s.Problems), strings.Join(lines, "\n")))
}

// AllResult is what `status --all -o json` prints.
type AllResult struct {
	Clusters []*st.Status `json:"clusters"`
	// Errors are the clusters whose status could not be read, with why.
	Errors []ClusterError `json:"errors"`
}

// ClusterError is a cluster `status --all` could not read.
type ClusterError struct {
	Cluster string `json:"cluster"`
	Error   string `json:"error"`
}

func (o *Options) runAll(ctx context.Context) error {
	specs, lerr := cluster.List(ctx, o.deps.Client, o.Namespace)
	if lerr != nil && len(specs) == 0 {
		return lerr
	}
	res := AllResult{Clusters: make([]*st.Status, len(specs)), Errors: []ClusterError{}}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res.Clusters[i], errs[i] = st.Gather(ctx, o.deps, o.config(sp.Name))
		}()
	}
	wg.Wait()
	var rows [][]string
	clusters := res.Clusters[:0]
	unhealthy := 0
	for i, s := range res.Clusters {
		if errs[i] != nil {
			res.Errors = append(res.Errors, ClusterError{Cluster: specs[i].Name, Error: errs[i].Error()})
			rows = append(rows, []string{specs[i].Name, "unreadable", errs[i].Error()})
			continue
		}
		clusters = append(clusters, s)
		rows = append(rows, st.Line(s))
		if !s.Healthy {
			unhealthy++
		}
	}
	res.Clusters = clusters
	if lerr != nil {
		res.Errors = append(res.Errors, ClusterError{Error: lerr.Error()})
	}
	if o.format != output.Table {
		if err := output.Print(o.Out, o.format, res); err != nil {
			return err
		}
	} else if len(rows) == 0 {
		fmt.Fprintf(o.ErrOut, "no clusters in namespace %s\n", o.Namespace)
	} else if err := output.WriteTable(output.CleanWriter(o.Out), []string{"cluster", "health", "problem"}, rows); err != nil {
		return err
	}
	switch {
	case len(res.Errors) > 0:
		return fmt.Errorf("the status of %d of %d clusters could not be read", len(res.Errors), len(specs))
	case unhealthy > 0:
		return exitcode.MarkUnhealthy(fmt.Errorf("%d of %d clusters are unhealthy: run `kubectl pgbackrest status CLUSTER` for each", unhealthy, len(specs)))
	}
	return nil
}
