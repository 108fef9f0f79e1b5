package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// How the Lease fences (docs/architecture.md, "The Lease"):
//   - Each run has its own identity (Holder): no two runs share one, on one machine or many.
//   - A Lease held by another run is taken over only when this process has watched it for the
//     Lease's duration without seeing it change, by its own clock: no run compares its clock with
//     the time another machine wrote. The one shortcut is a holder that is a dead process of this
//     very machine, boot and user (kill -9), never in a pod.
//   - The holder renews it every LeaseRenewEvery. A renewal that finds another holder or no Lease,
//     or renewals failing until others could judge the Lease stale, mark it lost: the run stops at
//     its next step (Lease.Check).
const (
	LeaseDuration   = 90 * time.Second
	LeaseRenewEvery = 2 * time.Second
	// LeaseLocalRecheck is how often a run waiting for a Lease held by another run of this machine
	// checks whether that process still runs (no API call: the Lease itself is watched).
	LeaseLocalRecheck = time.Second
	// LeaseReleaseTimeout bounds Release: Ctrl-C must not hang on an API server that is gone.
	LeaseReleaseTimeout = 10 * time.Second
)

// AnnotationPurpose records what the holder is doing ("restore", "backup").
const AnnotationPurpose = "pgbackrest.dev/purpose"

// HeldError says the Lease is held by another live run: this process saw it renewed.
type HeldError struct {
	Namespace, Name string
	Holder, Purpose string
	Since           time.Time
	// Duration is how long a Lease must stay unrenewed before a run takes it over.
	Duration time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("another %s is running: lease %s/%s is held by %q since %s, and its holder renewed it while this run watched; "+
		"wait for it to finish; if that run is gone, the next run takes the lease over once it has watched it unrenewed for %s, "+
		"or break it now with: kubectl delete lease -n %s %s",
		e.Purpose, e.Namespace, e.Name, e.Holder, e.Since.UTC().Format(time.RFC3339), e.Duration, e.Namespace, e.Name)
}

// LostError says a run no longer holds its Lease, so another run may be acting beside it.
type LostError struct {
	Namespace, Name, Purpose string
	// Holder is the run holding it now; empty when the Lease was deleted or could not be read.
	Holder string
	// Deleted says the Lease is gone (deleted by hand, or by `kubectl pgbackrest delete`).
	Deleted bool
	// Unrenewed is how long renewals had failed, the last with Cause, when neither is known.
	Unrenewed time.Duration
	Cause     error
}

func (e *LostError) Error() string {
	switch {
	case e.Holder != "":
		return fmt.Sprintf("lease %s/%s was taken over by %q while this %s held it", e.Namespace, e.Name, e.Holder, e.Purpose)
	case e.Deleted:
		return fmt.Sprintf("lease %s/%s was deleted while this %s held it", e.Namespace, e.Name, e.Purpose)
	default:
		return fmt.Sprintf("lease %s/%s could not be renewed for %s (%v), so another run may have taken it over",
			e.Namespace, e.Name, e.Unrenewed.Round(time.Second), e.Cause)
	}
}

// LeaseConfig describes a lease to take. Zero durations take the package defaults.
type LeaseConfig struct {
	Namespace, Name string
	Holder, Purpose string
	Labels          map[string]string
	Duration        time.Duration
	RenewEvery      time.Duration
	// Recheck bounds each wait for a Lease held by another run to change: this run judges the
	// Lease again at least this often (tests make rounds short with it). 0 waits until the Lease
	// could be stale (LeaseLocalRecheck when its holder is a process of this machine).
	Recheck time.Duration
	// ReleaseTimeout bounds Release; 0 means LeaseReleaseTimeout.
	ReleaseTimeout time.Duration
	// Clock stamps the Lease's acquire and renew times, for people; nil is time.Now.
	Clock func() time.Time
	// Watch is this process's own clock, which measures how long a Lease was seen unchanged and
	// how long renewals have failed; nil is time.Now (monotonic).
	Watch func() time.Time
	// Note receives what is done about another run's Lease, for people: waiting, taking over.
	Note func(msg string)
	// Seen is what this process already saw of the Lease (a preflight's LeaseHeld): watching goes
	// on from there instead of starting again. Nil starts afresh.
	Seen *LeaseSeen
}

