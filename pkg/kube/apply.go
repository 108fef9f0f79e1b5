package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// FieldManager is the Server-Side Apply field manager of every object the plugin writes.
const FieldManager = "kubectl-pgbackrest"

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the server to validate and default without persisting (--dry-run=server).
	DryRun bool
}

// patcher is what every typed client offers; each typed client satisfies it for its own type.
type patcher[T any] interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// Apply creates or updates obj with Server-Side Apply (field manager kubectl-pgbackrest, force:
// the plugin owns its objects). It is idempotent. obj's TypeMeta is filled in when empty;
// resourceVersion, uid and managedFields are dropped so an object read back can be re-applied.
// It returns the object as the server stored it (or would store it, with DryRun).
//
// Before it writes, it reads the object: one that exists without the ownership labels obj carries
// (managed-by, instance) is another's, and is refused with a *ForeignError (owner.go). The write
// is conditional on the resourceVersion judged, so an object replaced meanwhile is judged again.
// Supported: ConfigMap, Secret, Service, ServiceAccount, PersistentVolumeClaim, Pod, Deployment,
// Job, CronJob, Lease, Role, RoleBinding.
func Apply[T runtime.Object](ctx context.Context, cs kubernetes.Interface, obj T, opts ApplyOptions) (T, error) {
	var zero T
	ref, want, err := applyTarget(obj)
	if err != nil {
		return zero, err
	}
	var out runtime.Object
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var rv string
		cur, err := Get(ctx, cs, ref)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return err
		default:
			if err := CheckOwner(ref, cur, want); err != nil {
				return fmt.Errorf("refusing to write %s/%s: %w; it was left unchanged: delete it if nothing uses it, "+
					"or label it as the plugin's to hand it over", ref.Namespace, ref.Name, err)
			}
			rv = cur.GetResourceVersion()
		}
		out, err = applyPatch(ctx, cs, obj, rv, opts)
		return err
	})
	if err != nil {
		return zero, err
	}
	res, ok := out.(T)
	if !ok {
		return zero, fmt.Errorf("applying %s %s/%s: server returned %T", ref.Kind, ref.Namespace, ref.Name, out)
	}
	return res, nil
}

// applyTarget returns what obj names and the ownership labels it carries.
func applyTarget(obj runtime.Object) (Ref, map[string]string, error) {
	_, kind, ns, name, err := applyBodyRV(obj, "")
	if err != nil {
		return Ref{}, nil, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return Ref{}, nil, fmt.Errorf("applying %T: %w", obj, err)
	}
	return Ref{Kind: kind, Namespace: ns, Name: name}, Ownership(m.GetLabels()), nil
}

// applyPatch sends the apply patch of obj, conditional on resourceVersion rv when it is not empty.
func applyPatch(ctx context.Context, cs kubernetes.Interface, obj runtime.Object, rv string, opts ApplyOptions) (runtime.Object, error) {
	data, kind, ns, name, err := applyBodyRV(obj, rv)
	if err != nil {
		return nil, err
	}
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: ptrTo(true)}
	if opts.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var out runtime.Object
	switch obj.(type) {
	case *corev1.ConfigMap:
		out, err = patch(ctx, cs.CoreV1().ConfigMaps(ns), name, data, po)
	case *corev1.Secret:
		out, err = patch(ctx, cs.CoreV1().Secrets(ns), name, data, po)
	case *corev1.Service:
		out, err = patch(ctx, cs.CoreV1().Services(ns), name, data, po)
	case *corev1.ServiceAccount:
		out, err = patch(ctx, cs.CoreV1().ServiceAccounts(ns), name, data, po)
	case *corev1.PersistentVolumeClaim:
		out, err = patch(ctx, cs.CoreV1().PersistentVolumeClaims(ns), name, data, po)
	case *networkingv1.NetworkPolicy:
		out, err = patch(ctx, cs.NetworkingV1().NetworkPolicies(ns), name, data, po)
	case *corev1.Pod:
		out, err = patch(ctx, cs.CoreV1().Pods(ns), name, data, po)
	case *appsv1.Deployment:
		out, err = patch(ctx, cs.AppsV1().Deployments(ns), name, data, po)
	case *batchv1.Job:
		out, err = patch(ctx, cs.BatchV1().Jobs(ns), name, data, po)
	case *batchv1.CronJob:
		out, err = patch(ctx, cs.BatchV1().CronJobs(ns), name, data, po)
	case *coordinationv1.Lease:
		out, err = patch(ctx, cs.CoordinationV1().Leases(ns), name, data, po)
	case *rbacv1.Role:
		out, err = patch(ctx, cs.RbacV1().Roles(ns), name, data, po)
	case *rbacv1.RoleBinding:
		out, err = patch(ctx, cs.RbacV1().RoleBindings(ns), name, data, po)
	default:
		return nil, fmt.Errorf("applying %T %s/%s: kind not supported by kube.Apply", obj, ns, name)
	}
	if apierrors.IsConflict(err) {
		return nil, err // unwrapped: Apply judges the object again
	}
	if err != nil {
		return nil, Explain(fmt.Errorf("applying %s %s/%s: %w", strings.ToLower(kind), ns, name, err), "patch", strings.ToLower(kind)+"s", ns)
	}
	return out, nil
}

func patch[T runtime.Object](ctx context.Context, c patcher[T], name string, data []byte, po metav1.PatchOptions) (runtime.Object, error) {
	return c.Patch(ctx, name, types.ApplyPatchType, data, po)
}

// applyBody returns the JSON apply configuration for obj: a copy with TypeMeta set and
// server-owned metadata dropped. kind is lowercase.
func applyBody(obj runtime.Object) (data []byte, kind, ns, name string, err error) {
	data, kind, ns, name, err = applyBodyRV(obj, "")
	return data, strings.ToLower(kind), ns, name, err
}

// applyBodyRV is applyBody with resourceVersion rv (a precondition of the apply when not empty),
// and kind as Kubernetes spells it.
func applyBodyRV(obj runtime.Object, rv string) (data []byte, kind, ns, name string, err error) {
	cp := obj.DeepCopyObject()
	if cp.GetObjectKind().GroupVersionKind().Kind == "" {
		gvks, _, err := scheme.Scheme.ObjectKinds(cp)
		if err != nil || len(gvks) == 0 {
			return nil, "", "", "", fmt.Errorf("applying %T: unknown kind: %v", obj, err)
		}
		cp.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	m, err := meta.Accessor(cp)
	if err != nil {
		return nil, "", "", "", fmt.Errorf("applying %T: %w", obj, err)
	}
	if m.GetName() == "" {
		return nil, "", "", "", fmt.Errorf("applying %T: object has no name", obj)
	}
	m.SetResourceVersion(rv)
	m.SetUID("")
	m.SetManagedFields(nil)
	m.SetCreationTimestamp(metav1.Time{})
	data, err = json.Marshal(cp)
	if err != nil {
		return nil, "", "", "", fmt.Errorf("encoding %s: %w", m.GetName(), err)
	}
	return data, cp.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName(), nil
}

func ptrTo[T any](v T) *T { return &v }
