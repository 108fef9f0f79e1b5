// Package restore is `kubectl pgbackrest restore`: it takes a cluster back to a point in time from
// one repository, on a new data PVC (the old one is kept), in resumable steps. The workflow is
// pkg/restore; this package parses flags, asks for confirmation and prints.
package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/restore"
)

// ErrNotConfirmed is returned when the user does not confirm the restore.
var ErrNotConfirmed = errors.New("restore not confirmed")

// Options are the flags of `restore` and what Complete and Validate derive from them.
type Options struct {
	genericiooptions.IOStreams

	Storage         string
	TargetTime      string
	TargetLSN       string
	TargetXID       string
	TargetName      string
	TargetImmediate bool
	TargetTimeline  string
	TargetExclusive bool
	TargetAction    string
	Set             string
	NodeLabels      []string
	BackupAfter     bool
	ExtraOptions    string
	Yes             bool
	DryRun          string
	Timeout         time.Duration
	Force           bool
	Abandon         bool
	Again           bool

	// targetActionSet says --target-action was given (its default applies only with a target).
	targetActionSet bool

	Cluster string
	// StdinTTY says stdin is a terminal, so the confirmation can be typed.
	StdinTTY bool

	config restore.Config
	deps   restore.Deps
	color  *output.Color
}

// NewOptions holds every default of `restore`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		IOStreams:    streams,
		TargetAction: pgbackrest.ActionPromote,
		DryRun:       "none",
		Timeout:      restore.DefaultTimeout,
	}
}