func (cfg *LeaseConfig) defaults() {
	if cfg.Duration == 0 {
		cfg.Duration = LeaseDuration
	}
	if cfg.RenewEvery == 0 {
		cfg.RenewEvery = LeaseRenewEvery
	}
	if cfg.ReleaseTimeout == 0 {
		cfg.ReleaseTimeout = LeaseReleaseTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Watch == nil {
		cfg.Watch = time.Now
	}
	if cfg.Note == nil {
		cfg.Note = func(string) {}
	}
	if cfg.Seen == nil {
		cfg.Seen = &LeaseSeen{}
	}
	if cfg.Purpose == "" {
		cfg.Purpose = "run"
	}
}

// LeaseSeen is what this process saw of a Lease: its state, and since when (by the watch clock)
// it has not changed. This is client-go leader election's observedRecord/observedTime.
type LeaseSeen struct {
	state string
	since time.Time
}

// see records l at now. renewed says l differs from what was seen before (its holder is alive,
// or another run took it); unchanged is how long it has looked the same.
func (s *LeaseSeen) see(l *coordinationv1.Lease, now time.Time) (unchanged time.Duration, renewed bool) {
	state := fmt.Sprintf("%s|%s|%v|%v", l.ResourceVersion, holderOf(l), l.Spec.RenewTime, l.Spec.AcquireTime)
	if s.state == "" || s.state != state {
		renewed = s.state != ""
		s.state, s.since = state, now
		return 0, renewed
	}
	return now.Sub(s.since), false
}

// Lease is a Lease this run holds, renewed in the background until Release.
type Lease struct {
	cs   kubernetes.Interface
	cfg  LeaseConfig
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	lost    *LostError
	renewed time.Time // watch clock of the last write that proved the Lease ours
	once    sync.Once
}

// AcquireLease takes the coordination.k8s.io/v1 Lease for cfg.Holder, or returns *HeldError when
// another live run holds it. A Lease held by another run is watched (a Note says so) until it
// changes (held) or has not changed for its duration (stale: taken over).
func AcquireLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) (*Lease, error) {
	cfg.defaults()
	if err := takeLease(ctx, cs, cfg); err != nil {
		return nil, err
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &Lease{cs: cs, cfg: cfg, stop: stop, done: make(chan struct{}), renewed: cfg.Watch()}
	go l.renewLoop(renewCtx)
	return l, nil
}

func (l *Lease) renewLoop(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.RenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := l.cfg.Watch()
		err := renewLease(ctx, l.cs, l.cfg)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		var lost *LostError
		switch {
		case err == nil:
			l.renewed = start
		case errors.As(err, &lost):
			l.lost = lost
		default:
			l.lost = l.unrenewedLocked(err)
		}
		stop := l.lost != nil
		l.mu.Unlock()
		if stop {
			return // never renew a Lease that is no longer ours
		}
	}
}

// unrenewedLocked is the loss once renewals have failed so long (by this process's clock) that
// another run, watching the Lease unchanged for its duration, may take it over: a renewal
// margin (10 s, or a renewal interval when longer) before that. Nil before then: a failed
// renewal is retried on the next tick.
func (l *Lease) unrenewedLocked(cause error) *LostError {
	failing := l.cfg.Watch().Sub(l.renewed)
	if failing < l.cfg.Duration-min(max(l.cfg.RenewEvery, 10*time.Second), l.cfg.Duration/3) {
		return nil
	}
	return &LostError{Namespace: l.cfg.Namespace, Name: l.cfg.Name, Purpose: l.cfg.Purpose, Unrenewed: failing, Cause: cause}
}

