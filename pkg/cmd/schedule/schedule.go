// Package schedule is `kubectl pgbackrest schedule`: backup schedules, as CronJobs that run the
// plugin's own `backup` in the cluster (docs/schedules.md).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/schedule"
)

// NewCmd returns `schedule` and its subcommands.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	cmd := cmdutil.GroupCommand(&cobra.Command{
		Use:   "schedule",
		Short: "Schedule backups: CronJobs that run kubectl pgbackrest backup in the cluster",
		Long: `Backup schedules are CronJobs that run the plugin's own image in the cluster as
"kubectl-pgbackrest backup CLUSTER --type T --storage S", with a ServiceAccount that may do
only what a backup needs. A scheduled backup takes the same Lease as a manual one, so two
never run at once; restore suspends the schedules while it runs and resumes them after.
One schedule per backup type and storage. See docs/schedules.md.`,
	})
	cmd.AddCommand(newCreateCmd(deps), newListCmd(deps),
		newSetCmd(deps, "suspend", "Suspend a backup schedule (no new runs until resumed)", true),
		newSetCmd(deps, "resume", "Resume a suspended backup schedule", false),
		newDeleteCmd(deps))
	return cmd
}

// dryRunFlag adds --dry-run (none|client) to cmd.
func dryRunFlag(cmd *cobra.Command, v *string, help string) {
	cmd.Flags().StringVar(v, "dry-run", *v, help)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client"}, cobra.ShellCompDirectiveNoFileComp))
}

func parseDryRun(v string) (bool, error) {
	switch v {
	case "", "none":
		return false, nil
	case "client":
		return true, nil
	}
	return false, exitcode.Usage(fmt.Errorf(`invalid --dry-run %q: use "none" or "client"`, v))
}

func typeFlag(cmd *cobra.Command, v *string, help string) {
	cmd.Flags().StringVar(v, "type", *v, help)
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(pgbackrest.BackupTypes, cobra.ShellCompDirectiveNoFileComp))
}

func storageFlag(cmd *cobra.Command, v *string, help string) {
	cmd.Flags().StringVar(v, "storage", *v, help)
	_ = cmd.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions([]string{"local", "s3"}, cobra.ShellCompDirectiveNoFileComp))
}

// parseTypeStorage checks --type and --storage (one storage: a schedule backs up to one repository).
func parseTypeStorage(typ, storage string) (pgbackrest.Storage, error) {
	if typ == "" {
		return "", exitcode.Usage(errors.New("--type is required: full, diff or incr"))
	}
	if err := pgbackrest.ValidateBackupType(typ); err != nil {
		return "", exitcode.Usage(fmt.Errorf("--type: %w", err))
	}
	if storage == "" {
		return "", exitcode.Usage(errors.New("--storage is required: local or s3 (one schedule per repository)"))
	}
	st, err := cmdutil.ParseStorageFlag(storage)
	if err != nil {
		return "", err
	}
	if len(st) != 1 {
		return "", exitcode.Usage(fmt.Errorf("invalid --storage %s: a schedule backs up to one repository; create one schedule per storage", storage))
	}
	return st[0], nil
}

// --- create --------------------------------------------------------------------------------

const createExample = `  # A full backup to the local repository every Sunday at 01:00 (the controller's time zone, usually UTC)
  kubectl pgbackrest schedule create mydb --type full --storage local --schedule "0 1 * * 0"

  # An incremental backup to S3 every day at 01:30, Paris time
  kubectl pgbackrest schedule create mydb --type incr --storage s3 --schedule "30 1 * * 1-6" --time-zone Europe/Paris

  # What would be written, changing nothing
  kubectl pgbackrest schedule create mydb --type diff --storage local --schedule "0 */6 * * *" --dry-run=client`

// CreateOptions are the flags of `schedule create`.
type CreateOptions struct {
	genericiooptions.IOStreams
	Type, Storage, Schedule, TimeZone, Image, DryRun string

	Cluster, Namespace string
	storage            pgbackrest.Storage
	dryRun             bool
	deps               schedule.Deps
}

// NewCreateOptions holds the defaults of `schedule create`.
func NewCreateOptions(streams genericiooptions.IOStreams) *CreateOptions {
	return &CreateOptions{IOStreams: streams, DryRun: "none"}
}

func newCreateCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewCreateOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "create CLUSTER",
		Short: "Create (or change) the schedule of one backup type to one storage",
		Long: `Create a CronJob that takes a backup of --type to --storage on the cron --schedule, with its
ServiceAccount, Role and RoleBinding. Running it again for the same type and storage replaces the
expression and the time zone, and keeps whether the schedule is suspended.

--schedule is five fields: minute hour day-of-month month day-of-week, each *, a value, a range
(1-5), a step (*/15, 0-30/10), a list (1,15) or, for month and day of week, a name (jan, mon); or
@yearly, @monthly, @weekly, @daily, @hourly. --time-zone is an IANA name (Europe/Paris); without it
the schedule runs in the time zone of the cluster's controller manager (usually UTC).`,
		Example:           createExample,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	typeFlag(cmd, &o.Type, "backup type: full, diff or incr")
	storageFlag(cmd, &o.Storage, "the repository to back up to: local or s3 (one the cluster has)")
	fl.StringVar(&o.Schedule, "schedule", o.Schedule, `cron expression, e.g. "0 1 * * 0" (Sundays at 01:00)`)
	fl.StringVar(&o.TimeZone, "time-zone", o.TimeZone, "IANA time zone of --schedule, e.g. Europe/Paris (default: the controller manager's, usually UTC)")
	fl.StringVar(&o.Image, "image", o.Image, "the plugin image the CronJob runs (default "+cluster.PluginImageRepository+":<this plugin's version>, for a mirror; see docs/schedules.md)")
	dryRunFlag(cmd, &o.DryRun, `"client" prints the objects it would write, changing nothing`)
	return cmd
}

// Validate checks the flags; it needs no cluster.
func (o *CreateOptions) Validate() error {
	st, err := parseTypeStorage(o.Type, o.Storage)
	if err != nil {
		return err
	}
	o.storage = st
	if o.Schedule == "" {
		return exitcode.Usage(errors.New(`--schedule is required, e.g. --schedule "0 1 * * 0" (Sundays at 01:00)`))
	}
	if _, err := schedule.ParseCron("--schedule", o.Schedule); err != nil {
		return exitcode.Usage(err)
	}
	if _, err := schedule.ParseTimeZone("--time-zone", o.TimeZone); err != nil {
		return exitcode.Usage(err)
	}
	o.dryRun, err = parseDryRun(o.DryRun)
	return err
}

// Complete builds the client.
func (o *CreateOptions) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	d, ns, err := scheduleDeps(deps, o.ErrOut)
	o.deps, o.Namespace = d, ns
	return err
}

// Run applies the schedule.
func (o *CreateOptions) Run(ctx context.Context) error {
	objs, err := schedule.Create(ctx, o.deps, schedule.CreateConfig{Namespace: o.Namespace, Cluster: o.Cluster,
		Type: o.Type, Storage: o.storage, Cron: o.Schedule, TimeZone: o.TimeZone, Image: o.Image, DryRun: o.dryRun})
	if err != nil {
		return err
	}
	if o.dryRun {
		return printObjects(o, objs)
	}
	name := cluster.Names{Cluster: o.Cluster}.Schedule(o.Type, o.storage)
	fmt.Fprintf(o.Out, "schedule %s: %s backup to %s on %q\n", name, o.Type, o.storage, o.Schedule)
	return nil
}

func printObjects(o *CreateOptions, objs []runtime.Object) error {
	for i, obj := range objs {
		if i > 0 {
			fmt.Fprintln(o.Out, "---")
		}
		if err := output.Print(o.Out, output.YAML, obj); err != nil {
			return err
		}
	}
	return nil
}

func scheduleDeps(deps *cmdutil.Deps, errOut interface{ Write([]byte) (int, error) }) (schedule.Deps, string, error) {
	ns, _, err := deps.Namespace()
	if err != nil {
		return schedule.Deps{}, "", err
	}
	cs, err := deps.Clientset()
	if err != nil {
		return schedule.Deps{}, "", err
	}
	return schedule.Deps{Client: cs, Now: time.Now, ErrOut: errOut}, ns, nil
}

// --- list ----------------------------------------------------------------------------------

// ListOptions are the flags of `schedule list`.
type ListOptions struct {
	genericiooptions.IOStreams
	Output string

	Cluster, Namespace string
	format             output.Format
	deps               schedule.Deps
}