// NewCmd returns `restore`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "restore CLUSTER",
		Short: "Restore a cluster to the end of the archive or to a point in time, on a new data volume",
		Long: `Restore a cluster from one of its pgBackRest repositories. The primary is stopped (after its
last WAL is archived), a restore Job fills a new data PVC, and a new primary starts on it and
archives into the same stanza on a new timeline. The old data PVC is never deleted: it is
labelled retired (see "kubectl pgbackrest retired").

Every step is checked against the cluster before it runs, and the restore's progress is kept
on the cluster ConfigMap: if the command fails or is interrupted, run it again with the same
target and it resumes, with the node labels and options it started with. A different target
while a restore is half done is refused; --abandon starts over on another new PVC.

Once a restore has finished, the same command (same storage, target, set, node labels and
options) says there is nothing to do, however long ago it finished; --again restores to that
target once more. The same target with other --node-label or --options is refused with the
flags that differ, so that they are never silently ignored.

Without a --target-* flag the restore replays to the end of the archive, following the latest
timeline. After one point-in-time restore, the rest of the old timeline is reachable only with
--target-timeline: a --target-time at which an older timeline took the writes that the newest
one skipped is refused until --target-timeline says which of them to follow, and with several
timelines the backup set is the newest on the followed timeline's history (the plan lists the
timelines). A target that PostgreSQL cannot reach (a --target-name never created, a time or LSN
past the end of the archive) stops the restore as soon as recovery gives up, with the command to
restore again with another target (--abandon).

Placement: the restore Job and the new primary get the same node selector, the cluster's (from
create's --node-label) or, when --node-label is given here, exactly the labels given, which then
replace the cluster's for good. The Job is the new data volume's first user, so with a
WaitForFirstConsumer StorageClass (the usual cloud default) the volume is provisioned on a node,
and in a zone, where the new primary can run. The repository host is not moved.`,
		Example: `  # To the end of the archive, from the cluster's only repository
  kubectl pgbackrest restore mydb

  # Point in time, from S3
  kubectl pgbackrest restore mydb --storage=s3 --target-time="2026-11-25 10:00:00+00"

  # Stop at the target read-only, look, then promote
  kubectl pgbackrest restore mydb --target-time="2026-11-25T10:00:00Z" --target-action=pause
  kubectl pgbackrest promote mydb

  # Move the cluster to other nodes: the restore Job and the new primary run there
  kubectl pgbackrest restore mydb --node-label topology.kubernetes.io/zone=eu-west-1b --node-label disktype=ssd

  # Show the plan and the objects without changing anything
  kubectl pgbackrest restore mydb --dry-run=client`,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.targetActionSet = cmd.Flags().Changed("target-action")
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
	fl.StringVar(&o.Storage, "storage", o.Storage, "repository to restore from: local or s3 (default: the cluster's only storage, else local)")
	fl.StringVar(&o.TargetTime, "target-time", o.TargetTime, `stop at this time, with its zone: "2026-11-25 10:00:00+00" or RFC 3339`)
	fl.StringVar(&o.TargetLSN, "target-lsn", o.TargetLSN, "stop at this WAL location (0/4B000028)")
	fl.StringVar(&o.TargetXID, "target-xid", o.TargetXID, "stop at this transaction id")
	fl.StringVar(&o.TargetName, "target-name", o.TargetName, "stop at this restore point (pg_create_restore_point)")
	fl.BoolVar(&o.TargetImmediate, "target-immediate", o.TargetImmediate, "stop as soon as the backup is consistent")
	fl.StringVar(&o.TargetTimeline, "target-timeline", o.TargetTimeline, "timeline to follow: current, latest or a number (default: latest)")
	fl.BoolVar(&o.TargetExclusive, "target-exclusive", o.TargetExclusive, "stop just before the target instead of just after it")
	fl.StringVar(&o.TargetAction, "target-action", o.TargetAction, "at the target: promote, or pause read-only until `kubectl pgbackrest promote`")
	fl.StringVar(&o.Set, "set", o.Set, "backup set label to restore (default: pgBackRest picks the newest that can reach the target)")
	fl.StringArrayVar(&o.NodeLabels, "node-label", o.NodeLabels,
		"Run the restore Job and the new primary on nodes with this label, key=value (repeatable; the given labels replace the cluster's node selector; default: the cluster's, as the old primary ran)")
	fl.BoolVar(&o.BackupAfter, "backup-after", o.BackupAfter, "take a full backup once the new primary is out of recovery")
	fl.StringVar(&o.ExtraOptions, "options", o.ExtraOptions, `extra pgBackRest restore options, e.g. "--process-max=4"`)
	fl.BoolVarP(&o.Yes, "yes", "y", o.Yes, "do not ask for confirmation")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" prints the plan and the objects without changing anything`)
	fl.Lookup("dry-run").NoOptDefVal = "client"
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on each wait (restore Job, new primary, end of recovery)")
	fl.BoolVar(&o.Force, "force", o.Force, "go on when the old primary's last WAL cannot be archived (that WAL is then lost)")
	fl.BoolVar(&o.Abandon, "abandon", o.Abandon, "start over when another restore with another target is half done (its PVC is kept)")
	fl.BoolVar(&o.Again, "again", o.Again, "restore again when a restore to this same target has finished (else there is nothing to do)")
	_ = cmd.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions([]string{"local", "s3"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("target-action", cobra.FixedCompletions([]string{pgbackrest.ActionPromote, pgbackrest.ActionPause}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("set", cmdutil.CompleteBackupSet(deps))
	return cmd
}

// Complete takes the cluster name and builds the clients and namespace from the root's flags.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.color = deps.Color
	o.StdinTTY = isTTY(o.In)
	o.config.Namespace = c.Namespace
	o.deps = restore.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut, TTY: output.IsTerminal(o.ErrOut),
		Warn: func(format string, a ...any) { output.Warn(o.ErrOut, deps.Color, format, a...) }}
	return nil
}

func isTTY(r io.Reader) bool {
	w, ok := r.(io.Writer) // an *os.File is both
	return ok && output.IsTerminal(w)
}

// Validate turns the flags into a restore.Config; it needs no cluster.
func (o *Options) Validate() error {
	cfg := restore.Config{Namespace: o.config.Namespace, Cluster: o.Cluster, Set: o.Set, BackupAfter: o.BackupAfter,
		Force: o.Force, Abandon: o.Abandon, Again: o.Again, Timeout: o.Timeout}
	st, err := cmdutil.ParseStorageFlag(o.Storage)
	if err != nil {
		return err
	}
	cfg.Storages = st
	t, err := o.target()
	if err != nil {
		return err
	}
	cfg.Target = t
	sel, err := cluster.ParseNodeLabels(o.NodeLabels)
	if err != nil {
		return exitcode.Usage(err) // its messages name --node-label
	}
	cfg.NodeSelector = sel
	if o.ExtraOptions != "" {
		extra, err := pgbackrest.ParseOptions(pgbackrest.Restore, o.ExtraOptions)
		if err != nil {
			return exitcode.Usage(fmt.Errorf("--options: %w", err))
		}
		cfg.Options = extra
	}
	switch o.DryRun {
	case "none", "client":
	default:
		return exitcode.Usage(fmt.Errorf(`--dry-run %q must be "none" or "client"`, o.DryRun))
	}
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	o.config = cfg
	return nil
}

// target maps the --target-* flags (at most one) onto a pgBackRest target.
func (o *Options) target() (pgbackrest.Target, error) {
	var t pgbackrest.Target
	var given []string
	set := func(flag, typ, value string) {
		given = append(given, "--"+flag)
		t.Type, t.Value = typ, value
	}
	if o.TargetTime != "" {
		set("target-time", pgbackrest.TargetTime, o.TargetTime)
	}
	if o.TargetLSN != "" {
		set("target-lsn", pgbackrest.TargetLSN, o.TargetLSN)
	}
	if o.TargetXID != "" {
		set("target-xid", pgbackrest.TargetXID, o.TargetXID)
	}
	if o.TargetName != "" {
		set("target-name", pgbackrest.TargetName, o.TargetName)
	}
	if o.TargetImmediate {
		set("target-immediate", pgbackrest.TargetImmediate, "")
	}
	if len(given) > 1 {
		return t, exitcode.Usage(fmt.Errorf("%s cannot be combined: give at most one target", strings.Join(given, ", ")))
	}
	t.Timeline = o.TargetTimeline
	t.Exclusive = o.TargetExclusive
	switch {
	case len(given) == 1:
		t.Action = o.TargetAction
	case o.targetActionSet:
		t.Action = o.TargetAction // refused by Validate: the end of the archive always promotes
	}
	if err := t.Validate(); err != nil {
		return t, exitcode.Usage(err) // its messages name the plugin's --target-* flags
	}
	return t, nil
}

// Run prepares the restore (preflight, nothing changed), prints the plan, asks for confirmation
// and runs it.
func (o *Options) Run(ctx context.Context) error {
	r, err := restore.Prepare(ctx, o.deps, o.config)
	if err != nil {
		return err
	}
	if d := r.AlreadyDone; d != nil {
		fmt.Fprintf(o.Out, "restore %s of cluster %s with this target finished at %s: the cluster runs on PVC %s; nothing to do "+
			"(to restore to the same target again, on a new PVC, pass --again)\n", d.ID, o.Cluster, d.At.Format(time.RFC3339), d.PVC)
		return nil
	}
	if o.DryRun == "client" {
		return o.printDryRun(r)
	}
	o.printPlan(o.ErrOut, r)
	if err := o.confirm(); err != nil {
		return err
	}
	res, err := r.Run(ctx, output.NewStepReporter(o.ErrOut, o.color))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "cluster %s restored (restore %s): live data PVC %s; %s is kept and labelled retired\n",
		o.Cluster, res.ID, res.PVC, oldPVC(res.OldPVC, "the old one, "))
	if res.Paused != nil {
		fmt.Fprintf(o.Out, "recovery is paused at the target: the database is read-only; the last replayed transaction committed at %s.\n"+
			"Check the data, then end recovery (a new timeline, writable) with:\n  kubectl pgbackrest promote %s -n %s\n"+
			"or restore again with another target.\n",
			orUnknown(res.Paused.ReplayTimestamp), o.Cluster, o.config.Namespace)
	} else if !o.BackupAfter {
		fmt.Fprintf(o.Out, "take a full backup of the new timeline soon: kubectl pgbackrest backup %s -n %s --type=full\n", o.Cluster, o.config.Namespace)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown time (no transaction replayed)"
	}
	return s
}

