// Package update is `kubectl pgbackrest update`: change a running cluster's spec (today its
// image: the minor-upgrade path) and converge its pods onto it.
package update

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/update"
)

const long = `Change a running cluster and move its pods onto the change. With --image, the minor-upgrade
path: a new PostgreSQL minor release or pgBackRest build of the same majors. With --retention-*,
how many backups each repository keeps (docs/retention.md). Both may be given together.

--retention-full N (or local=N,s3=M per repository), --retention-full-type, --retention-diff,
--retention-archive and --retention-archive-type change the retention of the repositories named
(or all); the others keep theirs. The spec records it, repo.conf is rendered again and only the
repository host is rolled onto it: the primary keeps running (its db.conf holds no retention). No
backup is removed now: the update reads the repositories and says what the next expire removes
(pgBackRest expires after every backup, or run "kubectl pgbackrest expire") and what the
recoverable window becomes. The same retention again changes nothing (exit status 0).

Before anything changes, the new image runs once in a probe Job (with the cluster's
--image-pull-secret Secrets): an image that cannot be pulled fails within seconds with the
registry's reason. The probe reports its PostgreSQL major, its pgBackRest version and the digest the
node pulled. The update is refused (exit status 2, nothing changed) for another PostgreSQL major (a
major upgrade is a new cluster restored from this one: "create NEW --from CLUSTER", a later
release), an image without pgBackRest, another pgBackRest major, or a pgBackRest older than the
one that wrote the repository's newest backups.

Then the spec records the image and its digest (every later pod, restore Jobs included, runs that
digest), the repository host and the primary are rolled, and pgBackRest's check proves that WAL
archiving works. The primary restarts once (its Deployment is Recreate: one PostgreSQL at a time
on the data volume). With the same pgBackRest version the pods are rolled one at a time. A new
pgBackRest version must run on both ends of its TLS protocol, so the two are rolled back to back;
until both run it, WAL waits in pg_wal (within the archive backlog bound) and is pushed afterwards.

Only one backup, restore, rotation or update of a cluster runs at a time (a Lease). After Ctrl-C
or a failure, run the same command again: it converges. Refused while a restore is in progress.`

const example = `  # Move mydb to a new build of the same PostgreSQL and pgBackRest majors
  kubectl pgbackrest update mydb --image ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.1

  # Pin an exact digest
  kubectl pgbackrest update mydb --image registry.example.com/pg/postgres@sha256:<digest>

  # What it would do, changing nothing (no probe runs)
  kubectl pgbackrest update mydb --image ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.1 --dry-run=client

  # The result as data
  kubectl pgbackrest update mydb --image ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.1 -o json

  # Keep 4 full backups in every repository; what the next expire would remove, changing nothing
  kubectl pgbackrest update mydb --retention-full 4 --dry-run=client

  # Keep 4 fulls locally and 14 days of fulls in S3
  kubectl pgbackrest update mydb --retention-full local=4,s3=14 --retention-full-type s3=time

  # Give PostgreSQL 2 CPUs and 4Gi (limited to 6Gi): the primary restarts once, and every
  # restore's new primary keeps them
  kubectl pgbackrest update mydb --cpu 2 --memory 4Gi:6Gi`

// Options are the flags of `update` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Image        string
	Retention    cluster.RetentionFlags
	CPU, Memory  string
	DryRun       string
	Output       string
	Timeout      time.Duration
	ProbeTimeout time.Duration

	Cluster   string
	Namespace string
	format    output.Format
	deps      update.Deps
	holder    string
}

// NewOptions holds every default of `update`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, DryRun: "none", Timeout: 20 * time.Minute, ProbeTimeout: update.DefaultProbeTimeout}
}

