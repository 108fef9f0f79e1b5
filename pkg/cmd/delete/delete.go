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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// ErrNeedsConfirmation is wrapped when --delete-data is given without --yes and no terminal to
// ask on.
var ErrNeedsConfirmation = errors.New("--delete-data needs confirmation")

// Options of `delete`.
type Options struct {
	genericiooptions.IOStreams
	Name       string
	DeleteData bool
	Yes        bool
	DryRun     string
	Timeout    time.Duration

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
repository host it archives to), Services, restore Jobs, Lease, TLS Secret and ConfigMap.
Its PersistentVolumeClaims (the data and the local repository) are kept and listed, unless
--delete-data, which asks you to type the cluster name (or takes --yes). The namespace's S3 Secret
is shared and never deleted; backups in S3 stay in the bucket. So does an encrypted cluster's
passphrase Secret CLUSTER-pgbackrest-cipher: without it those backups can never be read.

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

// object is one thing delete removes or keeps.
type object struct {
	kind, resource, name string
	note                 string // why kept, for people
	del                  func(context.Context, string, metav1.DeleteOptions) error
}

func (x object) ref() string { return x.kind + "/" + x.name }

// Report says what was deleted and what was kept.
type Report struct {
	Deleted []string
	Kept    []string
}

// Run deletes the cluster.
func (o *Options) Run(ctx context.Context) error {
	ns, name := o.Namespace, o.Name
	spec, cm, err := cluster.Get(ctx, o.Client, ns, name)
	if err != nil && !errors.Is(err, cluster.ErrNotFound) {
		return kube.Explain(err, "get", "configmaps", ns)
	}
	// Deleting the Deployments and Services under a half-done restore leaves neither the old
	// cluster nor the restored one; finish or abandon the restore first.
	if err := cluster.CheckNoRestore(cm, "delete"); err != nil {
		return cmdutil.Usage(err)
	}
	found, err := o.find(ctx)
	if err != nil {
		return err
	}
	pvcs, err := o.findPVCs(ctx, spec)
	if err != nil {
		return err
	}
	if spec == nil && len(found) == 0 && len(pvcs) == 0 {
		// Nothing of that name: already deleted (delete is idempotent), or a typo, so say which
		// clusters exist.
		_, _, err := cluster.Get(ctx, o.Client, ns, name)
		fmt.Fprintf(o.ErrOut, "Nothing to delete: %v\n", err)
		return nil
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
			if x.kind == "deployment" && x.name == n.Primary() {
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
	return nil
}

// partial reports what was deleted before err, so a person knows where it stopped.
func (o *Options) partial(rep Report, err error) error {
	for _, d := range rep.Deleted {
		fmt.Fprintf(o.Out, "%s deleted\n", d)
	}
	return fmt.Errorf("deleting cluster %s: %w; run the same command again to finish", o.Name, err)
}

func (o *Options) delete(ctx context.Context, x object) error {
	bg := metav1.DeletePropagationBackground
	err := x.del(ctx, x.name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return kube.Explain(fmt.Errorf("deleting %s %s/%s: %w", x.kind, o.Namespace, x.name, err), "delete", x.resource, o.Namespace)
}

// find returns the cluster's objects that exist, in delete order: the primary first, then the
// repository host, restore Jobs, Services, the Lease, the TLS Secret and last the ConfigMap (the
// cluster's identity, so a delete that stopped can be found and finished).
func (o *Options) find(ctx context.Context) ([]object, error) {
	ns := o.Namespace
	n := cluster.Names{Cluster: o.Name}
	core, apps, batch, coord := o.Client.CoreV1(), o.Client.AppsV1(), o.Client.BatchV1(), o.Client.CoordinationV1()
	type named struct {
		object
		get func(context.Context) error
	}
	ignore := func(_ any, err error) error { return err }
	get := metav1.GetOptions{}
	deployments := []named{
		{object{kind: "deployment", resource: "deployments", name: n.Primary(), del: apps.Deployments(ns).Delete},
			func(ctx context.Context) error { return ignore(apps.Deployments(ns).Get(ctx, n.Primary(), get)) }},
		{object{kind: "deployment", resource: "deployments", name: n.RepoHost(), del: apps.Deployments(ns).Delete},
			func(ctx context.Context) error { return ignore(apps.Deployments(ns).Get(ctx, n.RepoHost(), get)) }},
	}
	others := []named{
		{object{kind: "service", resource: "services", name: n.Primary(), del: core.Services(ns).Delete},
			func(ctx context.Context) error { return ignore(core.Services(ns).Get(ctx, n.Primary(), get)) }},
		{object{kind: "service", resource: "services", name: n.RepoHost(), del: core.Services(ns).Delete},
			func(ctx context.Context) error { return ignore(core.Services(ns).Get(ctx, n.RepoHost(), get)) }},
		{object{kind: "lease", resource: "leases", name: n.Lease(), del: coord.Leases(ns).Delete},
			func(ctx context.Context) error { return ignore(coord.Leases(ns).Get(ctx, n.Lease(), get)) }},
		{object{kind: "secret", resource: "secrets", name: n.TLSSecret(), del: core.Secrets(ns).Delete},
			func(ctx context.Context) error { return ignore(core.Secrets(ns).Get(ctx, n.TLSSecret(), get)) }},
		{object{kind: "configmap", resource: "configmaps", name: n.ConfigMap(), del: core.ConfigMaps(ns).Delete},
			func(ctx context.Context) error { return ignore(core.ConfigMaps(ns).Get(ctx, n.ConfigMap(), get)) }},
	}
	var out []object
	existing := func(list []named) error {
		for _, c := range list {
			err := c.get(ctx)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return kube.Explain(fmt.Errorf("getting %s %s/%s: %w", c.kind, ns, c.name, err), "get", c.resource, ns)
			}
			out = append(out, c.object)
		}
		return nil
	}
	if err := existing(deployments); err != nil {
		return nil, err
	}
	sel := labels.Set{cluster.LabelInstance: o.Name, cluster.LabelManagedBy: cluster.ManagedBy}.String()
	jobs, err := batch.Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the Jobs of cluster %s: %w", o.Name, err), "list", "jobs", ns)
	}
	for _, j := range jobs.Items {
		out = append(out, object{kind: "job", resource: "jobs", name: j.Name, del: batch.Jobs(ns).Delete})
	}
	if err := existing(others); err != nil {
		return nil, err
	}
	return out, nil
}

// findPVCs returns the cluster's PVCs: those labelled as its own (every data PVC a restore made,
// and the repository) and the spec's live data PVC.
func (o *Options) findPVCs(ctx context.Context, spec *cluster.Spec) ([]object, error) {
	ns := o.Namespace
	pvcs := o.Client.CoreV1().PersistentVolumeClaims(ns)
	sel := labels.Set{cluster.LabelInstance: o.Name, cluster.LabelManagedBy: cluster.ManagedBy}.String()
	list, err := pvcs.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the PVCs of cluster %s: %w", o.Name, err), "list", "persistentvolumeclaims", ns)
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
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	if spec != nil && !slices.Contains(names, spec.DataPVC) {
		if _, err := pvcs.Get(ctx, spec.DataPVC, metav1.GetOptions{}); err == nil {
			names = append(names, spec.DataPVC)
		}
	}
	slices.Sort(names)
	out := make([]object, 0, len(names))
	for _, name := range names {
		out = append(out, object{kind: "persistentvolumeclaim", resource: "persistentvolumeclaims", name: name,
			note: note(name), del: pvcs.Delete})
	}
	return out, nil
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
