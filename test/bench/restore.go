package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// RestoreRow is `kubectl pgbackrest restore --yes` from one repository, measured Runs times, with
// the parts that must happen in any restore on Kubernetes.
type RestoreRow struct {
	Storage      string  `json:"storage"`
	TotalSeconds Summary `json:"totalSeconds"`
	// PGBackRestSeconds is pgBackRest's own restore time, from the Job's log.
	PGBackRestSeconds Summary `json:"pgbackrestSeconds"`
	// JobPodStartSeconds is the restore Job's pod from creation to its container running
	// (scheduling, binding the new PVC, starting the container).
	JobPodStartSeconds Summary `json:"jobPodStartSeconds"`
	// PrimaryStartToReadySeconds is the new primary's pod from creation to Ready (PostgreSQL
	// replaying WAL until consistent and accepting connections).
	PrimaryStartToReadySeconds Summary `json:"primaryStartToReadySeconds"`
	// Overhead is total / (pgBackRest + Job pod start + primary start to ready).
	Overhead Summary `json:"overhead"`
	// JobToPodSeconds is the Job controller creating the Job's pod; PodRunSeconds the restore
	// container from running to terminated (pgBackRest plus its start and exit);
	// PodEndToCompleteSeconds the pod's end until the Job is Complete, which the plugin waits for.
	JobToPodSeconds         Summary `json:"jobToPodSeconds"`
	PodRunSeconds           Summary `json:"podRunSeconds"`
	PodEndToCompleteSeconds Summary `json:"podEndToCompleteSeconds"`
	// Steps are the plugin's own steps (median seconds each), which say where the rest goes.
	Steps []StepSummary `json:"steps"`
}

// StepSummary is one plugin step's time across runs.
type StepSummary struct {
	Name    string  `json:"name"`
	Seconds Summary `json:"seconds"`
}

// podTimes are when the bench saw a pod reach each state (local clock, from a watch).
type podTimes struct {
	added, running, ready, terminated time.Time
}

// jobTimes are when the bench saw the restore Job created and complete.
type jobTimes struct {
	added, complete time.Time
}

// podWatch records when pods of a namespace are created, run and become ready.
type podWatch struct {
	mu   sync.Mutex
	pods map[string]*podTimes
	role map[string]string
	job  jobTimes
	stop func()
	done chan struct{}
}

func (b *bench) watchPods(ctx context.Context) (*podWatch, error) {
	pods := b.client.CoreV1().Pods(b.cfg.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		return nil, err
	}
	jobs := b.client.BatchV1().Jobs(b.cfg.Namespace)
	jobList, err := jobs.List(ctx, metav1.ListOptions{})
	if err != nil {
		w.Stop()
		return nil, err
	}
	jw, err := jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: jobList.ResourceVersion})
	if err != nil {
		w.Stop()
		return nil, err
	}
	pw := &podWatch{pods: map[string]*podTimes{}, role: map[string]string{}, done: make(chan struct{})}
	pw.stop = func() { w.Stop(); jw.Stop() }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
				pw.see(p, ev.Type, time.Now())
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev := range jw.ResultChan() {
			if j, ok := ev.Object.(*batchv1.Job); ok && ev.Type != watch.Deleted {
				pw.seeJob(j, ev.Type, time.Now())
			}
		}
	}()
	go func() { wg.Wait(); close(pw.done) }()
	return pw, nil
}

func (pw *podWatch) seeJob(j *batchv1.Job, ev watch.EventType, now time.Time) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if ev == watch.Added && pw.job.added.IsZero() {
		pw.job.added = now
	}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue && pw.job.complete.IsZero() && !pw.job.added.IsZero() {
			pw.job.complete = now
		}
	}
}

func (pw *podWatch) see(p *corev1.Pod, ev watch.EventType, now time.Time) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	t, ok := pw.pods[p.Name]
	if !ok {
		if ev != watch.Added {
			return // a pod from before the watch
		}
		t = &podTimes{added: now}
		pw.pods[p.Name] = t
		pw.role[p.Name] = p.Labels[cluster.LabelRole]
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t.running.IsZero() && (cs.State.Running != nil || cs.State.Terminated != nil) {
			t.running = now
		}
		if t.terminated.IsZero() && cs.State.Terminated != nil {
			t.terminated = now
		}
	}
	if t.ready.IsZero() && cluster.PodReady(p) {
		t.ready = now
	}
}

// finish stops the watches and returns the first new pod of each role, and the Job's times.
func (pw *podWatch) finish() (map[string]podTimes, jobTimes) {
	pw.stop()
	<-pw.done
	out := map[string]podTimes{}
	for name, t := range pw.pods {
		role := pw.role[name]
		if prev, ok := out[role]; !ok || t.added.Before(prev.added) {
			out[role] = *t
		}
	}
	return out, pw.job
}

type restoreSample struct {
	total, pgbr, jobStart, primaryReady float64
	// jobToPod is the Job controller making the pod; podEndToComplete the pod's end until the
	// Job is Complete; podRun the container's run around pgBackRest's own time.
	jobToPod, podRun, podEndToComplete float64
	steps                              []Step
}

