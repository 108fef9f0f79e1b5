// Package list is `kubectl pgbackrest list`.
package list

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/rotate"
)

// Primary states.
const (
	PrimaryReady    = "ready"
	PrimaryNotReady = "not ready"
	PrimaryMissing  = "missing"
)

// Cluster is one row of `list`. Its json names are a stable interface: add fields, never rename.
type Cluster struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Storage   []string `json:"storage"`
	// PGVersion is the PostgreSQL major the cluster runs (fixed at create).
	PGVersion int    `json:"pgVersion"`
	Image     string `json:"image"`
	// PinnedImage is what every pod runs: the repository of Image at the digest create (or update)
	// pinned; "" before the pin.
	PinnedImage string `json:"pinnedImage"`
	DataPVC     string `json:"dataPVC"`
	// Primary is "ready", "not ready" or "missing" (no Deployment).
	Primary string `json:"primary"`
	// Created is false while a create has not finished (it writes its marker last).
	Created bool `json:"created"`
	// CreationTimestamp is when the cluster ConfigMap was made.
	CreationTimestamp time.Time `json:"creationTimestamp"`
	// CertificatesNotAfter is when the first of the cluster's pgBackRest TLS certificates expires;
	// nil when its Secret could not be read (it is missing, or listing Secrets is not allowed).
	CertificatesNotAfter *time.Time `json:"certificatesNotAfter"`

	certs *rotate.CertStatus
}

// Result is what `list` prints.
type Result struct {
	Clusters []Cluster `json:"clusters"`

	wide, allNamespaces bool
	now                 time.Time
}

// Table implements output.Tabler.
func (r *Result) Table() ([]string, [][]string) {
	var headers []string
	if r.allNamespaces {
		headers = append(headers, "NAMESPACE")
	}
	headers = append(headers, "NAME", "STORAGE", "POSTGRES", "PRIMARY", "AGE")
	if r.wide {
		headers = append(headers, "IMAGE", "DIGEST", "DATA PVC", "CERTS EXPIRE")
	}
	rows := make([][]string, 0, len(r.Clusters))
	for _, c := range r.Clusters {
		var row []string
		if r.allNamespaces {
			row = append(row, c.Namespace)
		}
		primary := c.Primary
		if !c.Created {
			primary += " (creating)"
		}
		row = append(row, c.Name, strings.Join(c.Storage, ","), strconv.Itoa(c.PGVersion), primary,
			duration.HumanDuration(r.now.Sub(c.CreationTimestamp)))
		if r.wide {
			expire := "-"
			if c.CertificatesNotAfter != nil {
				expire = c.CertificatesNotAfter.Format(time.DateOnly)
			}
			digest := "-"
			if d := cluster.ImageRefDigest(c.PinnedImage); d != "" {
				digest = d[:len("sha256:")+12] // as `crictl images` shortens it; -o json has it all
			}
			row = append(row, c.Image, digest, c.DataPVC, expire)
		}
		rows = append(rows, row)
	}
	return headers, rows
}

// Options of `list`.
type Options struct {
	genericiooptions.IOStreams
	AllNamespaces bool
	Output        string

	format output.Format
	wide   bool

	// Completed.
	Namespace string
	Client    kubernetes.Interface
	Now       func() time.Time
	Color     *output.Color
}

// NewOptions holds every default of `list`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Now: time.Now, Color: output.NewColor(false)}
}

