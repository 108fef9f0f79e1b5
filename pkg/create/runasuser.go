package create

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// PodUser decides who a new cluster's pods run as: --run-as-user (cfg.RunAsUser, 0 for auto)
// against the namespace's OpenShift annotations (cluster.NamespaceUser). A namespace is
// cluster-scoped, and the namespaced Role of docs/rbac.md cannot grant reading it: Forbidden
// counts as a namespace without the annotations, and a warning (through warn, which may be nil)
// says so and what to do on OpenShift. An explicit uid outside the namespace's range is a usage
// error: nothing has been written yet.
func PodUser(ctx context.Context, cs kubernetes.Interface, cfg Config, warn func(string)) (cluster.PodUser, error) {
	var annotations map[string]string
	ns, err := cs.CoreV1().Namespaces().Get(ctx, cfg.Namespace, metav1.GetOptions{})
	switch {
	case err == nil:
		annotations = ns.Annotations
	case apierrors.IsForbidden(err):
		if warn != nil {
			warn(forbiddenNamespaceWarning(cfg))
		}
	case apierrors.IsNotFound(err):
		// Nothing to read; the first object create writes says the namespace is missing.
	default:
		return cluster.PodUser{}, fmt.Errorf("reading namespace %s for its OpenShift uid range (--run-as-user %s): %w",
			cfg.Namespace, runAsUserFlag(cfg.RunAsUser), err)
	}
	u, err := cluster.NamespaceUser(cfg.Namespace, annotations, cfg.RunAsUser)
	if err != nil {
		return cluster.PodUser{}, exitcode.Usage(err)
	}
	return u, nil
}

func forbiddenNamespaceWarning(cfg Config) string {
	if cfg.RunAsUser == 0 {
		return fmt.Sprintf("cannot read namespace %s (get namespaces is cluster-scoped and not granted), so its OpenShift uid range "+
			"(annotation %s) is unknown: the pods run as uid %d. On OpenShift give --run-as-user a uid of the project's range "+
			"(oc describe project %s shows it), or have get namespaces granted (docs/openshift.md)",
			cfg.Namespace, cluster.AnnotationUIDRange, cluster.PostgresUID, cfg.Namespace)
	}
	return fmt.Sprintf("cannot read namespace %s (get namespaces is cluster-scoped and not granted), so --run-as-user %d is not checked "+
		"against its OpenShift uid range (annotation %s) and fsGroup is %d too: on OpenShift a uid outside the project's ranges gets its pods refused",
		cfg.Namespace, cfg.RunAsUser, cluster.AnnotationUIDRange, cfg.RunAsUser)
}

func runAsUserFlag(uid int64) string {
	if uid == 0 {
		return cluster.RunAsAuto
	}
	return fmt.Sprint(uid)
}
