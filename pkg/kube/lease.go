package kube

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Lease timing: the holder renews every LeaseRenewEvery; a lease not renewed for LeaseDuration
// is stale and the next run takes it over.
const (
	LeaseDuration   = 90 * time.Second
	LeaseRenewEvery = 30 * time.Second
)

// AnnotationPurpose records what the holder is doing ("restore", "backup").
const AnnotationPurpose = "pgbackrest.dev/purpose"

// HeldError says the Lease is held by another live run.
type HeldError struct {
	Namespace, Name string
	Holder, Purpose string
	Since           time.Time
	// Expires is when the lease goes stale unless its holder renews it.
	Expires time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("another %s is running: lease %s/%s is held by %q since %s; "+
		"wait for it to finish, or if that run is gone, wait until %s when the lease goes stale, "+
		"or break it with: kubectl delete lease -n %s %s",
		e.Purpose, e.Namespace, e.Name, e.Holder, e.Since.UTC().Format(time.RFC3339),
		e.Expires.UTC().Format(time.RFC3339), e.Namespace, e.Name)
}

// Holder is the identity written to the Lease: "user@hostname pid N".
func Holder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// LeaseConfig describes a lease to take. Zero durations take the package defaults; a nil Clock is time.Now.
type LeaseConfig struct {
	Namespace, Name string
	Holder, Purpose string
	Labels          map[string]string
	Duration        time.Duration
	RenewEvery      time.Duration
	Clock           func() time.Time
	// TakingOverDead, when set, is called with the holder of a Lease about to be taken over because
	// that holder is a process of this machine that no longer runs, so the caller can say so.
	TakingOverDead func(holder string)
}

// Acquire takes the coordination.k8s.io/v1 Lease ns/name for holder, or returns *HeldError when a
// live run holds it. While held it is renewed in the background until release is called. release
// deletes the Lease if this run still holds it; call it with a context that is not cancelled
// (context.WithoutCancel) so Ctrl-C still frees the lease.
func Acquire(ctx context.Context, cs kubernetes.Interface, ns, name, holder, purpose string, now time.Time) (release func(context.Context) error, err error) {
	start := time.Now()
	return AcquireLease(ctx, cs, LeaseConfig{
		Namespace: ns, Name: name, Holder: holder, Purpose: purpose,
		Clock: func() time.Time { return now.Add(time.Since(start)) },
	})
}

// AcquireLease is Acquire with every knob.
func AcquireLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) (release func(context.Context) error, err error) {
	if cfg.Duration == 0 {
		cfg.Duration = LeaseDuration
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = LeaseRenewEvery
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if err := takeLease(ctx, cs, cfg); err != nil {
		return nil, err
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(cfg.RenewEvery)
		defer tick.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-tick.C:
				// A failed renewal is retried on the next tick; the lease only goes stale
				// after several misses.
				_ = renewLease(renewCtx, cs, cfg)
			}
		}
	}()
	return func(ctx context.Context) error {
		stop()
		<-done
		return releaseLease(ctx, cs, cfg)
	}, nil
}

func leaseObject(cfg LeaseConfig, now time.Time) *coordinationv1.Lease {
	t := metav1.NewMicroTime(now)
	secs := int32(cfg.Duration / time.Second)
	return &coordinationv1.Lease{
		TypeMeta: metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
		ObjectMeta: metav1.ObjectMeta{
			Name: cfg.Name, Namespace: cfg.Namespace, Labels: cfg.Labels,
			Annotations: map[string]string{AnnotationPurpose: cfg.Purpose},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &cfg.Holder,
			LeaseDurationSeconds: &secs,
			AcquireTime:          &t,
			RenewTime:            &t,
		},
	}
}

// leaseExpiry is when l goes stale.
func leaseExpiry(l *coordinationv1.Lease) time.Time {
	var last time.Time
	switch {
	case l.Spec.RenewTime != nil:
		last = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		last = l.Spec.AcquireTime.Time
	default:
		last = l.CreationTimestamp.Time
	}
	d := LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return last.Add(d)
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// LeaseHeld reads the Lease ns/name without taking it, for a preflight that must change nothing:
// it returns *HeldError when a live run other than holder holds it, and nil when the Lease is
// missing, free, stale, holder's own, or held by a dead process of this machine (which
// AcquireLease takes over).
func LeaseHeld(ctx context.Context, cs kubernetes.Interface, ns, name, holder string, now time.Time) (*HeldError, error) {
	l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, Explain(fmt.Errorf("reading lease %s/%s: %w", ns, name, err), "get", "leases", ns)
	}
	held, _ := checkHolder(l, holder, now)
	return held, nil
}

// checkHolder looks at Lease l as holder self at now. held is set when another live run holds it.
// dead is the holder's identity when it is a process of this machine that no longer runs: a run
// killed with kill -9 cannot release its Lease, and its re-run should not wait until it goes stale.
func checkHolder(l *coordinationv1.Lease, self string, now time.Time) (held *HeldError, dead string) {
	h := holderOf(l)
	if h == "" || h == self || !now.Before(leaseExpiry(l)) {
		return nil, ""
	}
	if deadLocalHolder(h) {
		return nil, h
	}
	held = &HeldError{Namespace: l.Namespace, Name: l.Name, Holder: h,
		Purpose: l.Annotations[AnnotationPurpose], Expires: leaseExpiry(l)}
	if held.Purpose == "" {
		held.Purpose = "run"
	}
	if l.Spec.AcquireTime != nil {
		held.Since = l.Spec.AcquireTime.Time
	}
	return held, ""
}

// deadLocalHolder says h (Holder's "user@host pid N") names a process of this machine, of this
// user, that no longer exists. Another user's or another machine's process cannot be probed, so
// it counts as alive.
func deadLocalHolder(h string) bool {
	self := Holder()
	at := strings.LastIndex(self, " pid ")
	if at < 0 {
		return false
	}
	prefix := self[:at] + " pid "
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(h, prefix))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}

func takeLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	now := cfg.Clock()
	_, err := c.Create(ctx, leaseObject(cfg, now), metav1.CreateOptions{FieldManager: FieldManager})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return Explain(fmt.Errorf("creating lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "create", "leases", cfg.Namespace)
	}
	cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
	if err != nil {
		return Explain(fmt.Errorf("reading lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "get", "leases", cfg.Namespace)
	}
	held, dead := checkHolder(cur, cfg.Holder, now)
	if held != nil {
		return held
	}
	if dead != "" && cfg.TakingOverDead != nil {
		cfg.TakingOverDead(dead)
	}
	// Free, stale, ours or a dead local process's: take it over. The resourceVersion makes a race
	// with another taker fail with Conflict instead of both winning.
	next := leaseObject(cfg, now)
	next.ResourceVersion = cur.ResourceVersion
	if _, err := c.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("lease %s/%s was taken by another run at the same moment; try again", cfg.Namespace, cfg.Name)
		}
		return Explain(fmt.Errorf("taking over lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "update", "leases", cfg.Namespace)
	}
	return nil
}

func renewLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if holderOf(cur) != cfg.Holder {
		return fmt.Errorf("lease %s/%s is now held by %q", cfg.Namespace, cfg.Name, holderOf(cur))
	}
	t := metav1.NewMicroTime(cfg.Clock())
	cur.Spec.RenewTime = &t
	_, err = c.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
	return err
}

func releaseLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing lease %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	if holderOf(cur) != cfg.Holder {
		return nil // taken over after going stale: not ours to delete
	}
	err = c.Delete(ctx, cfg.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("releasing lease %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	return nil
}
