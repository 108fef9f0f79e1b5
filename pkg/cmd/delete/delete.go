// Package deletecmd is `kubectl pgbackrest delete CLUSTER`. (The package is not called delete so
// that Go's builtin stays usable.)
package deletecmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Dry-run modes.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
)

// ErrNoCluster is wrapped when the cluster's ConfigMap does not exist but objects of its names
// do, and --force is not given.
var ErrNoCluster = errors.New("no cluster of that name")

// ErrNeedsConfirmation is wrapped when --delete-data is given without --yes and no terminal to
// ask on.
var ErrNeedsConfirmation = errors.New("--delete-data needs confirmation")

// Options of `delete`.
type Options struct {
	genericiooptions.IOStreams
	Name       string
	DeleteData bool
	Yes        bool
	// Force deletes the objects labelled as the cluster's when its ConfigMap is gone.
	Force   bool
	DryRun  string
	Timeout time.Duration

	// Completed: the edges, replaced in tests.
	Namespace string
	Client    kubernetes.Interface
	// StdinIsTerminal says whether the cluster name can be asked for.
	StdinIsTerminal func() bool
	Color           *output.Color
}

// NewOptions holds every default of `delete`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		IOStreams:       streams,
		DryRun:          DryRunNone,
		Timeout:         5 * time.Minute,
		StdinIsTerminal: func() bool { return isTerminal(streams.In) },
		Color:           output.NewColor(false),
	}
}

// isTerminal says whether r is a terminal. (/dev/null is a character device too, so a mode check
// is not enough.)
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && output.IsTerminal(f)
}

// NewCmd wires `delete`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "delete CLUSTER [--delete-data [--yes]]",
		Short: "Delete a cluster's pods, Services, configuration and TLS Secret; keep its volumes unless --delete-data",
		Long: `Delete a cluster: its Deployments (the primary first, so PostgreSQL stops before the
repository host it archives to), backup schedules (CronJobs, their Jobs, ServiceAccount, Role and
RoleBinding), Services, NetworkPolicies, restore Jobs, Lease, TLS Secret and
ConfigMap.
Its PersistentVolumeClaims (the data and the local repository) are kept and listed, unless
--delete-data, which asks you to type the cluster name (or takes --yes). The namespace's S3 Secret
is shared and never deleted; backups in S3 stay in the bucket. So does an encrypted cluster's
passphrase Secret CLUSTER-pgbackrest-cipher: without it those backups can never be read.

Only the cluster's own objects are deleted: an object of one of its names that is not labelled as
the cluster's (app.kubernetes.io/managed-by=kubectl-pgbackrest, app.kubernetes.io/instance=CLUSTER)
belongs to someone else, and is kept and listed. Each delete is conditional on the UID of the
object that was checked. Without the cluster's ConfigMap, delete refuses (exit status 2) unless
--force, which deletes only what is labelled as the cluster's (the PVCs a finished delete kept need
no --force: delete them with --delete-data).

Deleting is idempotent: run it again to finish a delete that stopped.`,
		Example: `  kubectl pgbackrest delete pg1
  kubectl pgbackrest delete pg1 --delete-data --yes
  kubectl pgbackrest delete pg1 --dry-run=client`,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			if err := o.Complete(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DeleteData, "delete-data", o.DeleteData, "Also delete the PVCs: the PostgreSQL data and the local repository (its backups)")
	f.BoolVarP(&o.Yes, "yes", "y", o.Yes, "Do not ask for confirmation of --delete-data")
	f.BoolVar(&o.Force, "force", o.Force, "Delete what is labelled as the cluster's even when its ConfigMap is gone (other objects of its names are never deleted)")
	f.StringVar(&o.DryRun, "dry-run", o.DryRun, "none, or client (say what would be deleted, delete nothing)")
	f.Lookup("dry-run").NoOptDefVal = DryRunClient
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for PostgreSQL to stop before the repository host is deleted")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{DryRunNone, DryRunClient}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags without the cluster.
func (o *Options) Validate() error {
	var errs []error
	if err := cluster.ValidateName(o.Name); err != nil {
		errs = append(errs, err)
	}
	if o.DryRun != DryRunNone && o.DryRun != DryRunClient {
		errs = append(errs, fmt.Errorf("invalid --dry-run %q: use none or client", o.DryRun))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid --timeout %s: give a positive duration, e.g. 5m", o.Timeout))
	}
	return errors.Join(errs...)
}

