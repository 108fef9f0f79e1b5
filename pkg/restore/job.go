package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// AnnotationAttempts on the new data PVC counts the restore Jobs started on it. From the second
// one on, the PVC may hold a failed restore's files, which pgBackRest only overwrites with --delta.
const AnnotationAttempts = "pgbackrest.dev/restore-attempts"

// jobNameLabel is set by the Job controller on its pods.
const jobNameLabel = kube.JobPodLabel

func (r *Restore) getJob(ctx context.Context) (*batchv1.Job, error) {
	j, err := r.d.Client.BatchV1().Jobs(r.Spec.Namespace).Get(ctx, r.Job, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading Job %s/%s: %w", r.Spec.Namespace, r.Job, err), "get", "jobs", r.Spec.Namespace)
	}
	return j, nil
}

func (r *Restore) jobComplete(ctx context.Context) (bool, error) {
	// Later evidence proves this step: once the primary runs on the restore's PVC, the Job's work
	// is live data, whether or not the Job still exists (a TTL policy, someone tidying up). A
	// new Job there would restore with --delta over it.
	if live, err := r.pvcIsLive(ctx); err != nil || live {
		return live, err
	}
	j, err := r.getJob(ctx)
	if err != nil || j == nil {
		return false, err
	}
	done, err := kube.JobComplete(j)
	if err != nil {
		return false, nil // failed: Apply deletes it and restores again
	}
	return done, nil
}

// pvcIsLive says whether the restore's PVC is the live data volume: the cluster spec records it
// as such, or the primary Deployment mounts it.
func (r *Restore) pvcIsLive(ctx context.Context) (bool, error) {
	cm, err := r.getCM(ctx)
	if err != nil {
		return false, err
	}
	if cur, err := cluster.Parse(cm.Data[cluster.SpecKey], cm.Namespace); err == nil && cur.DataPVC == r.PVC {
		return true, nil
	}
	d, pvc, err := r.primaryDeployment(ctx)
	if err != nil {
		return false, err
	}
	return d != nil && pvc == r.PVC, nil
}

// runJob creates the restore Job (or attaches to the one a killed run left running), streams its
// log and waits for it. A failed Job from an earlier attempt is deleted first and the restore
// runs again on the same PVC with --delta.
func (r *Restore) runJob(ctx context.Context) error {
	ns := r.Spec.Namespace
	j, err := r.getJob(ctx)
	if err != nil {
		return err
	}
	if j != nil {
		if _, ferr := kube.JobComplete(j); ferr != nil {
			fmt.Fprintf(r.d.ErrOut, "  deleting the failed Job %s of an earlier attempt\n", r.Job)
			if err := r.deleteJob(ctx); err != nil {
				return err
			}
			j = nil
		}
	}
	if j == nil {
		// Never a restore Job for the PVC that the spec records as live, or that the primary uses.
		if live, err := r.pvcIsLive(ctx); err != nil || live {
			if err == nil {
				err = fmt.Errorf("PVC %s/%s holds the live database (the cluster spec or the primary uses it): no restore Job runs on it; "+
					"start another restore to restore again (it allocates a new PVC)", ns, r.PVC)
			}
			return err
		}
		attempts, err := r.countAttempt(ctx)
		if err != nil {
			return err
		}
		delta := attempts > 1
		if delta {
			fmt.Fprintf(r.d.ErrOut, "  PVC %s holds an earlier attempt's files: restoring with --delta\n", r.PVC)
		}
		job := manifest.RestoreJob(r.newSpec(), r.ID, r.PVC, r.restoreArgs(delta))
		if _, err := kube.Apply(ctx, r.d.Client, job, kube.ApplyOptions{}); err != nil {
			return kube.Explain(fmt.Errorf("creating Job %s/%s: %w", ns, r.Job, err), "patch", "jobs", ns)
		}
		fmt.Fprintf(r.d.ErrOut, "  restore Job %s started (attempt %d)\n", r.Job, attempts)
	} else {
		fmt.Fprintf(r.d.ErrOut, "  restore Job %s is already running: following it\n", r.Job)
	}

	w := newLogWriter(r.d.ErrOut, r.d.TTY, r.d.Now)
	logCtx, cancel := context.WithCancel(ctx)
	logDone, streaming := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(logDone)
		r.followLog(logCtx, w, streaming)
	}()
	err = r.waiter().JobSucceeded(ctx, ns, r.Job, r.cfg.Timeout)
	select {
	case <-streaming:
		select {
		case <-logDone: // the container ended, so its log did
		case <-time.After(5 * time.Second):
		}
	default: // the pod's log was never opened: nothing to drain
	}
	cancel()
	<-logDone
	w.Close()

	var failed *kube.JobFailedError
	if errors.As(err, &failed) {
		return &JobFailedError{Namespace: ns, Job: r.Job, LogTail: r.logTail(ctx, w), OldPVC: r.OldPVC, PVC: r.PVC, Err: failed}
	}
	return err
}