// NewCmd returns `update`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:               "update CLUSTER",
		Short:             "Change a running cluster (--image: a minor upgrade; --retention-*) and roll its pods onto it",
		Long:              long,
		Example:           example,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Cluster = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Image, "image", o.Image, "The image to move every pod to: the same PostgreSQL major, a pgBackRest of the same major (see docs/image.md)")
	cmdutil.AddRetentionFlags(fl, &o.Retention)
	fl.StringVar(&o.CPU, "cpu", o.CPU, "CPU of the PostgreSQL container, REQUEST[:LIMIT] (e.g. 500m or 1:2): replaces both; rolls the primary")
	fl.StringVar(&o.Memory, "memory", o.Memory, "Memory of the PostgreSQL container, REQUEST[:LIMIT] (e.g. 1Gi or 1Gi:2Gi): replaces both; rolls the primary")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" prints the plan, changing nothing`)
	fl.Lookup("dry-run").NoOptDefVal = "client"
	fl.StringVarP(&o.Output, "output", "o", o.Output, "Print the result as json or yaml")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "Give up after this long (run the command again to resume)")
	fl.DurationVar(&o.ProbeTimeout, "probe-timeout", o.ProbeTimeout, "How long the new image's probe may take (its pull included)")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	var errs []string
	if o.Retention.Given() {
		// The values alone; whether the cluster has each named storage is checked against its spec.
		if _, err := o.Retention.Apply(nil, []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if _, err := o.changes().ApplyResources(cluster.Resources{}); err != nil {
		errs = append(errs, err.Error())
	}
	if o.changes().Empty() {
		errs = append(errs, "nothing to change: give --image REF, --retention-full N (and the other --retention-* flags), --cpu or --memory")
	} else if o.Image != "" && strings.ContainsAny(o.Image, " \t\n") || strings.HasPrefix(o.Image, "-") {
		errs = append(errs, fmt.Sprintf("invalid --image %q: give an image reference, e.g. ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.1", o.Image))
	}
	if o.DryRun != "none" && o.DryRun != "client" {
		errs = append(errs, fmt.Sprintf(`invalid --dry-run %q: use "none" or "client"`, o.DryRun))
	}
	if o.Output != "" && o.Output != "json" && o.Output != "yaml" {
		errs = append(errs, fmt.Sprintf("invalid -o/--output %q: use json or yaml", o.Output))
	}
	o.format = output.Format(o.Output)
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Sprintf("invalid --timeout %s: must be positive", o.Timeout))
	}
	if o.ProbeTimeout <= 0 {
		errs = append(errs, fmt.Sprintf("invalid --probe-timeout %s: must be positive", o.ProbeTimeout))
	}
	if len(errs) > 0 {
		return exitcode.Usage(fmt.Errorf("%s", strings.Join(errs, "; ")))
	}
	return nil
}

// Complete builds the clients and namespace from the root's flags.
func (o *Options) Complete(deps *cmdutil.Deps) error {
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace = c.Namespace
	o.deps = update.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut,
		Reporter: output.NewStepReporter(o.ErrOut, deps.Color)}
	o.holder = kube.Holder()
	return nil
}

func (o *Options) config() update.Config {
	return update.Config{Namespace: o.Namespace, Cluster: o.Cluster, Holder: o.holder, Timeout: o.Timeout,
		ProbeTimeout: o.ProbeTimeout, Changes: o.changes()}
}

func (o *Options) changes() update.Changes {
	return update.Changes{Image: o.Image, Retention: o.Retention, CPU: o.CPU, Memory: o.Memory}
}

// Run updates (or prints the plan) and says what changed.
func (o *Options) Run(ctx context.Context) error {
	if o.DryRun == "client" {
		p, err := update.DryRun(ctx, o.deps, o.config())
		if err != nil {
			return err
		}
		return o.printPlan(p)
	}
	res, err := update.Run(ctx, o.deps, o.config())
	if err != nil {
		return err
	}
	if o.format != "" {
		return output.Print(o.Out, o.format, res)
	}
	if o.Image == "" {
		return o.printSettings(res)
	}
	if !res.Changed {
		_, err = fmt.Fprintf(o.Out, "cluster %s already runs %s (PostgreSQL %d, pgBackRest %s): nothing changed\n",
			o.Cluster, res.To.PinnedImage, res.To.PGMajor, res.To.PGBackRest)
		return err
	}
	rolled := "no pod needed a restart"
	if len(res.Rolled) > 0 {
		rolled = "rolled " + strings.Join(res.Rolled, ", ")
	}
	if _, err = fmt.Fprintf(o.Out, "cluster %s updated to %s (PostgreSQL %d, pgBackRest %s → %s); %s; WAL archiving checked\n",
		o.Cluster, res.To.PinnedImage, res.To.PGMajor, res.From.PGBackRest, res.To.PGBackRest, rolled); err != nil {
		return err
	}
	if len(res.Retention) > 0 {
		_, err = io.WriteString(o.Out, RetentionText(o.Cluster, res.Retention, res.NextExpire))
	}
	if err == nil && res.Resources != nil {
		_, err = io.WriteString(o.Out, ResourcesText(*res.Resources))
	}
	return err
}