// Complete builds the client.
func (o *Options) Complete(deps *cmdutil.Deps) error {
	o.Color = deps.Color
	ns, _, err := deps.Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	o.Client, err = deps.Clientset()
	return err
}

// object is one thing delete removes or keeps: one that was checked and is the cluster's.
type object struct {
	kube.Owned
	note string // why kept, for people
}

func (x object) ref() string { return x.Ref.String() }

// Report says what was deleted and what was kept.
type Report struct {
	Deleted []string
	Kept    []string
}

// Run deletes the cluster.
func (o *Options) Run(ctx context.Context) error {
	ns, name := o.Namespace, o.Name
	spec, cm, err := cluster.Get(ctx, o.Client, ns, name)
	if errors.Is(err, cluster.ErrNotOurs) {
		return cmdutil.Usage(fmt.Errorf("refusing to delete cluster %s: %w", name, err))
	}
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return kube.Explain(err, "get", "configmaps", ns)
	}
	// Deleting the Deployments and Services under a half-done restore leaves neither the old
	// cluster nor the restored one; finish or abandon the restore first.
	if err := cluster.CheckNoRestore(cm, "delete"); err != nil {
		return cmdutil.Usage(err)
	}
	found, foreign, err := o.find(ctx)
	if err != nil {
		return err
	}
	pvcs, foreignPVCs, err := o.findPVCs(ctx, spec)
	if err != nil {
		return err
	}
	foreign = append(foreign, foreignPVCs...)
	if spec == nil && len(found) == 0 && len(pvcs) == 0 && len(foreign) == 0 {
		// Nothing of that name: already deleted (delete is idempotent), or a typo, so say which
		// clusters exist.
		_, _, err := cluster.Get(ctx, o.Client, ns, name)
		fmt.Fprintf(o.ErrOut, "Nothing to delete: %v\n", err)
		return nil
	}
	// Without the ConfigMap, a delete that finished (it deletes the ConfigMap last) leaves only the
	// kept PVCs, which --delete-data may still delete. Anything else is not what delete leaves: a
	// typo, or someone else's objects; refuse unless --force.
	if spec == nil && !o.Force && len(found)+len(foreign) > 0 {
		return cmdutil.Usage(o.noCluster(found, pvcs, foreign))
	}
	if o.DeleteData && len(pvcs) > 0 && o.DryRun == DryRunNone && !o.Yes {
		if err := o.confirm(); err != nil {
			return err
		}
	}
	dry := o.DryRun == DryRunClient
	suffix := ""
	if dry {
		suffix = " (dry run)"
	}
	var rep Report
	n := cluster.Names{Cluster: name}
	for _, x := range found {
		if !dry {
			if err := o.delete(ctx, x); err != nil {
				return o.partial(rep, err)
			}
			if x.Kind == "Deployment" && x.Name == n.Primary() {
				// PostgreSQL must stop (and archive its last WAL) before the repository host's TLS
				// server goes: otherwise its shutdown waits on an archiver retrying a dead server.
				fmt.Fprintf(o.ErrOut, "waiting for PostgreSQL to stop...\n")
				waiter := kube.Waiter{Client: o.Client, Progress: kube.ProgressTo(o.ErrOut)}
				if err := waiter.PodsGone(ctx, ns, cluster.SelectorString(name, cluster.RolePrimary), o.Timeout); err != nil {
					return o.partial(rep, fmt.Errorf("waiting for the primary's pods to stop: %w", err))
				}
			}
		}
		rep.Deleted = append(rep.Deleted, x.ref())
	}
	for _, x := range pvcs {
		if !o.DeleteData {
			rep.Kept = append(rep.Kept, x.ref()+" ("+x.note+")")
			continue
		}
		if !dry {
			if err := o.delete(ctx, x); err != nil {
				return o.partial(rep, err)
			}
		}
		rep.Deleted = append(rep.Deleted, x.ref())
	}
	for _, f := range foreign {
		rep.Kept = append(rep.Kept, foreignNote(f, name))
	}
	if spec != nil && spec.Has(pgbackrest.S3) {
		rep.Kept = append(rep.Kept, fmt.Sprintf("secret/%s (S3 settings shared by the namespace's clusters; the backups stay in s3://%s%s)",
			spec.S3Secret, spec.S3.Bucket, spec.Repo2Path))
	}
	for _, d := range rep.Deleted {
		fmt.Fprintf(o.Out, "%s deleted%s\n", d, suffix)
	}
	for _, k := range rep.Kept {
		fmt.Fprintf(o.Out, "%s kept\n", k)
	}
	if len(rep.Deleted) == 0 {
		fmt.Fprintf(o.Out, "cluster %s: nothing left to delete in namespace %s\n", name, ns)
	}
	if !o.DeleteData && len(pvcs) > 0 {
		fmt.Fprintf(o.ErrOut, "The volumes were kept: delete them with `kubectl pgbackrest delete %s --delete-data -n %s`.\n", name, ns)
	}
	if len(foreign) > 0 {
		fmt.Fprintf(o.ErrOut, "Objects of the cluster's names that are not labelled as its were kept: they belong to someone else.\n")
	}
	return nil
}

