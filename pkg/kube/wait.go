package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// TimeoutError says which object did not reach which state in time. The work goes on in the
// cluster, so it maps to exit status 3 (it wraps exitcode.ErrTimeout).
type TimeoutError struct {
	Kind      string // lower-case kind: "deployment"
	Namespace string
	Name      string
	// What the wait was for: "to become available".
	What    string
	Timeout time.Duration
	// Last is the last observed state, when known: "0 of 1 replicas available".
	Last string
	// Why is the explainer's last reason for the wait, when it had one (Waiter).
	Why string
}

func (e *TimeoutError) Error() string {
	last := ""
	if e.Last != "" {
		last = " (last seen: " + e.Last + ")"
	}
	msg := fmt.Sprintf("timed out after %s waiting for %s %s/%s %s%s", e.Timeout, e.Kind, e.Namespace, e.Name, e.What, last)
	if e.Why != "" {
		msg += ": " + e.Why + "\nThe cluster may still get there: "
	} else {
		msg += "; the cluster keeps working on it: "
	}
	return msg + fmt.Sprintf("re-run the same command to resume, or look with: kubectl describe %s -n %s %s", e.Kind, e.Namespace, e.Name)
}

func (e *TimeoutError) Unwrap() error { return exitcode.ErrTimeout }

// ErrDeleted is wrapped by waits that saw their object deleted while waiting for it.
var ErrDeleted = errors.New("deleted while waiting")

// JobFailedError is a Job that reached its Failed condition.
type JobFailedError struct {
	Namespace, Name string
	Reason, Message string
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("job %s/%s failed: %s: %s; see its log with: kubectl logs -n %s job/%s",
		e.Namespace, e.Name, e.Reason, e.Message, e.Namespace, e.Name)
}

// target names the object a wait watches, and keeps the last observed state for the message.
type target struct {
	kind, namespace, name, what string
	last                        string
}

// Re-list intervals of until: the watch alone loses nothing against a real API server, but a
// re-list now and then also recovers from a dropped watch event (and from client-go's fake
// clientset, whose watches miss changes made between the List and the Watch).
const (
	firstResync = 250 * time.Millisecond
	maxResync   = 30 * time.Second
)

// until runs watchtools.UntilWithSync on lw with the optional timeout, re-listing with backoff,
// and turns the outcome into our errors: a *TimeoutError when the timeout elapses, the parent's
// error when it is cancelled.
func until(ctx context.Context, t *target, timeout time.Duration, lw cache.ListerWatcher, obj runtime.Object,
	pre watchtools.PreconditionFunc, cond watchtools.ConditionFunc) error {
	wctx, cancel := watchtools.ContextWithOptionalTimeout(ctx, timeout)
	defer cancel()
	for slice := firstResync; ; slice = min(2*slice, maxResync) {
		sctx, scancel := context.WithTimeout(wctx, slice)
		_, err := watchtools.UntilWithSync(sctx, lw, obj, pre, cond)
		scancel()
		if err == nil {
			return nil
		}
		interrupted := wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
		if !interrupted {
			return fmt.Errorf("waiting for %s %s/%s %s: %w", t.kind, t.namespace, t.name, t.what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s %s/%s %s: %w", t.kind, t.namespace, t.name, t.what, ctx.Err())
		}
		if wctx.Err() != nil {
			return &TimeoutError{Kind: t.kind, Namespace: t.namespace, Name: t.name, What: t.what, Timeout: timeout, Last: t.last}
		}
	}
}

// nameListWatch lists and watches one object by a metadata.name field selector.
func nameListWatch(name string, list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return watchFn(ctx, o)
		},
	}
}

// podListWatch lists and watches the pods of ns matching a label selector.
func podListWatch(cs kubernetes.Interface, ns, selector string) *cache.ListWatch {
	c := cs.CoreV1().Pods(ns)
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return c.Watch(ctx, o)
		},
	}
}

func deletedError(t *target) error {
	return fmt.Errorf("%s %s/%s was %w", t.kind, t.namespace, t.name, ErrDeleted)
}

// WaitForDeploymentAvailable is Waiter{Client: cs}.DeploymentAvailable: explained, without progress.
func WaitForDeploymentAvailable(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	return Waiter{Client: cs}.DeploymentAvailable(ctx, ns, name, timeout)
}

