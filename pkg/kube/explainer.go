package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

// Waiter runs the waits of every workflow (create, backup, restore, delete) and explains them:
// beside the watch of the object waited for, it watches that object's pods and the namespace's
// Events, says on Progress why the wait goes on each time that changes, stops early with a
// *StuckError when the cause cannot fix itself, and puts the last cause in a *TimeoutError.
type Waiter struct {
	Client kubernetes.Interface
	// Progress receives one line each time the reason for waiting changes; nil discards them.
	Progress func(line string)
	// Now is the clock of grace periods; nil means time.Now.
	Now func() time.Time
	// Grace is how long a cause that may pass must last to be fatal; 0 means DefaultGrace.
	Grace time.Duration
	// Rules are the workflow's own causes, tried before the common ones.
	Rules []Rule
}

// ProgressTo returns a Waiter.Progress that writes each line to w, indented under the step.
func ProgressTo(w io.Writer) func(string) {
	return func(line string) { fmt.Fprintf(w, "  %s\n", line) }
}

func (w Waiter) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

// StuckError is a wait that stopped because waiting cannot help: an image that cannot be pulled,
// a StorageClass that does not exist, a pod refused at creation. Nothing goes on in the cluster
// that would end it, so it is a plain failure (exit status 1), not a timeout.
type StuckError struct {
	Kind, Namespace, Name, What string
	// Cause is one of the Cause* constants.
	Cause string
	// Reason says what is wrong; Detail adds lines; Fix says what to do.
	Reason, Detail, Fix string
}

func (e *StuckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for %s %s/%s %s cannot help: %s", e.Kind, e.Namespace, e.Name, e.What, e.Reason)
	if e.Detail != "" {
		b.WriteString("\n" + e.Detail)
	}
	if e.Fix != "" {
		b.WriteString("\nto fix: " + e.Fix)
	}
	return b.String()
}

// scope is what an explained wait observes besides the object itself.
type scope struct {
	namespace string
	// selector picks the object's pods; nil when unknown (the object does not exist yet).
	selector labels.Selector
	owners   []Owner
}

// explainer watches a scope and keeps its Diagnosis current.
type explainer struct {
	w     Waiter
	scope scope
	kick  chan struct{}

	mu           sync.Mutex
	pods, events cache.Store
	ownerFailure string
	current      Diagnosis
	since        map[string]time.Time

	// Looked up once per wait: whether a StorageClass exists (a Forbidden Get says nothing).
	classes map[string]bool
	logs    map[string]logEntry
}

type logEntry struct {
	key  string // the container's restart count for a previous log
	text string
	at   time.Time
}

// logRefresh is how often the log of a running container that is not ready is read again: log
// lines (the fence's wait) come without any change of an API object.
const logRefresh = 10 * time.Second

func newExplainer(w Waiter, s scope) *explainer {
	return &explainer{w: w, scope: s, kick: make(chan struct{}, 1), since: map[string]time.Time{},
		classes: map[string]bool{}, logs: map[string]logEntry{}}
}

func (x *explainer) poke() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// setOwnerFailure records the Deployment's ReplicaFailure message (condition functions call it).
func (x *explainer) setOwnerFailure(msg string) {
	x.mu.Lock()
	changed := x.ownerFailure != msg
	x.ownerFailure = msg
	x.mu.Unlock()
	if changed {
		x.poke()
	}
}

// diagnosis is the current Diagnosis.
func (x *explainer) diagnosis() Diagnosis {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.current
}

