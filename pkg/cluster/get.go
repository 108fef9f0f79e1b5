package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// ErrNotFound is matched (errors.Is) by every NotFoundError.
var ErrNotFound = errors.New("cluster not found")

// NotFoundError says a cluster does not exist, and which ones do in its namespace.
type NotFoundError struct {
	Name      string
	Namespace string
	// Existing are the clusters in Namespace, sorted.
	Existing []string
	// Listed says Existing is known: listing the namespace's clusters succeeded.
	Listed bool
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("cluster %q not found in namespace %q", e.Name, e.Namespace)
	if !e.Listed {
		return msg + "; list the clusters with `kubectl pgbackrest list`"
	}
	if len(e.Existing) == 0 {
		return msg + ": it has no clusters; create one with `kubectl pgbackrest create NAME`, or choose another namespace with -n"
	}
	return msg + "; clusters there: " + strings.Join(e.Existing, ", ")
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ErrNotOurs says an object with a cluster's name exists but was not made by kubectl-pgbackrest
// (kube.CheckOwner decides).
var ErrNotOurs = kube.ErrNotOurs

// Get reads the spec of cluster name in namespace ns from its ConfigMap, and returns the ConfigMap
// too (its annotations carry restore progress; its resourceVersion guards updates).
func Get(ctx context.Context, cs kubernetes.Interface, ns, name string) (*Spec, *corev1.ConfigMap, error) {
	cmName := Names{Cluster: name}.ConfigMap()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		nf := &NotFoundError{Name: name, Namespace: ns}
		if existing, lerr := clusterNames(ctx, cs, ns); lerr == nil {
			nf.Existing, nf.Listed = existing, true
		}
		return nil, nil, nf
	}
	if err != nil {
		return nil, nil, fmt.Errorf("getting ConfigMap %s/%s of cluster %s: %w", ns, cmName, name, err)
	}
	spec, err := fromConfigMap(cm)
	if err != nil {
		return nil, nil, err
	}
	if spec.Name != name {
		return nil, nil, fmt.Errorf("ConfigMap %s/%s: %s names cluster %q, not %q", ns, cmName, SpecKey, spec.Name, name)
	}
	return spec, cm, nil
}

func fromConfigMap(cm *corev1.ConfigMap) (*Spec, error) {
	if cm.Labels[LabelCluster] != "true" || cm.Labels[LabelManagedBy] != ManagedBy {
		return nil, fmt.Errorf("ConfigMap %s/%s is %w (labels %s=true and %s=%s missing); "+
			"rename your ConfigMap or choose another cluster name", cm.Namespace, cm.Name, ErrNotOurs,
			LabelCluster, LabelManagedBy, ManagedBy)
	}
	data, ok := cm.Data[SpecKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %s", cm.Namespace, cm.Name, SpecKey)
	}
	spec, err := Parse(data, cm.Namespace)
	if err == nil {
		// Builders trust a spec (sizes, names): one edited by hand must fail here, not later.
		err = spec.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w; fix its %s with `kubectl -n %s edit configmap %s`",
			cm.Namespace, cm.Name, err, SpecKey, cm.Namespace, cm.Name)
	}
	return spec, nil
}

// List returns the clusters of namespace ns (all namespaces when ns is ""), sorted by namespace and
// name. A ConfigMap that cannot be read does not hide the others: List returns the clusters it
// could read together with an error naming each one it could not.
func List(ctx context.Context, cs kubernetes.Interface, ns string) ([]*Spec, error) {
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: ListSelector})
	if err != nil {
		where := "namespace " + ns
		if ns == metav1.NamespaceAll {
			where = "all namespaces"
		}
		return nil, fmt.Errorf("listing clusters in %s: %w", where, err)
	}
	var specs []*Spec
	var errs []error
	for i := range cms.Items {
		spec, err := fromConfigMap(&cms.Items[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, spec)
	}
	slices.SortFunc(specs, func(a, b *Spec) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return specs, errors.Join(errs...)
}

// clusterNames lists the names of the clusters in ns from their ConfigMaps' labels.
func clusterNames(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: ListSelector})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, cm := range cms.Items {
		if n := cm.Labels[LabelInstance]; n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
