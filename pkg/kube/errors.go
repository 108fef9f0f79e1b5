package kube

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// RBACDoc is where users learn which permissions the plugin needs.
const RBACDoc = "docs/rbac.md"

// ForbiddenError is an API Forbidden error explained: who may not do what, where, and what to do.
type ForbiddenError struct {
	Verb, Resource, Namespace string
	Err                       error
}

func (e *ForbiddenError) Error() string {
	where, scope := "cluster-wide", "-A"
	if e.Namespace != "" {
		where, scope = "in namespace "+e.Namespace, "-n "+e.Namespace
	}
	return fmt.Sprintf("not allowed to %s %s %s: ask your cluster administrator for the Role in %s "+
		"(check with: kubectl auth can-i %s %s %s): %v",
		e.Verb, e.Resource, where, RBACDoc, e.Verb, e.Resource, scope, e.Err)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// Explain turns an API Forbidden error into a *ForbiddenError naming verb, resource (plural, as
// RBAC spells it: "secrets", "pods/exec") and namespace. Other errors pass through unchanged.
func Explain(err error, verb, resource, namespace string) error {
	if err == nil || !apierrors.IsForbidden(err) {
		return err
	}
	return &ForbiddenError{Verb: verb, Resource: resource, Namespace: namespace, Err: err}
}