// JobFailedError says the restore Job failed. Its message carries the end of the Job's log and
// what to run next, so Run returns it as it is rather than inside workflow's StepError, whose
// "re-run the same command to resume" would give a second, vaguer hint.
type JobFailedError struct {
	Namespace, Job string
	// LogTail is the end of the Job's log (or why there is none).
	LogTail string
	// OldPVC is the data PVC the cluster ran on, untouched; PVC the one the Job restored into.
	OldPVC, PVC string
	// Err is the Job's own failure, with the Job controller's reason.
	Err *kube.JobFailedError
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("restore Job %s/%s failed (%s: %s). Last lines of its log:\n%s\n"+
		"The old data PVC %s is untouched. Fix the cause and re-run: the same command restores again on PVC %s (with --delta); "+
		"a corrected target or set needs --abandon, which starts over on a new PVC (every PVC is kept)",
		e.Namespace, e.Job, e.Err.Reason, e.Err.Message, indent(e.LogTail), e.OldPVC, e.PVC)
}

func (e *JobFailedError) Unwrap() error { return e.Err }

// countAttempt increments the attempt counter on the new PVC and returns the new count.
func (r *Restore) countAttempt(ctx context.Context) (int, error) {
	p, err := r.d.Client.CoreV1().PersistentVolumeClaims(r.Spec.Namespace).Get(ctx, r.PVC, metav1.GetOptions{})
	if err != nil {
		return 0, kube.Explain(fmt.Errorf("reading PVC %s/%s: %w", r.Spec.Namespace, r.PVC, err), "get", "persistentvolumeclaims", r.Spec.Namespace)
	}
	n, _ := strconv.Atoi(p.Annotations[AnnotationAttempts])
	n++
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations":     map[string]string{AnnotationAttempts: strconv.Itoa(n)},
		"resourceVersion": p.ResourceVersion,
	}})
	_, err = r.d.Client.CoreV1().PersistentVolumeClaims(r.Spec.Namespace).Patch(ctx, r.PVC, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return 0, kube.Explain(fmt.Errorf("counting restore attempts on PVC %s/%s: %w", r.Spec.Namespace, r.PVC, err), "patch", "persistentvolumeclaims", r.Spec.Namespace)
	}
	return n, nil
}

// deleteJob deletes the failed restore Job and waits until it and its pods are gone, so a new
// one with the same name can be created.
func (r *Restore) deleteJob(ctx context.Context) error {
	ns := r.Spec.Namespace
	ref := kube.Ref{Kind: "Job", Namespace: ns, Name: r.Job}
	if err := kube.DeleteOwned(ctx, r.d.Client, ref, cluster.Owner(r.Spec.Name), metav1.DeletePropagationForeground); err != nil {
		return fmt.Errorf("deleting the failed Job: %w", err)
	}
	if err := kube.WaitForJobGone(ctx, r.d.Client, ns, r.Job, r.cfg.Timeout); err != nil {
		return fmt.Errorf("waiting for the failed Job %s/%s to be deleted: %w", ns, r.Job, err)
	}
	return r.waiter().PodsGone(ctx, ns, jobNameLabel+"="+r.Job, r.cfg.Timeout)
}

// followLog waits for the Job's pod to start and streams its log into w until it ends.
// streaming is closed once the log is open.
func (r *Restore) followLog(ctx context.Context, w *logWriter, streaming chan<- struct{}) {
	pod, err := r.waitJobPod(ctx)
	if err != nil || pod == "" {
		return
	}
	req := r.d.Client.CoreV1().Pods(r.Spec.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: manifest.ContainerRestore, Follow: true})
	rc, err := req.Stream(ctx)
	if err != nil {
		return
	}
	defer rc.Close()
	close(streaming)
	_ = copyLines(w, rc)
}

// waitJobPod watches the Job's pods until one has left Pending, and returns its name.
func (r *Restore) waitJobPod(ctx context.Context) (string, error) {
	c := r.d.Client.CoreV1().Pods(r.Spec.Namespace)
	sel := jobNameLabel + "=" + r.Job
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return c.Watch(ctx, o)
		},
	}
	var name string
	started := func(p *corev1.Pod) bool {
		if p.DeletionTimestamp != nil || p.Labels[jobNameLabel] != r.Job {
			return false
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Running != nil || s.State.Terminated != nil {
				return true
			}
		}
		return p.Status.Phase != corev1.PodPending && p.Status.Phase != ""
	}
	pre := func(store cache.Store) (bool, error) {
		for _, o := range store.List() {
			if p, ok := o.(*corev1.Pod); ok && started(p) {
				name = p.Name
				return true, nil
			}
		}
		return false, nil
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, pre, func(ev watch.Event) (bool, error) {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && started(p) {
			name = p.Name
			return true, nil
		}
		return false, nil
	})
	return name, err
}

// logTail returns the end of the Job's log: what was streamed, else read afresh.
func (r *Restore) logTail(ctx context.Context, w *logWriter) string {
	w.mu.Lock()
	tail := strings.Join(w.tail, "\n")
	w.mu.Unlock()
	if strings.TrimSpace(tail) != "" {
		return lastLines(tail, 20)
	}
	pods, err := r.d.Client.CoreV1().Pods(r.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: jobNameLabel + "=" + r.Job})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no log: see kubectl -n %s describe job %s)", r.Spec.Namespace, r.Job)
	}
	lines := int64(20)
	b, err := r.d.Client.CoreV1().Pods(r.Spec.Namespace).GetLogs(pods.Items[0].Name,
		&corev1.PodLogOptions{Container: manifest.ContainerRestore, TailLines: &lines}).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(reading the log failed: %v)", err)
	}
	return strings.TrimRight(string(b), "\n")
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ")
}
