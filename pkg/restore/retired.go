package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// RetiredPVC is a data PVC a restore replaced.
type RetiredPVC struct {
	Name string `json:"name"`
	// RetiredAt is when the restore replaced it (UTC).
	RetiredAt time.Time `json:"retiredAt"`
	// Size is the PVC's capacity (its request while unbound).
	Size string `json:"size"`
	// Phase is the PVC's phase: Bound, Pending, Lost.
	Phase string `json:"phase"`
}

// RetiredList is what `retired` prints.
type RetiredList struct {
	Cluster string       `json:"cluster"`
	PVCs    []RetiredPVC `json:"pvcs"`
}

// Table implements output.Tabler.
func (l RetiredList) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(l.PVCs))
	for _, p := range l.PVCs {
		rows = append(rows, []string{p.Name, p.RetiredAt.Format(time.RFC3339), p.Size, p.Phase})
	}
	return []string{"name", "retired at", "size", "status"}, rows
}

// ListRetired lists the cluster's retired data PVCs, oldest first.
func ListRetired(ctx context.Context, cs kubernetes.Interface, ns, name string) (*RetiredList, error) {
	if _, _, err := getCluster(ctx, cs, ns, name); err != nil {
		return nil, err
	}
	list, err := cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{
		LabelSelector: cluster.SelectorString(name, cluster.RolePrimary) + "," + LabelRetiredAt})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the retired PVCs of cluster %s: %w", name, err), "list", "persistentvolumeclaims", ns)
	}
	out := &RetiredList{Cluster: name, PVCs: []RetiredPVC{}}
	for i := range list.Items {
		out.PVCs = append(out.PVCs, retiredPVC(&list.Items[i]))
	}
	slices.SortFunc(out.PVCs, func(a, b RetiredPVC) int { return a.RetiredAt.Compare(b.RetiredAt) })
	return out, nil
}

func retiredPVC(p *corev1.PersistentVolumeClaim) RetiredPVC {
	at, err := time.Parse(time.RFC3339, p.Annotations[AnnotationRetiredAt])
	if err != nil {
		at, _ = time.Parse(retiredLabelFormat, p.Labels[LabelRetiredAt])
	}
	size := ""
	if q, ok := p.Status.Capacity[corev1.ResourceStorage]; ok {
		size = q.String()
	} else if q, ok := p.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		size = q.String()
	}
	return RetiredPVC{Name: p.Name, RetiredAt: at.UTC(), Size: size, Phase: string(p.Status.Phase)}
}

func getCluster(ctx context.Context, cs kubernetes.Interface, ns, name string) (*cluster.Spec, *corev1.ConfigMap, error) {
	spec, cm, err := cluster.Get(ctx, cs, ns, name)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, nil, exitcode.Usage(err)
	}
	if err != nil {
		return nil, nil, kube.Explain(err, "get", "configmaps", ns)
	}
	return spec, cm, nil
}

// CheckCleanup makes sure pvc is a retired data PVC of the cluster, and returns it. The live
// data PVC, a restore's PVC in progress and any PVC not labelled retired by this cluster's
// restores are refused (usage errors).
func CheckCleanup(ctx context.Context, cs kubernetes.Interface, ns, name, pvc string) (*RetiredPVC, error) {
	spec, cm, err := getCluster(ctx, cs, ns, name)
	if err != nil {
		return nil, err
	}
	if err := cluster.CheckNoRestore(cm, "cleanup"); err != nil {
		return nil, exitcode.Usage(err)
	}
	if pvc == spec.DataPVC {
		return nil, exitcode.Usage(fmt.Errorf("PVC %s is the live data PVC of cluster %s: it cannot be cleaned up", pvc, name))
	}
	if pvc == cm.Annotations[AnnotationPVC] {
		return nil, exitcode.Usage(fmt.Errorf("PVC %s belongs to restore %s of cluster %s, which is in progress", pvc, cm.Annotations[AnnotationID], name))
	}
	p, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, exitcode.Usage(fmt.Errorf("PVC %s not found in namespace %s; list the retired ones with `kubectl pgbackrest retired %s`", pvc, ns, name))
	}
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading PVC %s/%s: %w", ns, pvc, err), "get", "persistentvolumeclaims", ns)
	}
	if p.Labels[cluster.LabelInstance] != name || p.Labels[cluster.LabelRole] != string(cluster.RolePrimary) ||
		p.Labels[cluster.LabelManagedBy] != cluster.ManagedBy || p.Labels[LabelRetiredAt] == "" {
		return nil, exitcode.Usage(fmt.Errorf("PVC %s is not a retired data PVC of cluster %s (label %s missing): cleanup deletes only those; "+
			"list them with `kubectl pgbackrest retired %s`", pvc, name, LabelRetiredAt, name))
	}
	r := retiredPVC(p)
	return &r, nil
}

// Cleanup deletes one retired data PVC of the cluster, after CheckCleanup's checks. The delete is
// conditional on the PVC's uid (kube.DeleteOwned), so a PVC recreated meanwhile under that name is
// never touched.
func Cleanup(ctx context.Context, cs kubernetes.Interface, ns, name, pvc string) error {
	if _, err := CheckCleanup(ctx, cs, ns, name, pvc); err != nil {
		return err
	}
	ref := kube.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: pvc}
	return kube.DeleteOwned(ctx, cs, ref, cluster.Owner(name), metav1.DeletePropagationBackground)
}
