package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// objectClient reads and deletes objects of one kind in one namespace, by name.
type objectClient struct {
	resource string // plural, as RBAC spells it
	get      func(ctx context.Context, name string) (metav1.Object, error)
	del      func(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// typed is what every typed client of a namespaced kind offers.
type typed[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

func newObjectClient[T metav1.Object](resource string, c typed[T]) objectClient {
	return objectClient{
		resource: resource,
		get: func(ctx context.Context, name string) (metav1.Object, error) {
			obj, err := c.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err // not obj: a typed nil pointer is a non-nil interface
			}
			return obj, nil
		},
		del: c.Delete,
	}
}

// clientFor returns the client of ref's kind.
func clientFor(cs kubernetes.Interface, ref Ref) (objectClient, error) {
	ns := ref.Namespace
	switch ref.Kind {
	case "ConfigMap":
		return newObjectClient("configmaps", cs.CoreV1().ConfigMaps(ns)), nil
	case "Secret":
		return newObjectClient("secrets", cs.CoreV1().Secrets(ns)), nil
	case "Service":
		return newObjectClient("services", cs.CoreV1().Services(ns)), nil
	case "ServiceAccount":
		return newObjectClient("serviceaccounts", cs.CoreV1().ServiceAccounts(ns)), nil
	case "PersistentVolumeClaim":
		return newObjectClient("persistentvolumeclaims", cs.CoreV1().PersistentVolumeClaims(ns)), nil
	case "Pod":
		return newObjectClient("pods", cs.CoreV1().Pods(ns)), nil
	case "Deployment":
		return newObjectClient("deployments", cs.AppsV1().Deployments(ns)), nil
	case "Job":
		return newObjectClient("jobs", cs.BatchV1().Jobs(ns)), nil
	case "CronJob":
		return newObjectClient("cronjobs", cs.BatchV1().CronJobs(ns)), nil
	case "Lease":
		return newObjectClient("leases", cs.CoordinationV1().Leases(ns)), nil
	case "Role":
		return newObjectClient("roles", cs.RbacV1().Roles(ns)), nil
	case "RoleBinding":
		return newObjectClient("rolebindings", cs.RbacV1().RoleBindings(ns)), nil
	case "NetworkPolicy":
		return newObjectClient("networkpolicies", cs.NetworkingV1().NetworkPolicies(ns)), nil
	}
	return objectClient{}, fmt.Errorf("%s %s/%s: kind not supported by package kube", ref.Kind, ns, ref.Name)
}