// run watches until ctx ends or the diagnosis is fatal, which it passes to stuck.
func (x *explainer) run(ctx context.Context, stuck func(Diagnosis)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if x.scope.selector != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.watchStore(ctx, podListWatch(x.w.Client, x.scope.namespace, x.scope.selector.String()), &corev1.Pod{},
				func(s cache.Store) { x.pods = s })
		}()
	}
	// Events only explain: without the right to read them the wait goes on unexplained, and an
	// informer that cannot list would retry for ever.
	if _, err := x.w.Client.CoreV1().Events(x.scope.namespace).List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := x.w.Client.CoreV1().Events(x.scope.namespace)
			lw := &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return c.List(ctx, o)
				},
				WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return c.Watch(ctx, o)
				},
			}
			x.watchStore(ctx, lw, &corev1.Event{}, func(s cache.Store) { x.events = s })
		}()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
		case <-timer.C:
		}
		d, next := x.update(ctx)
		if d.Fatal {
			stuck(d)
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// watchStore keeps a watched store of lw in the explainer (set under its lock) and pokes it on
// every change, until ctx ends.
func (x *explainer) watchStore(ctx context.Context, lw cache.ListerWatcher, obj runtime.Object, set func(cache.Store)) {
	t := &target{kind: "explanation", namespace: x.scope.namespace}
	_ = until(ctx, t, 0, lw, obj,
		func(s cache.Store) (bool, error) {
			x.mu.Lock()
			set(s)
			x.mu.Unlock()
			x.poke()
			return false, nil
		},
		func(watch.Event) (bool, error) {
			x.poke()
			return false, nil
		})
}

// update gathers an Observation, diagnoses it, reports a changed explanation, and returns the
// diagnosis and when to look again without a change.
func (x *explainer) update(ctx context.Context) (Diagnosis, time.Duration) {
	o := x.observe(ctx)
	now := x.w.now()
	d := Diagnose(o, now, x.w.Rules...)
	x.mu.Lock()
	if d.Key != "" {
		if _, ok := x.since[d.Key]; !ok {
			x.since[d.Key] = now
		}
	}
	prev := x.current
	x.current = d
	x.mu.Unlock()
	// A fatal diagnosis is the wait's error, printed once by the command.
	if d.Text != "" && d.Text != prev.Text && !d.Fatal && x.w.Progress != nil {
		x.w.Progress(d.Text)
	}
	next := time.Hour
	if !d.RecheckAt.IsZero() {
		next = max(d.RecheckAt.Sub(now), 100*time.Millisecond)
	}
	for _, p := range o.Pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && !podutils.IsPodReady(p) {
			next = min(next, logRefresh)
		}
	}
	return d, next
}

// observe reads what Diagnose needs: the stores, then the PVCs of pending pods, StorageClasses,
// nodes of pods stuck terminating and container logs. Reads that fail (Forbidden among them) leave
// their part out: an explanation is a help, never a reason for the wait to fail.
func (x *explainer) observe(ctx context.Context) Observation {
	x.mu.Lock()
	o := Observation{Namespace: x.scope.namespace, Owners: x.scope.owners, OwnerFailure: x.ownerFailure,
		Since: make(map[string]time.Time, len(x.since)), Grace: x.w.Grace,
		Claims: map[string]*corev1.PersistentVolumeClaim{}, MissingClasses: map[string]bool{},
		NodesNotReady: map[string]string{}, Logs: map[string]string{}}
	for k, v := range x.since {
		o.Since[k] = v
	}
	if x.pods != nil {
		for _, obj := range x.pods.List() {
			// The fake clientset's watches ignore the selector; so may a careless proxy.
			if p, ok := obj.(*corev1.Pod); ok && x.scope.selector.Matches(labels.Set(p.Labels)) {
				o.Pods = append(o.Pods, p)
			}
		}
	}
	var events []corev1.Event
	if x.events != nil {
		for _, obj := range x.events.List() {
			if e, ok := obj.(*corev1.Event); ok {
				events = append(events, *e)
			}
		}
	}
	x.mu.Unlock()

	claims := map[string]bool{}
	pods := map[string]bool{}
	for _, p := range o.Pods {
		pods[p.Name] = true
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claims[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	for _, e := range events {
		ref := e.InvolvedObject
		if (ref.Kind == "Pod" && pods[ref.Name]) || (ref.Kind == "PersistentVolumeClaim" && claims[ref.Name]) || ownedBy(o, ref) {
			o.Events = append(o.Events, e)
		}
	}
	for name := range claims {
		x.observeClaim(ctx, &o, name)
	}
	stuck, _ := terminatingDeadline(o, x.w.now())
	for _, p := range stuck {
		x.observeNode(ctx, &o, p.Spec.NodeName)
	}
	for _, p := range o.Pods {
		if p.DeletionTimestamp == nil && !podutils.IsPodReady(p) {
			x.observeLogs(ctx, &o, p)
		}
	}
	return o
}

func (x *explainer) observeClaim(ctx context.Context, o *Observation, name string) {
	pvc, err := x.w.Client.CoreV1().PersistentVolumeClaims(o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		o.Claims[name] = nil
		return
	}
	if err != nil {
		return
	}
	o.Claims[name] = pvc
	if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return
	}
	class := *pvc.Spec.StorageClassName
	exists, known := x.classes[class]
	if !known {
		_, err := x.w.Client.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
		switch {
		case err == nil:
			exists, known = true, true
		case apierrors.IsNotFound(err):
			exists, known = false, true
		case apierrors.IsForbidden(err):
			// StorageClasses are cluster-scoped; the namespaced Role does not grant them. The PV
			// controller's ProvisioningFailed event says the same where it is allowed to be read.
			exists, known = true, true
		}
		if known {
			x.classes[class] = exists
		}
	}
	if known && !exists {
		o.MissingClasses[class] = true
	}
}

func (x *explainer) observeNode(ctx context.Context, o *Observation, name string) {
	if name == "" {
		return
	}
	n, err := x.w.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		o.NodesNotReady[name] = "the Node object is gone"
		return
	}
	if err != nil {
		return // Nodes are cluster-scoped: the NodeNotReady event on the pod may still tell
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			o.NodesNotReady[name] = strings.TrimSpace(c.Reason + " " + c.Message)
		}
	}
}