func (o *Options) printPlan(w io.Writer, r *restore.Restore) {
	what := "the end of the archive"
	if t := o.config.Target; t.Type != "" && t.Type != pgbackrest.TargetDefault {
		what = t.Type
		if t.Value != "" {
			what += " " + t.Value
		}
		if t.Exclusive {
			what += " (exclusive)"
		}
		what += ", then " + t.Action
	}
	fmt.Fprintf(w, "Restore cluster %s in namespace %s from %s (repo%d) to %s\n", o.Cluster, o.config.Namespace,
		r.Storage, pgbackrest.RepoKey(r.Storage), what)
	if o.Set != "" {
		fmt.Fprintf(w, "  backup set:   %s\n", o.Set)
	}
	if r.ChosenSet != "" {
		fmt.Fprintf(w, "  backup set:   %s (the newest on the history of the timeline followed)\n", r.ChosenSet)
	}
	fmt.Fprintf(w, "  timeline:     %s\n", r.Timeline)
	if len(r.Timelines) > 0 {
		fmt.Fprintf(w, "  timelines:    %s\n", strings.Join(r.Timelines, "\n                "))
	}
	if r.Window != nil {
		fmt.Fprintf(w, "  recoverable:  from %s to the end of the archive (WAL %s)\n", pgbackrest.FormatTargetTime(r.Window.From), r.Window.ToWAL)
	}
	fmt.Fprintf(w, "  data PVC:     %s (new); %s is kept and labelled retired\n", r.PVC, oldPVC(r.OldPVC, ""))
	fmt.Fprintf(w, "  placement:    the restore Job and the new primary %s\n", placement(r.NodeSelector(), !maps.Equal(r.NodeSelector(), r.Spec.NodeSelector)))
	if r.Resumed {
		fmt.Fprintf(w, "  resuming restore %s, started earlier with the same target\n", r.ID)
	}
	if r.Abandoned != "" {
		fmt.Fprintf(w, "  abandoning half-done restore %s (its PVC is kept)\n", r.Abandoned)
	}
	fmt.Fprintf(w, "  PostgreSQL is down from the primary's deletion until the new primary is ready.\n")
	fmt.Fprintf(w, "Steps:\n")
	for i, s := range r.Plan() {
		fmt.Fprintf(w, "  %2d. %s\n", i+1, s)
	}
}