// NewCmd wires `list`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:     "list [-A] [-o wide|json|yaml]",
		Aliases: []string{"ls"},
		Short:   "List the clusters: storage, primary readiness, age",
		Example: `  kubectl pgbackrest list
  kubectl pgbackrest list -A -o wide
  kubectl pgbackrest list -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			if err := o.Complete(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "List the clusters of every namespace")
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "Output format: wide, json or yaml (default: table)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"wide", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks -o.
func (o *Options) Validate() error {
	o.wide = o.Output == "wide"
	if o.wide {
		o.format = output.Table
		return nil
	}
	f, err := output.ParseFormat(o.Output, output.Table, output.JSON, output.YAML)
	if err != nil {
		return fmt.Errorf("invalid -o/--output %q: use wide, json or yaml", o.Output)
	}
	o.format = f
	return nil
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

// Collect reads the clusters with three List calls: their ConfigMaps, the plugin's Deployments
// and its Secrets (for the certificates' expiry; skipped when not allowed). now dates warnings.
func Collect(ctx context.Context, cs kubernetes.Interface, ns string, now time.Time) ([]Cluster, error) {
	where := "namespace " + ns
	if ns == metav1.NamespaceAll {
		where = "all namespaces"
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ListSelector})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing clusters in %s: %w", where, err), "list", "configmaps", ns)
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelManagedBy + "=" + cluster.ManagedBy})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing Deployments in %s: %w", where, err), "list", "deployments", ns)
	}
	byName := map[string]*appsv1.Deployment{}
	for i := range deps.Items {
		d := &deps.Items[i]
		byName[d.Namespace+"/"+d.Name] = d
	}
	secrets := map[string]*corev1.Secret{}
	secs, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelManagedBy + "=" + cluster.ManagedBy})
	switch {
	case apierrors.IsForbidden(err):
		// The certificates are a warning, not what list is for: without the permission, no column.
	case err != nil:
		return nil, kube.Explain(fmt.Errorf("listing Secrets in %s: %w", where, err), "list", "secrets", ns)
	default:
		for i := range secs.Items {
			s := &secs.Items[i]
			secrets[s.Namespace+"/"+s.Name] = s
		}
	}
	var out []Cluster
	var errs []error
	for i := range cms.Items {
		c, err := fromConfigMap(&cms.Items[i], byName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sec, ok := secrets[c.Namespace+"/"+cluster.Names{Cluster: c.Name}.TLSSecret()]; ok {
			st, err := rotate.CertStatusOf(sec, c.Name, now)
			if err != nil {
				errs = append(errs, err)
			} else {
				c.certs = st
				c.CertificatesNotAfter = &st.NotAfter
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cluster) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, errors.Join(errs...)
}

func fromConfigMap(cm *corev1.ConfigMap, deployments map[string]*appsv1.Deployment) (Cluster, error) {
	spec, err := cluster.Parse(cm.Data[cluster.SpecKey], cm.Namespace)
	if err != nil {
		return Cluster{}, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	c := Cluster{
		Name:              spec.Name,
		Namespace:         cm.Namespace,
		PGVersion:         spec.PGVersion,
		Image:             spec.Image,
		PinnedImage:       pinned(spec),
		DataPVC:           spec.DataPVC,
		Primary:           PrimaryMissing,
		CreationTimestamp: cm.CreationTimestamp.UTC(),
	}
	for _, st := range spec.Storages {
		c.Storage = append(c.Storage, string(st))
	}
	_, c.Created = cm.Annotations[create.AnnotationCreatedAt]
	if d, ok := deployments[cm.Namespace+"/"+spec.Names().Primary()]; ok {
		c.Primary = PrimaryNotReady
		if ok, _, _ := kube.DeploymentAvailable(d); ok && d.Status.AvailableReplicas > 0 {
			c.Primary = PrimaryReady
		}
	}
	return c, nil
}

// Run lists the clusters.
func (o *Options) Run(ctx context.Context) error {
	ns := o.Namespace
	if o.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	now := o.Now()
	clusters, err := Collect(ctx, o.Client, ns, now)
	if err != nil {
		if clusters == nil {
			return err
		}
		output.Warn(o.ErrOut, o.Color, "%v", err)
	}
	if clusters == nil {
		clusters = []Cluster{}
	}
	for _, c := range clusters {
		if c.certs != nil {
			for _, w := range c.certs.Warnings {
				output.Warn(o.ErrOut, o.Color, "%s", w)
			}
		}
	}
	if len(clusters) == 0 && o.format == output.Table {
		where := "namespace " + o.Namespace
		if o.AllNamespaces {
			where = "any namespace"
		}
		fmt.Fprintf(o.ErrOut, "No clusters found in %s; create one with `kubectl pgbackrest create NAME`.\n", where)
		return nil
	}
	res := &Result{Clusters: clusters, wide: o.wide, allNamespaces: o.AllNamespaces, now: now}
	return output.Print(o.Out, o.format, res)
}

func pinned(spec *cluster.Spec) string {
	if spec.ImageDigest == "" {
		return ""
	}
	return spec.PodImage()
}