// foreignNote is the "kept" line of an object of the cluster's names that is not its own.
func foreignNote(err error, name string) string {
	var f *kube.ForeignError
	if errors.As(err, &f) {
		return fmt.Sprintf("%s (not cluster %s's: %s)", f.Ref, name, f.Reason())
	}
	return err.Error()
}

// noCluster is the refusal of a delete whose cluster ConfigMap is gone: it lists what --force
// would delete and what is never deleted.
func (o *Options) noCluster(found, pvcs []object, foreign []error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s has no ConfigMap %s in namespace %s, so nothing was deleted",
		o.Name, cluster.Names{Cluster: o.Name}.ConfigMap(), o.Namespace)
	for _, x := range found {
		fmt.Fprintf(&b, "\n  %s: labelled as cluster %s's; --force deletes it", x.ref(), o.Name)
	}
	for _, x := range pvcs {
		fmt.Fprintf(&b, "\n  %s: labelled as cluster %s's; kept unless --delete-data", x.ref(), o.Name)
	}
	for _, f := range foreign {
		fmt.Fprintf(&b, "\n  %s: never deleted", foreignNote(f, o.Name))
	}
	if len(found)+len(pvcs) > 0 {
		fmt.Fprintf(&b, "\nto delete what is labelled as cluster %s's, run `kubectl pgbackrest delete %s -n %s --force`", o.Name, o.Name, o.Namespace)
	} else {
		fmt.Fprintf(&b, "\nnone of these objects is the plugin's: there is nothing to delete; check the name with `kubectl pgbackrest list -n %s`", o.Namespace)
	}
	return fmt.Errorf("%w: %s", ErrNoCluster, b.String())
}

// partial reports what was deleted before err, so a person knows where it stopped.
func (o *Options) partial(rep Report, err error) error {
	for _, d := range rep.Deleted {
		fmt.Fprintf(o.Out, "%s deleted\n", d)
	}
	return fmt.Errorf("deleting cluster %s: %w; run the same command again to finish", o.Name, err)
}

// delete deletes x if its UID is still the one checked (kube.Delete).
func (o *Options) delete(ctx context.Context, x object) error {
	return kube.Delete(ctx, o.Client, x.Ref, x.UID, metav1.DeletePropagationBackground)
}