// Lost is the loss the renewals found, or nil while the Lease is held.
func (l *Lease) Lost() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		return nil
	}
	return l.lost
}

// Check is for a step boundary: nil while this run holds the Lease, else a *LostError. It reads
// the Lease (renewals are seconds apart; the run may just have woken from sleep); when the read
// fails, the Lease counts as held until renewals have failed too long.
func (l *Lease) Check(ctx context.Context) error {
	if err := l.Lost(); err != nil {
		return err
	}
	cur, err := l.cs.CoordinationV1().Leases(l.cfg.Namespace).Get(ctx, l.cfg.Name, metav1.GetOptions{})
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case apierrors.IsNotFound(err):
		l.lost = &LostError{Namespace: l.cfg.Namespace, Name: l.cfg.Name, Purpose: l.cfg.Purpose, Deleted: true}
	case err != nil:
		if ctx.Err() != nil {
			return nil // the run is being stopped anyway; its own error says why
		}
		l.lost = l.unrenewedLocked(err)
	case holderOf(cur) != l.cfg.Holder:
		l.lost = &LostError{Namespace: l.cfg.Namespace, Name: l.cfg.Name, Purpose: l.cfg.Purpose, Holder: holderOf(cur), Deleted: holderOf(cur) == ""}
	}
	if l.lost == nil {
		return nil
	}
	return l.lost
}

// Release stops the renewals and deletes the Lease if this run still holds it. It is bounded by
// the ReleaseTimeout whatever ctx says (a cancelled ctx, after Ctrl-C, still releases). A second
// call does nothing.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		l.stop()
		<-l.done
		if l.Lost() != nil {
			return // not ours any more: never delete another run's Lease
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.ReleaseTimeout)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- releaseLease(ctx, l.cs, l.cfg) }()
		select {
		case err = <-errc:
		case <-ctx.Done():
			err = fmt.Errorf("releasing lease %s/%s: no answer within %s; the next run takes it over once it has watched it unrenewed for %s, "+
				"or delete it: kubectl delete lease -n %s %s", l.cfg.Namespace, l.cfg.Name, l.cfg.ReleaseTimeout, l.cfg.Duration, l.cfg.Namespace, l.cfg.Name)
		}
	})
	return err
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

