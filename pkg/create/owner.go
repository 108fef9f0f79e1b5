package create

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// checkNames refuses a create (exit 2, nothing written) when any object of the cluster's names
// exists and is not the cluster's: create would otherwise replace the selector of another
// application's Service or Deployment, or have the pods trust a TLS Secret someone planted.
// Every name is read before the first write, and the error names every foreign object.
func checkNames(ctx context.Context, cs kubernetes.Interface, spec *cluster.Spec) error {
	err := cluster.CheckOwned(ctx, cs, spec.Namespace, spec.Name, "create", spec.Refs())
	var foreign *cluster.ForeignObjectsError
	if errors.As(err, &foreign) {
		return exitcode.Usage(err)
	}
	return err
}

// present says whether the object ref names exists; one that exists and is not the cluster's is
// an error (a step must not count another's object as done, nor trust it).
func (w *run) present(ctx context.Context, ref kube.Ref) (bool, error) {
	obj, err := kube.Get(ctx, w.deps.Client, ref)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := kube.CheckOwner(ref, obj, cluster.Owner(w.spec.Name)); err != nil {
		return false, err
	}
	return true, nil
}