func newListCmd(deps *cmdutil.Deps) *cobra.Command {
	o := &ListOptions{IOStreams: deps.IOStreams, Output: string(output.Table)}
	cmd := &cobra.Command{
		Use:   "list CLUSTER",
		Short: "List a cluster's backup schedules with their last run and the next",
		Long: `List the backup schedules of a cluster: type, storage, cron expression, whether suspended (and
by which restore), the last run with the result and duration of its Job, and the next run.
A failed run's Job is kept (with its pod and log): kubectl logs job/NAME shows why.`,
		Example: `  kubectl pgbackrest schedule list mydb
  kubectl pgbackrest schedule list mydb -o json`,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := output.ParseFormat(o.Output)
			if err != nil {
				return exitcode.Usage(err)
			}
			o.format = f
			o.Cluster = args[0]
			if o.deps, o.Namespace, err = scheduleDeps(deps, o.ErrOut); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Run reads and prints the schedules.
func (o *ListOptions) Run(ctx context.Context) error {
	l, err := schedule.ListSchedules(ctx, o.deps, o.Namespace, o.Cluster)
	if err != nil {
		return err
	}
	if o.format == output.Table && len(l.Schedules) == 0 {
		fmt.Fprintf(o.ErrOut, "cluster %s has no schedules; create one with: kubectl pgbackrest schedule create %s --type full --storage %s --schedule \"0 1 * * 0\"\n",
			o.Cluster, o.Cluster, pgbackrest.Local)
		return nil
	}
	return output.Print(o.Out, o.format, l)
}

// --- suspend, resume, delete ---------------------------------------------------------------

// TargetOptions name one schedule: NAME, or --type and --storage.
type TargetOptions struct {
	genericiooptions.IOStreams
	Type, Storage, DryRun string

	Cluster, Namespace, Name string
	dryRun                   bool
	deps                     schedule.Deps
}

func targetFlags(cmd *cobra.Command, o *TargetOptions) {
	typeFlag(cmd, &o.Type, "the schedule's backup type (with --storage, instead of NAME)")
	storageFlag(cmd, &o.Storage, "the schedule's storage (with --type, instead of NAME)")
	dryRunFlag(cmd, &o.DryRun, `"client" says what would change, changing nothing`)
}

// Validate resolves the schedule's name; it needs no cluster.
func (o *TargetOptions) Validate(args []string) error {
	o.Cluster = args[0]
	var err error
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	if len(args) == 2 {
		if o.Type != "" || o.Storage != "" {
			return exitcode.Usage(errors.New("name the schedule either as NAME or with --type and --storage, not both"))
		}
		o.Name = args[1]
		return nil
	}
	if o.Type == "" && o.Storage == "" {
		return exitcode.Usage(errors.New("name the schedule: NAME (see schedule list) or --type and --storage"))
	}
	st, err := parseTypeStorage(o.Type, o.Storage)
	if err != nil {
		return err
	}
	o.Name = cluster.Names{Cluster: o.Cluster}.Schedule(o.Type, st)
	return nil
}

func newTargetCmd(deps *cmdutil.Deps, use, short, long, example string, run func(context.Context, *TargetOptions) error) *cobra.Command {
	o := &TargetOptions{IOStreams: deps.IOStreams, DryRun: "none"}
	cmd := &cobra.Command{
		Use:               use + " CLUSTER [NAME]",
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              cmdutil.Args(cobra.RangeArgs(1, 2)),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(args); err != nil {
				return err
			}
			var err error
			if o.deps, o.Namespace, err = scheduleDeps(deps, o.ErrOut); err != nil {
				return err
			}
			return run(cmd.Context(), o)
		},
	}
	targetFlags(cmd, o)
	return cmd
}

func newSetCmd(deps *cmdutil.Deps, verb, short string, suspend bool) *cobra.Command {
	long := short + `. Name it as NAME (schedule list shows it) or by --type and --storage.`
	if !suspend {
		long += `
Resuming a schedule that a restore suspended is refused while that restore is unfinished.`
	}
	example := fmt.Sprintf("  kubectl pgbackrest schedule %s mydb mydb-full-local\n  kubectl pgbackrest schedule %s mydb --type full --storage local", verb, verb)
	return newTargetCmd(deps, verb, short, long, example, func(ctx context.Context, o *TargetOptions) error {
		changed, err := schedule.SetSuspend(ctx, o.deps, o.Namespace, o.Cluster, o.Name, suspend, o.dryRun)
		if err != nil {
			return err
		}
		state := map[bool]string{true: "suspended", false: "resumed"}[suspend]
		switch {
		case !changed:
			fmt.Fprintf(o.Out, "schedule %s: already %s\n", o.Name, state)
		case o.dryRun:
			fmt.Fprintf(o.Out, "schedule %s: would be %s (dry run)\n", o.Name, state)
		default:
			fmt.Fprintf(o.Out, "schedule %s: %s\n", o.Name, state)
		}
		return nil
	})
}

func newDeleteCmd(deps *cmdutil.Deps) *cobra.Command {
	return newTargetCmd(deps, "delete", "Delete a backup schedule (its kept Jobs go with it)",
		`Delete a schedule's CronJob and the Jobs and pods it kept. With the cluster's last schedule, its
ServiceAccount, Role and RoleBinding go too. Backups already taken are not touched.`,
		"  kubectl pgbackrest schedule delete mydb mydb-full-local\n  kubectl pgbackrest schedule delete mydb --type incr --storage s3",
		func(ctx context.Context, o *TargetOptions) error {
			if err := schedule.Delete(ctx, o.deps, o.Namespace, o.Cluster, o.Name, o.dryRun); err != nil {
				return err
			}
			if o.dryRun {
				fmt.Fprintf(o.Out, "schedule %s: would be deleted (dry run)\n", o.Name)
			} else {
				fmt.Fprintf(o.Out, "schedule %s: deleted\n", o.Name)
			}
			return nil
		})
}