// DeploymentAvailable waits until the Deployment's rollout is complete and all its replicas are
// available (kubectl rollout status). timeout 0 waits until ctx ends.
func (w Waiter) DeploymentAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	c := w.Client.AppsV1().Deployments(ns)
	t := &target{kind: "deployment", namespace: ns, name: name, what: "to become available"}
	// Pods are refused at creation by the ReplicaSet, whose events say why.
	s := scope{namespace: ns, owners: []Owner{{Kind: "ReplicaSet", Name: name + "-"}, {Kind: "Deployment", Name: name}}}
	if d, err := c.Get(ctx, name, metav1.GetOptions{}); err == nil && d.Spec.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			s.selector = sel
		}
	}
	return w.explained(ctx, t, s, func(ctx context.Context, x *explainer) error {
		lw := nameListWatch(name,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) })
		return until(ctx, t, timeout, lw, &appsv1.Deployment{}, nil, func(ev watch.Event) (bool, error) {
			if ev.Type == watch.Deleted {
				return false, deletedError(t)
			}
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				return false, nil
			}
			x.setOwnerFailure(replicaFailure(d))
			done, last, err := DeploymentAvailable(d)
			t.last = last
			return done, err
		})
	})
}

// replicaFailure is the message of d's ReplicaFailure condition (its ReplicaSet cannot create pods).
func replicaFailure(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return c.Message
		}
	}
	return ""
}

// DeploymentAvailable is the condition of WaitForDeploymentAvailable: the controller has seen the
// latest spec, every replica is updated, and every updated replica is available. It fails when the
// rollout exceeded its progress deadline. last describes the state for people.
func DeploymentAvailable(d *appsv1.Deployment) (done bool, last string, err error) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	last = fmt.Sprintf("%d of %d replicas available", st.AvailableReplicas, want)
	if d.Generation > st.ObservedGeneration {
		return false, "waiting for the controller to see the new spec", nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return false, last, fmt.Errorf("deployment %s/%s exceeded its progress deadline: %s", d.Namespace, d.Name, c.Message)
		}
	}
	if st.UpdatedReplicas < want || st.Replicas > st.UpdatedReplicas || st.AvailableReplicas < st.UpdatedReplicas {
		return false, last, nil
	}
	return true, last, nil
}

// WaitForPodGone waits until the pod no longer exists (it may not exist to begin with).
func WaitForPodGone(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	c := cs.CoreV1().Pods(ns)
	t := &target{kind: "pod", namespace: ns, name: name, what: "to be gone"}
	lw := nameListWatch(name,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) })
	gone := func(store cache.Store) (bool, error) {
		_, exists, err := store.GetByKey(ns + "/" + name)
		return !exists, err
	}
	return until(ctx, t, timeout, lw, &corev1.Pod{}, gone, podDeleted)
}

// WaitForJobGone waits until the Job no longer exists (it may not exist to begin with).
func WaitForJobGone(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	c := cs.BatchV1().Jobs(ns)
	t := &target{kind: "job", namespace: ns, name: name, what: "to be gone"}
	lw := nameListWatch(name,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) })
	gone := func(store cache.Store) (bool, error) {
		_, exists, err := store.GetByKey(ns + "/" + name)
		return !exists, err
	}
	return until(ctx, t, timeout, lw, &batchv1.Job{}, gone, podDeleted)
}

// podDeleted is the condition of WaitForPodGone and WaitForJobGone: the object's Deleted event.
func podDeleted(ev watch.Event) (bool, error) { return ev.Type == watch.Deleted, nil }

// WaitForPodsGone is Waiter{Client: cs}.PodsGone: explained, without progress.
func WaitForPodsGone(ctx context.Context, cs kubernetes.Interface, ns, selector string, timeout time.Duration) error {
	return Waiter{Client: cs}.PodsGone(ctx, ns, selector, timeout)
}

// PodsGone waits until no pod matches the label selector (the pods of a deleted Deployment). A
// pod stuck terminating on a node that is down is explained, with how to force it.
func (w Waiter) PodsGone(ctx context.Context, ns, selector string, timeout time.Duration) error {
	sel, err := labels.Parse(selector)
	if err != nil {
		return fmt.Errorf("waiting for pods %q to be gone: %w", selector, err)
	}
	t := &target{kind: "pods", namespace: ns, name: selector, what: "to be gone"}
	return w.explained(ctx, t, scope{namespace: ns, selector: sel}, func(ctx context.Context, _ *explainer) error {
		lw := podListWatch(w.Client, ns, selector)
		var store cache.Store
		// left counts the matching pods in the informer's store (already updated when the condition
		// sees an event). It filters again because not every watch honours the selector.
		left := func() int {
			n := 0
			for _, o := range store.List() {
				if p, ok := o.(*corev1.Pod); ok && sel.Matches(labels.Set(p.Labels)) {
					n++
				}
			}
			t.last = fmt.Sprintf("%d pods left", n)
			return n
		}
		pre := func(s cache.Store) (bool, error) {
			store = s
			return left() == 0, nil
		}
		return until(ctx, t, timeout, lw, &corev1.Pod{}, pre, func(watch.Event) (bool, error) {
			return left() == 0, nil
		})
	})
}