func (b *bench) measureRestores(ctx context.Context, res *Results) error {
	samples := map[string][]restoreSample{}
	for _, storage := range b.cfg.RestoreStorages {
		if err := b.ensureBackup(ctx, storage); err != nil {
			return err
		}
	}
	for run := 1; run <= b.cfg.Runs; run++ {
		for _, storage := range b.cfg.RestoreStorages {
			s, err := b.restoreOnce(ctx, storage)
			if err != nil {
				return err
			}
			samples[storage] = append(samples[storage], s)
			logf("run %d/%d restore from %s: %.1fs (pgBackRest %.1fs, Job pod start %.1fs, primary start to ready %.1fs)",
				run, b.cfg.Runs, storage, s.total, s.pgbr, s.jobStart, s.primaryReady)
		}
	}
	for _, storage := range b.cfg.RestoreStorages {
		res.Restore = append(res.Restore, restoreRow(storage, samples[storage]))
	}
	return nil
}

// ensureBackup takes a full backup to storage unless the backup phase has left one.
func (b *bench) ensureBackup(ctx context.Context, storage string) error {
	if b.cfg.runs("backup") {
		return nil
	}
	logf("full backup to %s first (not measured): restore needs one", storage)
	_, err := b.pluginBackup(ctx, storage, "")
	return err
}

func (b *bench) restoreOnce(ctx context.Context, storage string) (restoreSample, error) {
	pw, err := b.watchPods(ctx)
	if err != nil {
		return restoreSample{}, err
	}
	out, err := b.kpg(ctx, "restore", b.cfg.Cluster, "--yes", "--storage="+storage)
	pods, jt := pw.finish()
	if err != nil {
		return restoreSample{}, err
	}
	s := restoreSample{total: out.Wall.Seconds(), steps: ParseSteps(out.Stderr)}
	job, primary := pods[string(cluster.RoleRestore)], pods[string(cluster.RolePrimary)]
	if job.added.IsZero() || job.running.IsZero() || primary.added.IsZero() || primary.ready.IsZero() {
		return s, fmt.Errorf("the pod watch missed the restore Job's pod or the new primary: %+v", pods)
	}
	s.jobStart = job.running.Sub(job.added).Seconds()
	s.primaryReady = primary.ready.Sub(primary.added).Seconds()
	if !jt.added.IsZero() && !jt.complete.IsZero() && !job.terminated.IsZero() {
		s.jobToPod = job.added.Sub(jt.added).Seconds()
		s.podRun = job.terminated.Sub(job.running).Seconds()
		s.podEndToComplete = jt.complete.Sub(job.terminated).Seconds()
	}
	log, err := b.restoreLog(ctx)
	if err != nil {
		return s, err
	}
	d, ok := PGBackRestDuration(log, "restore")
	if !ok {
		return s, fmt.Errorf("no \"restore command end: completed successfully\" in the Job's log:\n%s", tail(log, 10))
	}
	s.pgbr = d.Seconds()
	return s, nil
}

// restoreLog reads the log of the newest restore Job's pod.
func (b *bench) restoreLog(ctx context.Context) (string, error) {
	pods, err := b.client.CoreV1().Pods(b.cfg.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: cluster.SelectorString(b.cfg.Cluster, cluster.RoleRestore)})
	if err != nil {
		return "", err
	}
	var newest *corev1.Pod
	for i := range pods.Items {
		if p := &pods.Items[i]; newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	if newest == nil {
		return "", fmt.Errorf("no restore Job pod in %s", b.cfg.Namespace)
	}
	raw, err := b.client.CoreV1().Pods(b.cfg.Namespace).GetLogs(newest.Name, &corev1.PodLogOptions{Container: manifest.ContainerRestore}).DoRaw(ctx)
	return string(raw), err
}

func restoreRow(storage string, ss []restoreSample) RestoreRow {
	var total, pgbr, job, primary, overhead, jobToPod, podRun, podEnd []float64
	stepValues := map[string][]float64{}
	var stepOrder []string
	for _, s := range ss {
		total = append(total, s.total)
		pgbr = append(pgbr, s.pgbr)
		job = append(job, s.jobStart)
		primary = append(primary, s.primaryReady)
		overhead = append(overhead, s.total/(s.pgbr+s.jobStart+s.primaryReady))
		jobToPod = append(jobToPod, s.jobToPod)
		podRun = append(podRun, s.podRun)
		podEnd = append(podEnd, s.podEndToComplete)
		for _, st := range s.steps {
			name := stepKey(st.Name)
			if _, ok := stepValues[name]; !ok {
				stepOrder = append(stepOrder, name)
			}
			stepValues[name] = append(stepValues[name], st.Duration.Seconds())
		}
	}
	row := RestoreRow{Storage: storage, TotalSeconds: Summarize(total), PGBackRestSeconds: Summarize(pgbr),
		JobPodStartSeconds: Summarize(job), PrimaryStartToReadySeconds: Summarize(primary), Overhead: Summarize(overhead),
		JobToPodSeconds: Summarize(jobToPod), PodRunSeconds: Summarize(podRun), PodEndToCompleteSeconds: Summarize(podEnd)}
	for _, name := range stepOrder {
		row.Steps = append(row.Steps, StepSummary{Name: name, Seconds: Summarize(stepValues[name])})
	}
	return row
}