// printSettings says what an update of the retention or the resources did, and what the next
// expire removes.
func (o *Options) printSettings(res *update.Result) error {
	var what []string
	if len(res.Retention) > 0 {
		what = append(what, "retention")
	}
	if res.Resources != nil {
		what = append(what, "resources")
	}
	head := fmt.Sprintf("cluster %s: %s updated; rolled %s\n", o.Cluster, strings.Join(what, " and "), strings.Join(res.Rolled, ", "))
	if !res.Changed {
		head = fmt.Sprintf("cluster %s already has this %s: nothing changed\n", o.Cluster, strings.Join(what, " and "))
	} else if len(res.Rolled) == 0 {
		head = fmt.Sprintf("cluster %s: %s updated (the pods already ran it)\n", o.Cluster, strings.Join(what, " and "))
	}
	text := head + RetentionText(o.Cluster, res.Retention, res.NextExpire)
	if res.Resources != nil {
		text += ResourcesText(*res.Resources)
	}
	_, err := io.WriteString(o.Out, text)
	return err
}

// ResourcesText is the primary's resources, from → to.
func ResourcesText(c update.ResourcesChange) string {
	from, to := update.DescribeResources(c.From), update.DescribeResources(c.To)
	if from == to {
		return "primary: " + to + " (unchanged)\n"
	}
	return "primary: " + from + " → " + to + "\n"
}

// RetentionText is each repository's retention (from → to) and what its next expire removes.
func RetentionText(clusterName string, changes map[pgbackrest.Storage]update.RetentionChange, plans []pgbackrest.ExpirePlan) string {
	var b strings.Builder
	for _, st := range slices.Sorted(maps.Keys(changes)) {
		c := changes[st]
		from, to := update.RetentionString(c.From), update.RetentionString(c.To)
		if from == to {
			fmt.Fprintf(&b, "%s: retention %s (unchanged)\n", st, to)
		} else {
			fmt.Fprintf(&b, "%s: retention %s → %s\n", st, from, to)
		}
	}
	for _, p := range plans {
		fmt.Fprintf(&b, "%s: the next expire (after the next backup to %s, or `kubectl pgbackrest expire %s`) ", p.Storage, p.Storage, clusterName)
		if len(p.Expire) == 0 {
			b.WriteString("removes nothing")
		} else {
			b.WriteString("removes " + expireList(p.Expire))
		}
		if p.WindowAfter != nil {
			fmt.Fprintf(&b, "; the recoverable window becomes %s → %s", p.WindowAfter.From.UTC().Format(time.RFC3339), windowEnd(p.WindowAfter))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// expireList is "F1", or "F1 (and 2 diff/incr sets)" when differential or incremental sets go too
// (those built on F1, or beyond --retention-diff).
func expireList(labels []string) string {
	var fulls []string
	others := 0
	for _, l := range labels {
		if strings.HasSuffix(l, "F") {
			fulls = append(fulls, l)
		} else {
			others++
		}
	}
	if len(fulls) == 0 {
		return strings.Join(labels, ", ")
	}
	s := strings.Join(fulls, ", ")
	switch {
	case others == 1:
		s += " (and 1 diff/incr set)"
	case others > 1:
		s += fmt.Sprintf(" (and %d diff/incr sets)", others)
	}
	return s
}

func windowEnd(w *pgbackrest.RecoveryWindow) string {
	if w.ToWAL != "" {
		return "WAL " + w.ToWAL + " (at least " + w.AtLeastUntil.UTC().Format(time.RFC3339) + ")"
	}
	return w.AtLeastUntil.UTC().Format(time.RFC3339)
}

func (o *Options) printPlan(p *update.Plan) error {
	var b strings.Builder
	from := p.From.Image
	if p.From.PinnedImage != "" {
		from = p.From.PinnedImage
	}
	if p.Image != "" {
		fmt.Fprintf(&b, "cluster %s (PostgreSQL %d) runs %s; it would move to %s\n", p.Cluster, p.From.PGMajor, from, p.Image)
	}
	if len(p.Retention) > 0 {
		b.WriteString(RetentionText(p.Cluster, p.Retention, p.NextExpire))
	}
	if p.Resources != nil {
		b.WriteString(ResourcesText(*p.Resources))
	}
	b.WriteString("steps (those already done are skipped):\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if _, err := fmt.Fprintf(o.Out, "# %s\n", line); err != nil {
			return err
		}
	}
	return nil
}