// WaitForJobComplete waits until the Job completes. A failed Job returns *JobFailedError.
func WaitForJobComplete(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	c := cs.BatchV1().Jobs(ns)
	t := &target{kind: "job", namespace: ns, name: name, what: "to complete"}
	lw := nameListWatch(name,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) })
	return until(ctx, t, timeout, lw, &batchv1.Job{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, deletedError(t)
		}
		j, ok := ev.Object.(*batchv1.Job)
		if !ok {
			return false, nil
		}
		t.last = fmt.Sprintf("%d active, %d failed pods", j.Status.Active, j.Status.Failed)
		return JobComplete(j)
	})
}

// JobPodLabel is set by the Job controller on every pod of a Job, to the Job's name
// (Kubernetes 1.27+).
const JobPodLabel = "batch.kubernetes.io/job-name"

// WaitForJobSucceeded is Waiter{Client: cs}.JobSucceeded: explained, without progress.
func WaitForJobSucceeded(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	return Waiter{Client: cs}.JobSucceeded(ctx, ns, name, timeout)
}

// JobSucceeded waits until the Job has succeeded: every container of one of its pods exited 0,
// or the Job's Complete condition, whichever is seen first. The Job controller sets Complete about
// 2 s after the pod's containers end (the kubelet tears the pod down before its phase is
// Succeeded, and the controller batches pod updates and removes its tracking finalizer), time a
// restore would spend doing nothing; for a Job of one completion, that pod is its success. A
// Failed condition returns *JobFailedError. The Job must run one pod to completion.
func (w Waiter) JobSucceeded(ctx context.Context, ns, name string, timeout time.Duration) error {
	t := &target{kind: "job", namespace: ns, name: name, what: "to succeed"}
	s := scope{namespace: ns, selector: labels.SelectorFromSet(labels.Set{JobPodLabel: name}),
		owners: []Owner{{Kind: "Job", Name: name}}}
	return w.explained(ctx, t, s, func(ctx context.Context, _ *explainer) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		job := make(chan error, 1)
		pod := make(chan error, 1)
		go func() { job <- WaitForJobComplete(ctx, w.Client, ns, name, timeout) }()
		go func() { pod <- waitForJobPodSucceeded(ctx, w.Client, ns, name, timeout) }()
		select {
		case err := <-job:
			return err
		case err := <-pod:
			if err == nil {
				return nil
			}
			// The pod watch only ends in success or with the wait itself; the Job's watch says which.
			return <-job
		}
	})
}

// waitForJobPodSucceeded waits until a pod of the Job has phase Succeeded.
func waitForJobPodSucceeded(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	t := &target{kind: "job", namespace: ns, name: name, what: "to have a pod that succeeded"}
	lw := podListWatch(cs, ns, labels.SelectorFromSet(labels.Set{JobPodLabel: name}).String())
	return until(ctx, t, timeout, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		return ok && ev.Type != watch.Deleted && p.Labels[JobPodLabel] == name && podSucceeded(p), nil
	})
}

// podSucceeded says every container of p exited 0. The kubelet reports that as soon as they have,
// and the Succeeded phase only after tearing the pod down, a second or two later.
func podSucceeded(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if p.Status.Phase == corev1.PodFailed || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) || len(p.Spec.Containers) == 0 {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			return false
		}
	}
	return true
}

// JobComplete is the condition of WaitForJobComplete.
func JobComplete(j *batchv1.Job) (bool, error) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, nil
		case batchv1.JobFailed:
			return false, &JobFailedError{Namespace: j.Namespace, Name: j.Name, Reason: c.Reason, Message: c.Message}
		}
	}
	return false, nil
}

// WaitForPod waits until cond holds for the named pod; what describes it for the timeout message
// ("to be running"). The pod being deleted is an error.
func WaitForPod(ctx context.Context, cs kubernetes.Interface, ns, name, what string, timeout time.Duration,
	cond func(*corev1.Pod) (bool, error)) error {
	c := cs.CoreV1().Pods(ns)
	t := &target{kind: "pod", namespace: ns, name: name, what: what}
	lw := nameListWatch(name,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) })
	return until(ctx, t, timeout, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, deletedError(t)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		t.last = "phase " + string(p.Status.Phase)
		return cond(p)
	})
}

// PodReady is a WaitForPod condition: the pod is Running and Ready.
func PodReady(p *corev1.Pod) (bool, error) {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return false, fmt.Errorf("pod %s/%s ended with phase %s", p.Namespace, p.Name, p.Status.Phase)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}
