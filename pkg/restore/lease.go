package restore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// leaseHeld reads the cluster's Lease without taking it: a live holder other than this run (and
// not a dead process of this machine, see deadLocalHolder) is returned as *kube.HeldError.
func leaseHeld(ctx context.Context, d Deps, ns, name string) (*kube.HeldError, error) {
	l, err := d.Client.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading lease %s/%s: %w", ns, name, err), "get", "leases", ns)
	}
	h := holder(l)
	exp := expiry(l)
	if h == "" || h == d.Holder || !d.Now().Before(exp) || deadLocalHolder(h) {
		return nil, nil
	}
	held := &kube.HeldError{Namespace: ns, Name: name, Holder: h, Purpose: l.Annotations[kube.AnnotationPurpose], Expires: exp}
	if held.Purpose == "" {
		held.Purpose = "run"
	}
	if l.Spec.AcquireTime != nil {
		held.Since = l.Spec.AcquireTime.Time
	}
	return held, nil
}

// breakDeadLocalLease deletes the Lease when its holder is a process of this machine that no
// longer runs (a run killed with kill -9 cannot release it), so a re-run need not wait until it
// goes stale. The delete is conditional on the Lease being unchanged.
func breakDeadLocalLease(ctx context.Context, d Deps, ns, name string) error {
	c := d.Client.CoordinationV1().Leases(ns)
	l, err := c.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return kube.Explain(fmt.Errorf("reading lease %s/%s: %w", ns, name, err), "get", "leases", ns)
	}
	h := holder(l)
	if h == d.Holder || !deadLocalHolder(h) {
		return nil
	}
	fmt.Fprintf(d.ErrOut, "  lease %s was held by %q, which no longer runs on this machine: taking it over\n", name, h)
	rv := l.ResourceVersion
	err = c.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return kube.Explain(fmt.Errorf("deleting the dead run's lease %s/%s: %w", ns, name, err), "delete", "leases", ns)
	}
	return nil
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func expiry(l *coordinationv1.Lease) time.Time {
	last := l.CreationTimestamp.Time
	switch {
	case l.Spec.RenewTime != nil:
		last = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		last = l.Spec.AcquireTime.Time
	}
	d := kube.LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return last.Add(d)
}

// deadLocalHolder says holder (kube.Holder's "user@host pid N") names a process of this machine,
// of this user, that no longer exists.
func deadLocalHolder(h string) bool {
	self := kube.Holder()
	at := strings.LastIndex(self, " pid ")
	if at < 0 || !strings.HasPrefix(h, self[:at]+" pid ") {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(h, self[:at]+" pid "))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}