// find returns the cluster's objects that exist, in delete order: the primary first, then the
// repository host, restore Jobs, Services, NetworkPolicies, the Lease, the TLS Secret and last the ConfigMap (the
// cluster's identity, so a delete that stopped can be found and finished). Objects of those names
// that are not the cluster's are returned apart (*kube.ForeignError), never to be deleted.
func (o *Options) find(ctx context.Context) ([]object, []error, error) {
	ns := o.Namespace
	n := cluster.Names{Cluster: o.Name}
	// The schedules' ServiceAccount, Role and RoleBinding (docs/schedules.md) go with the cluster.
	// The ConfigMap stays last.
	refs := n.Refs(ns)
	refs = append(refs[:len(refs)-1:len(refs)-1], kube.Ref{Kind: "RoleBinding", Namespace: ns, Name: n.ScheduleServiceAccount()},
		kube.Ref{Kind: "Role", Namespace: ns, Name: n.ScheduleServiceAccount()},
		kube.Ref{Kind: "ServiceAccount", Namespace: ns, Name: n.ScheduleServiceAccount()}, refs[len(refs)-1])
	ours, foreign, err := kube.CheckOwned(ctx, o.Client, refs, cluster.Owner(o.Name))
	if err != nil {
		return nil, nil, err
	}
	var out []object
	// The schedules first, so that no scheduled backup starts while the cluster goes.
	cjs, err := o.Client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ScheduleSelector(o.Name)})
	if err != nil {
		return nil, nil, kube.Explain(fmt.Errorf("listing the schedules of cluster %s: %w", o.Name, err), "list", "cronjobs", ns)
	}
	for _, cj := range cjs.Items {
		out = append(out, object{Owned: kube.Owned{Ref: kube.Ref{Kind: "CronJob", Namespace: ns, Name: cj.Name}, UID: cj.UID}})
	}
	for _, x := range ours {
		if x.Kind == "Deployment" {
			out = append(out, object{Owned: x})
		}
	}
	sel := labels.Set(cluster.Owner(o.Name)).String()
	jobs, err := o.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, nil, kube.Explain(fmt.Errorf("listing the Jobs of cluster %s: %w", o.Name, err), "list", "jobs", ns)
	}
	for _, j := range jobs.Items {
		out = append(out, object{Owned: kube.Owned{Ref: kube.Ref{Kind: "Job", Namespace: ns, Name: j.Name}, UID: j.UID}})
	}
	for _, x := range ours {
		if x.Kind != "Deployment" {
			out = append(out, object{Owned: x})
		}
	}
	return out, foreign, nil
}

// findPVCs returns the cluster's PVCs: those labelled as its own (every data PVC a restore made,
// and the repository) and the spec's live data PVC when it is labelled as the cluster's (else it
// is returned apart, never to be deleted).
func (o *Options) findPVCs(ctx context.Context, spec *cluster.Spec) ([]object, []error, error) {
	ns := o.Namespace
	sel := labels.Set(cluster.Owner(o.Name)).String()
	list, err := o.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, nil, kube.Explain(fmt.Errorf("listing the PVCs of cluster %s: %w", o.Name, err), "list", "persistentvolumeclaims", ns)
	}
	n := cluster.Names{Cluster: o.Name}
	note := func(name string) string {
		switch {
		case name == n.RepoPVC():
			return "local repository: the backups and archived WAL"
		case spec != nil && name != spec.DataPVC:
			return "PostgreSQL data of an earlier restore"
		}
		return "PostgreSQL data"
	}
	var owned []kube.Owned
	for _, p := range list.Items {
		owned = append(owned, kube.Owned{Ref: kube.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: p.Name}, UID: p.UID})
	}
	var foreign []error
	if spec != nil && !slices.ContainsFunc(owned, func(x kube.Owned) bool { return x.Name == spec.DataPVC }) {
		ref := kube.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: spec.DataPVC}
		ours, f, err := kube.CheckOwned(ctx, o.Client, []kube.Ref{ref}, cluster.Owner(o.Name))
		if err != nil {
			return nil, nil, err
		}
		owned, foreign = append(owned, ours...), f
	}
	slices.SortFunc(owned, func(a, b kube.Owned) int { return strings.Compare(a.Name, b.Name) })
	out := make([]object, 0, len(owned))
	for _, x := range owned {
		out = append(out, object{Owned: x, note: note(x.Name)})
	}
	return out, foreign, nil
}

// confirm asks for the cluster name on a terminal; elsewhere --yes is required.
func (o *Options) confirm() error {
	if !o.StdinIsTerminal() {
		return cmdutil.Usage(fmt.Errorf("%w: stdin is not a terminal, so the cluster name cannot be asked for; "+
			"pass --yes to delete the volumes of cluster %s (its data and local backups)", ErrNeedsConfirmation, o.Name))
	}
	fmt.Fprintf(o.ErrOut, "This deletes the PostgreSQL data and the local backups of cluster %s in namespace %s.\n"+
		"Type the cluster name to confirm: ", o.Name, o.Namespace)
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && line == "" {
		return cmdutil.Usage(fmt.Errorf("%w: no answer; nothing was deleted", ErrNeedsConfirmation))
	}
	if strings.TrimSpace(line) != o.Name {
		return cmdutil.Usage(fmt.Errorf("%w: %q is not %q; nothing was deleted", ErrNeedsConfirmation, strings.TrimSpace(line), o.Name))
	}
	return nil
}
