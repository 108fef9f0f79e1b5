package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The ownership labels. Every object the plugin writes carries both; an object of a name the
// plugin derives that lacks them, or names another instance, belongs to someone else: the plugin
// never writes it, trusts it or deletes it. This file is the one place that decides.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelInstance  = "app.kubernetes.io/instance"
)

// OwnerLabels are the ownership labels of the plugin's objects: managed-by managedBy, and
// instance when it is not empty (objects shared by a namespace's clusters have none).
func OwnerLabels(managedBy, instance string) map[string]string {
	l := map[string]string{LabelManagedBy: managedBy}
	if instance != "" {
		l[LabelInstance] = instance
	}
	return l
}

// Ownership returns the ownership labels among labels (what CheckOwner compares).
func Ownership(labels map[string]string) map[string]string {
	want := map[string]string{}
	for _, k := range []string{LabelManagedBy, LabelInstance} {
		if v, ok := labels[k]; ok {
			want[k] = v
		}
	}
	return want
}

// ErrNotOurs is matched (errors.Is) by every *ForeignError.
var ErrNotOurs = errors.New("not managed by kubectl-pgbackrest")

// ForeignError says an object exists under a name the plugin wants, and is not the plugin's (or
// is another instance's).
type ForeignError struct {
	Ref
	// Label is the ownership label that is missing or different; Want its value on our objects,
	// Got its value on the object ("" when missing).
	Label, Want, Got string
}

func (e *ForeignError) Error() string {
	if e.Label == LabelInstance && e.Got != "" {
		return fmt.Sprintf("%s exists and belongs to %q, not %q (%s)", e.Ref, e.Got, e.Want, e.Reason())
	}
	return fmt.Sprintf("%s exists and is %v (%s)", e.Ref, ErrNotOurs, e.Reason())
}

// Reason says which label is missing or different, without naming the object.
func (e *ForeignError) Reason() string {
	if e.Got == "" {
		return fmt.Sprintf("label %s=%s missing", e.Label, e.Want)
	}
	return fmt.Sprintf("label %s is %q, not %q", e.Label, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrNotOurs) true.
func (e *ForeignError) Is(target error) bool { return target == ErrNotOurs }

// CheckOwner returns a *ForeignError when obj does not carry the ownership labels of want
// (managed-by, and instance when want has it); other labels are not compared.
func CheckOwner(ref Ref, obj metav1.Object, want map[string]string) error {
	got := obj.GetLabels()
	for _, key := range []string{LabelManagedBy, LabelInstance} {
		w, ok := want[key]
		if !ok {
			continue
		}
		if g := got[key]; g != w {
			return &ForeignError{Ref: ref, Label: key, Want: w, Got: g}
		}
	}
	return nil
}

// Ref names one object: its kind as Kubernetes spells it ("Service", "PersistentVolumeClaim").
type Ref struct {
	Kind, Namespace, Name string
}

// String is how kubectl names the object: service/pg1 (the namespace is said once by callers).
func (r Ref) String() string { return strings.ToLower(r.Kind) + "/" + r.Name }

// Owned is an object that CheckOwned found and judged ours, with the UID a delete is conditional on.
type Owned struct {
	Ref
	UID types.UID
}

// CheckOwned reads each object of refs and sorts the ones that exist into ours and foreign
// (each a *ForeignError); missing ones are in neither. It writes nothing.
func CheckOwned(ctx context.Context, cs kubernetes.Interface, refs []Ref, want map[string]string) (ours []Owned, foreign []error, err error) {
	for _, ref := range refs {
		obj, err := Get(ctx, cs, ref)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if ferr := CheckOwner(ref, obj, want); ferr != nil {
			foreign = append(foreign, ferr)
			continue
		}
		ours = append(ours, Owned{Ref: ref, UID: obj.GetUID()})
	}
	return ours, foreign, nil
}

// Get reads the object ref names. A NotFound error is returned as the API gives it.
func Get(ctx context.Context, cs kubernetes.Interface, ref Ref) (metav1.Object, error) {
	c, err := clientFor(cs, ref)
	if err != nil {
		return nil, err
	}
	obj, err := c.get(ctx, ref.Name)
	if apierrors.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, Explain(fmt.Errorf("getting %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err), "get", c.resource, ref.Namespace)
	}
	return obj, nil
}

// Delete deletes the object ref names on condition that its UID is still uid: an object made
// again under that name since it was judged (someone else's, perhaps) is never deleted. Gone
// already is no error. An empty uid deletes without the condition (only for tests' fakes, which
// have no UIDs).
func Delete(ctx context.Context, cs kubernetes.Interface, ref Ref, uid types.UID, policy metav1.DeletionPropagation) error {
	c, err := clientFor(cs, ref)
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err = c.del(ctx, ref.Name, opts)
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("deleting %s %s/%s: it was replaced by another object of that name since it was checked, "+
			"so it was not deleted; run the same command again to judge the new one: %w", ref.Kind, ref.Namespace, ref.Name, err)
	default:
		return Explain(fmt.Errorf("deleting %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err), "delete", c.resource, ref.Namespace)
	}
}

// DeleteOwned deletes the object ref names if it exists and carries want's ownership labels
// (else a *ForeignError, and nothing is deleted), conditional on the UID it was judged by.
func DeleteOwned(ctx context.Context, cs kubernetes.Interface, ref Ref, want map[string]string, policy metav1.DeletionPropagation) error {
	obj, err := Get(ctx, cs, ref)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := CheckOwner(ref, obj, want); err != nil {
		return fmt.Errorf("refusing to delete it: %w", err)
	}
	return Delete(ctx, cs, ref, obj.GetUID(), policy)
}