// durationOf is how long l must look unchanged before it is stale: what its holder wrote.
func durationOf(l *coordinationv1.Lease) time.Duration {
	if l.Spec.LeaseDurationSeconds != nil && *l.Spec.LeaseDurationSeconds > 0 {
		return time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return LeaseDuration
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func heldError(l *coordinationv1.Lease) *HeldError {
	held := &HeldError{Namespace: l.Namespace, Name: l.Name, Holder: holderOf(l),
		Purpose: l.Annotations[AnnotationPurpose], Duration: durationOf(l)}
	if held.Purpose == "" {
		held.Purpose = "run"
	}
	if l.Spec.AcquireTime != nil {
		held.Since = l.Spec.AcquireTime.Time
	}
	return held
}

// LeaseHeld judges the Lease as AcquireLease would, without taking it, for a preflight that must
// change nothing: *HeldError when another live run holds it; nil when it is missing, free, the
// holder's own, a dead local process's, or was seen unchanged for its duration. It watches a
// Lease held by another run like AcquireLease does; pass the same cfg.Seen to AcquireLease so
// that it goes on from what was seen here.
func LeaseHeld(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) (*HeldError, error) {
	cfg.defaults()
	l, err := cs.CoordinationV1().Leases(cfg.Namespace).Get(ctx, cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, Explain(fmt.Errorf("reading lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "get", "leases", cfg.Namespace)
	}
	_, err = watchHolder(ctx, cs, cfg, l, false)
	var held *HeldError
	if errors.As(err, &held) {
		return held, nil
	}
	return nil, err
}

// watchHolder decides about Lease cur, read just now: it returns the Lease to take over (nil when
// it has gone meanwhile), or *HeldError once it changes while another run holds it. taking says
// the caller takes it over, for the notes.
func watchHolder(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig, cur *coordinationv1.Lease, taking bool) (*coordinationv1.Lease, error) {
	waiting := false
	for {
		h := holderOf(cur)
		if h == "" || h == cfg.Holder {
			return cur, nil
		}
		// A run killed with kill -9 cannot release its Lease; its re-run should not wait.
		if deadLocalHolder(h) {
			if taking {
				cfg.Note(fmt.Sprintf("lease %s was held by %q, which no longer runs on this machine: taking it over", cfg.Name, h))
			}
			return cur, nil
		}
		unchanged, renewed := cfg.Seen.see(cur, cfg.Watch())
		if renewed {
			return nil, heldError(cur)
		}
		d := durationOf(cur)
		if unchanged >= d {
			if taking {
				cfg.Note(fmt.Sprintf("lease %s held by %q was not renewed in the %s this run watched it, so its run is gone: taking it over",
					cfg.Name, h, unchanged.Round(time.Second)))
			}
			return cur, nil
		}
		if !waiting {
			waiting = true
			purpose := cur.Annotations[AnnotationPurpose]
			if purpose == "" {
				purpose = "run"
			}
			cfg.Note(fmt.Sprintf("lease %s is held by %q (a %s): watching it for up to %s to see whether that run still renews it "+
				"(no run trusts another machine's clock)", cfg.Name, h, purpose, (d - unchanged).Round(time.Second)))
		}
		wait := d - unchanged
		if localHolder(h) {
			wait = min(wait, LeaseLocalRecheck)
		}
		if cfg.Recheck > 0 {
			wait = min(wait, cfg.Recheck)
		}
		next, err := nextLease(ctx, cs, cfg, cur, wait)
		if err != nil {
			return nil, fmt.Errorf("waiting for lease %s/%s held by %q: %w", cfg.Namespace, cfg.Name, h, err)
		}
		if next == nil {
			return nil, nil
		}
		cur = next
	}
}

// nextLease watches Lease cur for at most wait: the Lease once it changes, cur itself when it did
// not change in time, nil when it was deleted. One watch, from cur's resourceVersion, so no change
// between the read and the watch is missed; a watch the server ends early is opened again.
func nextLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig, cur *coordinationv1.Lease, wait time.Duration) (*coordinationv1.Lease, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	rv := cur.ResourceVersion
	for {
		w, err := c.Watch(wctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", cfg.Name).String(),
			ResourceVersion: rv,
		})
		if err == nil {
			var next *coordinationv1.Lease
			var deleted bool
			next, deleted, rv, err = firstChange(wctx, w, cfg.Name, rv)
			w.Stop()
			switch {
			case deleted:
				return nil, nil
			case next != nil:
				return next, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if wctx.Err() != nil {
			return cur, nil // nothing changed in time
		}
		if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
			// Too old to watch from: what it is now is the change, if any.
			next, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			if err != nil {
				return nil, Explain(fmt.Errorf("reading lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "get", "leases", cfg.Namespace)
			}
			return next, nil
		}
		if err != nil {
			return nil, Explain(fmt.Errorf("watching lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "watch", "leases", cfg.Namespace)
		}
	}
}

// firstChange reads w until Lease name changes: the new Lease, or deleted. It returns neither when
// w or ctx ends first, with the resourceVersion to watch on from.
func firstChange(ctx context.Context, w watch.Interface, name, rv string) (next *coordinationv1.Lease, deleted bool, lastRV string, err error) {
	for {
		var ev watch.Event
		var open bool
		select {
		case <-ctx.Done():
			return nil, false, rv, nil
		case ev, open = <-w.ResultChan():
		}
		if !open {
			return nil, false, rv, nil
		}
		if ev.Type == watch.Error {
			return nil, false, rv, apierrors.FromObject(ev.Object)
		}
		l, ok := ev.Object.(*coordinationv1.Lease)
		if !ok {
			continue
		}
		if ev.Type == watch.Bookmark {
			rv = l.ResourceVersion
			continue
		}
		if l.Name != name { // a watch that ignores the field selector (client-go's fake)
			continue
		}
		if ev.Type == watch.Deleted {
			return nil, true, rv, nil
		}
		return l, false, l.ResourceVersion, nil
	}
}

// Sleep waits d, or until ctx is done (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func takeLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	// A Lease deleted while it was watched is created again; three rounds end a tug of war.
	for range 3 {
		_, err := c.Create(ctx, leaseObject(cfg, cfg.Clock()), metav1.CreateOptions{FieldManager: FieldManager})
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return Explain(fmt.Errorf("creating lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "create", "leases", cfg.Namespace)
		}
		cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Explain(fmt.Errorf("reading lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "get", "leases", cfg.Namespace)
		}
		// Another application's Lease of this name is not taken over, however stale it looks.
		if err := CheckOwner(Ref{Kind: "Lease", Namespace: cfg.Namespace, Name: cfg.Name}, cur, Ownership(cfg.Labels)); err != nil {
			return fmt.Errorf("taking lease %s/%s: %w; delete it if nothing uses it", cfg.Namespace, cfg.Name, err)
		}
		cur, err = watchHolder(ctx, cs, cfg, cur, true)
		if err != nil {
			return err
		}
		if cur == nil {
			continue
		}
		// Free, stale, ours or a dead local process's: take it over. The resourceVersion of what
		// was judged makes a change since (a late renewal, another taker) fail with Conflict.
		next := leaseObject(cfg, cfg.Clock())
		next.ResourceVersion = cur.ResourceVersion
		if _, err := c.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			if apierrors.IsConflict(err) {
				return fmt.Errorf("lease %s/%s changed while this run took it over (its holder renewed it, or another run took it); try again", cfg.Namespace, cfg.Name)
			}
			return Explain(fmt.Errorf("taking over lease %s/%s: %w", cfg.Namespace, cfg.Name, err), "update", "leases", cfg.Namespace)
		}
		return nil
	}
	return fmt.Errorf("lease %s/%s was created and deleted again while this run tried to take it; another run is starting: try again", cfg.Namespace, cfg.Name)
}

// renewLease writes a new renew time if the Lease is still this run's, or returns *LostError.
// The update carries the resourceVersion read, so it cannot overwrite a takeover.
func renewLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &LostError{Namespace: cfg.Namespace, Name: cfg.Name, Purpose: cfg.Purpose, Deleted: true}
	}
	if err != nil {
		return err
	}
	if h := holderOf(cur); h != cfg.Holder {
		return &LostError{Namespace: cfg.Namespace, Name: cfg.Name, Purpose: cfg.Purpose, Holder: h, Deleted: h == ""}
	}
	t := metav1.NewMicroTime(cfg.Clock())
	cur.Spec.RenewTime = &t
	_, err = c.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsNotFound(err) {
		return &LostError{Namespace: cfg.Namespace, Name: cfg.Name, Purpose: cfg.Purpose, Deleted: true}
	}
	return err // a Conflict is retried on the next tick, which reads who holds it
}

func releaseLease(ctx context.Context, cs kubernetes.Interface, cfg LeaseConfig) error {
	c := cs.CoordinationV1().Leases(cfg.Namespace)
	// A renewal cancelled by Release may still be applied by the API server after the read below:
	// a Conflict means the Lease changed since, so it is read again (who holds it now) and retried.
	for attempt := 1; ; attempt++ {
		cur, err := c.Get(ctx, cfg.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("releasing lease %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		if holderOf(cur) != cfg.Holder {
			return nil // taken over: not ours to delete
		}
		err = c.Delete(ctx, cfg.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 3:
			continue
		default:
			return fmt.Errorf("releasing lease %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
	}
}