// observeLogs reads the last lines of p's containers that say something about the wait: the
// previous run of a crash-looping one (once per restart), the current run of a running one.
func (x *explainer) observeLogs(ctx context.Context, o *Observation, p *corev1.Pod) {
	for _, cs := range containerStatuses(p) {
		key := p.Name + "/" + cs.Name
		var opts corev1.PodLogOptions
		var version string
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff":
			opts = corev1.PodLogOptions{Container: cs.Name, Previous: true, TailLines: ptrTo(int64(8))}
			version = fmt.Sprintf("previous %d", cs.RestartCount)
		case cs.State.Running != nil:
			opts = corev1.PodLogOptions{Container: cs.Name, TailLines: ptrTo(int64(3))}
			version = fmt.Sprintf("running %d", cs.RestartCount)
		default:
			continue
		}
		x.mu.Lock()
		cached, ok := x.logs[key]
		x.mu.Unlock()
		fresh := ok && cached.key == version && (opts.Previous || x.w.now().Sub(cached.at) < logRefresh)
		if !fresh {
			opts.LimitBytes = ptrTo(int64(8 << 10))
			b, err := x.w.Client.CoreV1().Pods(o.Namespace).GetLogs(p.Name, &opts).DoRaw(ctx)
			if err != nil {
				continue
			}
			cached = logEntry{key: version, text: output.Clean(string(b)), at: x.w.now()}
			x.mu.Lock()
			x.logs[key] = cached
			x.mu.Unlock()
		}
		o.Logs[key] = cached.text
	}
}

// explained runs wait (the watch of the object itself) beside an explainer of s. A fatal
// diagnosis ends the wait with a *StuckError; a *TimeoutError gets the last diagnosis as its Why.
func (w Waiter) explained(ctx context.Context, t *target, s scope, wait func(context.Context, *explainer) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x := newExplainer(w, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		x.run(ctx, func(d Diagnosis) {
			cancel(&StuckError{Kind: t.kind, Namespace: t.namespace, Name: t.name, What: t.what,
				Cause: d.Cause, Reason: d.Text, Detail: d.Detail, Fix: d.Fix})
		})
	}()
	err := wait(ctx, x)
	if stuck, ok := context.Cause(ctx).(*StuckError); ok {
		<-done
		return stuck
	}
	cancel(nil)
	<-done
	var te *TimeoutError
	if errors.As(err, &te) {
		if d := x.diagnosis(); d.Text != "" {
			te.Why = d.Text
			if d.Detail != "" {
				te.Why += "\n" + d.Detail
			}
		}
	}
	return err
}

// Why says, from one read of the cluster, why the pods matching selector are not ready: for a
// command that needs a ready pod now rather than waiting for one (backup, info, check). "" when
// there is nothing to say or the reads were refused.
func (w Waiter) Why(ctx context.Context, ns string, selector labels.Selector, owners ...Owner) string {
	d := w.Explain(ctx, ns, selector, owners...)
	if d.Detail != "" {
		return d.Text + "\n" + d.Detail
	}
	return d.Text
}

// Explain is Why's whole Diagnosis, for a caller that polls by other means (a psql query) and
// stops when waiting cannot help (Fatal). A zero Diagnosis when the reads were refused.
func (w Waiter) Explain(ctx context.Context, ns string, selector labels.Selector, owners ...Owner) Diagnosis {
	x := newExplainer(w, scope{namespace: ns, selector: selector, owners: owners})
	pods, err := w.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return Diagnosis{}
	}
	x.pods = cache.NewStore(cache.MetaNamespaceKeyFunc)
	for i := range pods.Items {
		_ = x.pods.Add(&pods.Items[i])
	}
	// From the API server's watch cache: callers may ask again each second while they poll.
	if events, err := w.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err == nil {
		x.events = cache.NewStore(cache.MetaNamespaceKeyFunc)
		for i := range events.Items {
			_ = x.events.Add(&events.Items[i])
		}
	}
	d, _ := x.update(ctx)
	return d
}