// placement says where the restore Job and the new primary may run; flag says the node selector
// is not the cluster's but --node-label's (this command's, or the resumed restore's first run's).
func placement(sel map[string]string, flag bool) string {
	if len(sel) == 0 {
		return "on any node (the cluster has no node selector)"
	}
	labels := make([]string, 0, len(sel))
	for k, v := range sel {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	from := "the cluster's node selector"
	if flag {
		from = "--node-label, kept for the cluster"
	}
	return fmt.Sprintf("on nodes labelled %s (%s)", strings.Join(labels, ", "), from)
}

func (o *Options) confirm() error {
	if o.Yes {
		return nil
	}
	if !o.StdinTTY {
		return exitcode.Usage(fmt.Errorf("%w: a restore replaces the cluster's data; pass --yes to confirm when not on a terminal", ErrNotConfirmed))
	}
	fmt.Fprintf(o.ErrOut, "Type the cluster name (%s) to restore it: ", o.Cluster)
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("%w: reading the confirmation: %v", ErrNotConfirmed, err)
	}
	if strings.TrimSpace(line) != o.Cluster {
		return fmt.Errorf("%w: %q is not %q; nothing was changed", ErrNotConfirmed, strings.TrimSpace(line), o.Cluster)
	}
	return nil
}

func (o *Options) printDryRun(r *restore.Restore) error {
	var b strings.Builder
	o.printPlan(&b, r)
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintf(o.Out, "# %s\n", line)
	}
	for _, obj := range r.Objects() {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "---\n%s", data)
	}
	return nil
}

// oldPVC names the data PVC a restore replaces; a resume of a restore recorded before the old
// PVC's name was recorded, after the new primary started, no longer knows it.
func oldPVC(name, prefix string) string {
	if name == "" {
		return "the old data PVC"
	}
	if prefix != "" {
		return prefix + name + ","
	}
	return name
}
