package cluster

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Owner returns the ownership labels of cluster name's objects: what kube.CheckOwner compares
// before the plugin writes, trusts or deletes an object of one of the cluster's names.
func Owner(name string) map[string]string { return kube.OwnerLabels(ManagedBy, name) }

// Refs returns the objects of names that every cluster may have, whatever its spec: the
// Deployments, Services, Lease, TLS Secret and ConfigMap (not the PVCs, which depend on the spec
// and on restores, nor restore Jobs).
func (n Names) Refs(ns string) []kube.Ref {
	return []kube.Ref{
		{Kind: "Deployment", Namespace: ns, Name: n.Primary()},
		{Kind: "Deployment", Namespace: ns, Name: n.RepoHost()},
		{Kind: "Service", Namespace: ns, Name: n.Primary()},
		{Kind: "Service", Namespace: ns, Name: n.RepoHost()},
		{Kind: "NetworkPolicy", Namespace: ns, Name: n.Primary()},
		{Kind: "NetworkPolicy", Namespace: ns, Name: n.RepoHost()},
		{Kind: "Lease", Namespace: ns, Name: n.Lease()},
		{Kind: "Secret", Namespace: ns, Name: n.TLSSecret()},
		{Kind: "ConfigMap", Namespace: ns, Name: n.ConfigMap()},
	}
}

// Refs returns every object of the cluster's names that create writes or trusts: Names.Refs and
// the live data PVC, and the repository PVC with local storage.
func (s *Spec) Refs() []kube.Ref {
	refs := s.Names().Refs(s.Namespace)
	refs = append(refs, kube.Ref{Kind: "PersistentVolumeClaim", Namespace: s.Namespace, Name: s.DataPVC})
	if s.Has(pgbackrest.Local) {
		refs = append(refs, kube.Ref{Kind: "PersistentVolumeClaim", Namespace: s.Namespace, Name: s.Names().RepoPVC()})
	}
	return refs
}

// ForeignObjectsError refuses a command because objects of the cluster's names belong to someone
// else: it names each one and says what to do. Nothing was changed.
type ForeignObjectsError struct {
	Cluster, Namespace, Verb string
	// Foreign are *kube.ForeignError, one per object.
	Foreign []error
}

func (e *ForeignObjectsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s cluster %s in namespace %s: %d object(s) of its names are not its own:", e.Verb, e.Cluster, e.Namespace, len(e.Foreign))
	for _, f := range e.Foreign {
		b.WriteString("\n  " + f.Error())
	}
	fmt.Fprintf(&b, "\nnothing was changed; choose another cluster name, or delete or rename those objects if nothing uses them")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrNotOurs) and errors.As(err, **kube.ForeignError) work.
func (e *ForeignObjectsError) Unwrap() []error { return e.Foreign }

// CheckOwned reads every object of refs and returns a *ForeignObjectsError naming each one that
// exists and is not cluster name's. It writes nothing: callers check every name before the
// first write.
func CheckOwned(ctx context.Context, cs kubernetes.Interface, ns, name, verb string, refs []kube.Ref) error {
	_, foreign, err := kube.CheckOwned(ctx, cs, refs, Owner(name))
	if err != nil {
		return fmt.Errorf("checking the objects of cluster %s: %w", name, err)
	}
	if len(foreign) > 0 {
		return &ForeignObjectsError{Cluster: name, Namespace: ns, Verb: verb, Foreign: foreign}
	}
	return nil
}
