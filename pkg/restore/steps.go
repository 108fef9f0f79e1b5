package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// Steps is the restore as a list of resumable steps (DESIGN.md §3). Each Done check reads the
// cluster; once the restore has finished (its PVC live, its annotations gone) every step is done.
func (r *Restore) Steps() []workflow.Step {
	n := r.Spec.Names()
	ns := r.Spec.Namespace
	steps := []workflow.Step{
		{Name: "take lease " + n.Lease(), Done: r.orFinished(func(context.Context) (bool, error) { return r.lease != nil, nil }), Apply: r.takeLease},
		{Name: fmt.Sprintf("record restore %s (%s) on ConfigMap %s", r.ID, r.Canonical, n.ConfigMap()), Done: r.orFinished(r.recorded), Apply: r.record},
		r.phased(PhaseSchedule, workflow.Step{Name: "suspend backup schedules", Done: r.orFinished(r.schedulesSuspended), Apply: r.suspendSchedules}),
		r.phased(PhasePVC, workflow.Step{Name: "allocate data PVC " + r.PVC, Done: r.orFinished(r.pvcExists), Apply: r.allocatePVC}),
		r.phased(PhaseArchive, workflow.Step{Name: "switch WAL on the old primary and wait until it is archived", Done: r.orFinished(r.oldPrimaryGone), Apply: r.archiveWAL}),
		r.phased(PhaseStop, workflow.Step{Name: fmt.Sprintf("delete primary Deployment %s/%s and wait for its pod to be gone", ns, n.Primary()),
			Done: r.orFinished(r.oldPrimaryStopped), Apply: r.stopPrimary}),
		r.phased(PhaseRepoPath, workflow.Step{Name: "point the repository host at data path " + r.Spec.PGData(), Done: r.orFinished(r.repoPathSet), Apply: r.repoPathFix}),
		r.phased(PhaseJob, workflow.Step{Name: fmt.Sprintf("restore from %s (repo%d) with Job %s", r.Storage, pgbackrest.RepoKey(r.Storage), r.Job),
			Done: r.orFinished(r.jobComplete), Apply: r.runJob}),
		r.phased(PhasePrimary, workflow.Step{Name: fmt.Sprintf("create primary Deployment %s on PVC %s and wait until it is available", n.Primary(), r.PVC),
			Done: r.orFinished(r.newPrimaryAvailable), Apply: r.startPrimary}),
	}
	if r.cfg.Target.Action == pgbackrest.ActionPause {
		steps = append(steps, r.phased(PhaseRecovery, workflow.Step{Name: "wait until recovery pauses at the target",
			Done: r.orFinished(nil), Apply: r.waitRecovery}))
	} else {
		steps = append(steps, r.phased(PhaseRecovery, workflow.Step{Name: "wait until PostgreSQL is out of recovery (pg_is_in_recovery() = false)",
			Done: r.orFinished(nil), Apply: r.waitRecovery}))
		steps = append(steps, r.phased(PhaseCheck, workflow.Step{Name: "check that WAL archiving works on the new timeline (pgbackrest check)",
			Done: r.orFinished(r.skipWhenPaused), Apply: r.check}))
		if r.cfg.BackupAfter {
			steps = append(steps, r.phased(PhaseBackup, workflow.Step{Name: fmt.Sprintf("take a full backup to %s (repo%d)", r.Storage, pgbackrest.RepoKey(r.Storage)),
				Done: r.orFinished(r.backupDone), Apply: r.backup}))
		}
	}
	steps = append(steps,
		r.phased(PhaseRetire, workflow.Step{Name: "label the replaced data PVC retired (it is kept)", Done: r.orFinished(r.retired), Apply: r.retire}),
		r.phased(PhaseResume, workflow.Step{Name: "resume backup schedules", Done: r.orFinished(r.schedulesResumed), Apply: r.resumeSchedules}),
		// The Lease goes before the done marker: a run killed between the two resumes and only
		// finishes, while the other order would leave a finished restore with a dead run's Lease.
		workflow.Step{Name: "release lease " + n.Lease(), Done: func(context.Context) (bool, error) { return r.lease == nil, nil }, Apply: r.releaseLease},
		workflow.Step{Name: "finish restore " + r.ID, Done: r.orFinished(nil), Apply: r.finish},
	)
	return steps
}

// orFinished is done when the whole restore has finished, else asks done (nil: not done).
func (r *Restore) orFinished(done func(context.Context) (bool, error)) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		fin, err := r.finished(ctx)
		if err != nil || fin {
			return fin, err
		}
		if done == nil {
			return false, nil
		}
		return done(ctx)
	}
}

// phased records phase on the ConfigMap before the step's Apply runs, and as completed once it
// succeeded. A phase recorded as completed proves this step and every one before it, whatever
// their own checks would find now (a Job deleted by a TTL policy, a PVC relabelled): progress is
// monotonic. Recovery is the exception: its wait only reads, and a resume needs what it finds
// (paused or promoted).
func (r *Restore) phased(phase string, s workflow.Step) workflow.Step {
	idx := phaseIndex(phase)
	if phase != PhaseRecovery {
		done := s.Done
		s.Done = func(ctx context.Context) (bool, error) {
			if r.completed >= idx {
				return true, nil
			}
			return done(ctx)
		}
	}
	apply := s.Apply
	s.Apply = func(ctx context.Context) error {
		if err := r.setPhase(ctx, phase); err != nil {
			return err
		}
		if err := apply(ctx); err != nil {
			return err
		}
		return r.setCompleted(ctx, phase)
	}
	return s
}

// setCompleted records phase as completed, unless a later one already is.
func (r *Restore) setCompleted(ctx context.Context, phase string) error {
	idx := phaseIndex(phase)
	err := r.updateCM(ctx, func(cm *corev1.ConfigMap) error {
		if cm.Annotations[AnnotationID] != r.ID || phaseIndex(cm.Annotations[AnnotationCompleted]) >= idx {
			return nil
		}
		cm.Annotations[AnnotationCompleted] = phase
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording phase %s of restore %s as completed: %w", phase, r.ID, err)
	}
	r.completed = max(r.completed, idx)
	return nil
}

// --- record --------------------------------------------------------------------------------

func (r *Restore) recorded(ctx context.Context) (bool, error) {
	cm, err := r.getCM(ctx)
	if err != nil {
		return false, err
	}
	a := cm.Annotations
	if a[AnnotationID] != r.ID || a[AnnotationTarget] != r.Canonical || a[AnnotationPVC] != r.PVC {
		return false, nil
	}
	// Read under the Lease: what was completed when Prepare read it may have grown since.
	r.completed = max(r.completed, phaseIndex(a[AnnotationCompleted]))
	// A resume with corrected --options records them (record keeps the phases).
	return a[AnnotationRun] == r.Flags.encode(), nil
}

func (r *Restore) record(ctx context.Context) error {
	return r.updateCM(ctx, func(cm *corev1.ConfigMap) error {
		if id := cm.Annotations[AnnotationID]; id != "" && id != r.ID && id != r.Abandoned {
			return fmt.Errorf("%w: restore %s was started meanwhile", ErrInProgress, id)
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		if cm.Annotations[AnnotationID] != r.ID {
			// A new restore (or one replacing an abandoned one): none of its phases ran yet.
			cm.Annotations[AnnotationPhase] = PhaseStarted
			delete(cm.Annotations, AnnotationCompleted)
		}
		cm.Annotations[AnnotationID] = r.ID
		cm.Annotations[AnnotationTarget] = r.Canonical
		cm.Annotations[AnnotationPVC] = r.PVC
		if r.OldPVC != "" {
			cm.Annotations[AnnotationOldPVC] = r.OldPVC
		}
		cm.Annotations[AnnotationRun] = r.Flags.encode()
		return nil
	})
}

// --- schedules -----------------------------------------------------------------------------

func (r *Restore) cronJobs(ctx context.Context) ([]batchv1.CronJob, error) {
	sel := cluster.ScheduleSelector(r.Spec.Name)
	list, err := r.d.Client.BatchV1().CronJobs(r.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the backup schedules (CronJobs %s): %w", sel, err), "list", "cronjobs", r.Spec.Namespace)
	}
	return list.Items, nil
}

func suspended(cj *batchv1.CronJob) bool { return cj.Spec.Suspend != nil && *cj.Spec.Suspend }

func (r *Restore) schedulesSuspended(ctx context.Context) (bool, error) {
	cjs, err := r.cronJobs(ctx)
	if err != nil {
		return false, err
	}
	for i := range cjs {
		if !suspended(&cjs[i]) {
			return false, nil
		}
	}
	return true, nil
}

func (r *Restore) suspendSchedules(ctx context.Context) error {
	cjs, err := r.cronJobs(ctx)
	if err != nil {
		return err
	}
	for i := range cjs {
		if suspended(&cjs[i]) {
			continue // suspended by the user (or by us, already): left as it is
		}
		patch := map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{AnnotationSuspendedBy: "restore-" + r.ID}},
			"spec":     map[string]any{"suspend": true},
		}
		if err := r.patchCronJob(ctx, cjs[i].Name, patch); err != nil {
			return err
		}
	}
	return nil
}

func (r *Restore) schedulesResumed(ctx context.Context) (bool, error) {
	cjs, err := r.cronJobs(ctx)
	if err != nil {
		return false, err
	}
	for i := range cjs {
		if cjs[i].Annotations[AnnotationSuspendedBy] != "" {
			return false, nil
		}
	}
	return true, nil
}

func (r *Restore) resumeSchedules(ctx context.Context) error {
	cjs, err := r.cronJobs(ctx)
	if err != nil {
		return err
	}
	for i := range cjs {
		if cjs[i].Annotations[AnnotationSuspendedBy] == "" {
			continue
		}
		// Suspended by this restore or by an abandoned one: either way a restore did it.
		patch := map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{AnnotationSuspendedBy: nil}},
			"spec":     map[string]any{"suspend": false},
		}
		if err := r.patchCronJob(ctx, cjs[i].Name, patch); err != nil {
			return err
		}
	}
	return nil
}

func (r *Restore) patchCronJob(ctx context.Context, name string, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = r.d.Client.BatchV1().CronJobs(r.Spec.Namespace).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return kube.Explain(fmt.Errorf("patching CronJob %s/%s: %w", r.Spec.Namespace, name, err), "patch", "cronjobs", r.Spec.Namespace)
	}
	return nil
}

// --- PVC -----------------------------------------------------------------------------------

func (r *Restore) pvcExists(ctx context.Context) (bool, error) {
	p, err := r.d.Client.CoreV1().PersistentVolumeClaims(r.Spec.Namespace).Get(ctx, r.PVC, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, kube.Explain(fmt.Errorf("reading PVC %s/%s: %w", r.Spec.Namespace, r.PVC, err), "get", "persistentvolumeclaims", r.Spec.Namespace)
	}
	ref := kube.Ref{Kind: "PersistentVolumeClaim", Namespace: r.Spec.Namespace, Name: r.PVC}
	if err := kube.CheckOwner(ref, p, cluster.Owner(r.Spec.Name)); err != nil {
		return false, fmt.Errorf("%w; rename or delete it, or retry in a second for another restore id", err)
	}
	return true, nil
}

func (r *Restore) allocatePVC(ctx context.Context) error {
	var live *corev1.PersistentVolumeClaim
	err := error(apierrors.NewNotFound(corev1.Resource("persistentvolumeclaims"), r.OldPVC))
	if r.OldPVC != "" {
		live, err = r.d.Client.CoreV1().PersistentVolumeClaims(r.Spec.Namespace).Get(ctx, r.OldPVC, metav1.GetOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return kube.Explain(fmt.Errorf("reading the live data PVC %s/%s: %w", r.Spec.Namespace, r.OldPVC, err), "get", "persistentvolumeclaims", r.Spec.Namespace)
	}
	if err != nil {
		live = nil
	}
	if _, err := kube.Apply(ctx, r.d.Client, r.dataPVC(live), kube.ApplyOptions{}); err != nil {
		return kube.Explain(fmt.Errorf("creating PVC %s/%s: %w", r.Spec.Namespace, r.PVC, err), "patch", "persistentvolumeclaims", r.Spec.Namespace)
	}
	return nil
}

// --- old primary ---------------------------------------------------------------------------

// primaryDeployment returns the primary Deployment and the PVC its data volume claims (nil, ""
// when it does not exist).
func (r *Restore) primaryDeployment(ctx context.Context) (*appsv1.Deployment, string, error) {
	name := r.Spec.Names().Primary()
	d, err := r.d.Client.AppsV1().Deployments(r.Spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", kube.Explain(fmt.Errorf("reading Deployment %s/%s: %w", r.Spec.Namespace, name, err), "get", "deployments", r.Spec.Namespace)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && strings.HasPrefix(v.PersistentVolumeClaim.ClaimName, r.Spec.Name) {
			return d, v.PersistentVolumeClaim.ClaimName, nil
		}
	}
	return d, "", nil
}

// oldPrimaryGone: no primary Deployment, or it already runs on the new PVC.
func (r *Restore) oldPrimaryGone(ctx context.Context) (bool, error) {
	d, pvc, err := r.primaryDeployment(ctx)
	if err != nil {
		return false, err
	}
	return d == nil || pvc == r.PVC, nil
}

// oldPrimaryStopped: oldPrimaryGone, and no old primary pod is left.
func (r *Restore) oldPrimaryStopped(ctx context.Context) (bool, error) {
	d, pvc, err := r.primaryDeployment(ctx)
	if err != nil {
		return false, err
	}
	if d != nil {
		return pvc == r.PVC, nil
	}
	pods, err := r.d.Client.CoreV1().Pods(r.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.SelectorString(r.Spec.Name, cluster.RolePrimary)})
	if err != nil {
		return false, kube.Explain(fmt.Errorf("listing the primary's pods: %w", err), "list", "pods", r.Spec.Namespace)
	}
	return len(pods.Items) == 0, nil
}

// archiveWAL switches WAL on the old primary and waits until that segment is archived, so an
// end-of-archive restore loses nothing. Stuck archiving stops the restore unless --force.
func (r *Restore) archiveWAL(ctx context.Context) error {
	pod, err := cluster.FindPrimaryPod(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name)
	if err != nil {
		if errors.Is(err, cluster.ErrNoPod) {
			r.d.Warn("the old primary is not running, so WAL it had not archived yet cannot be archived now: %v", err)
			return nil
		}
		if errors.Is(err, cluster.ErrPodNotReady) {
			if pod, line, _, failed := checkRecoveryFailed(ctx, r.d, r.Spec); failed {
				// An abandoned restore's primary that could not reach its target: never promoted, so
				// it has no WAL of its own.
				fmt.Fprintf(r.d.ErrOut, "  the primary's pod %s never left recovery (%s): it has no WAL of its own to archive\n", pod, line)
				return nil
			}
			// A primary that exists but is not Ready may still hold WAL that is not archived
			// (starting, in crash recovery, or its archiver stuck): it is not "not running".
			return r.archiveProblem(fmt.Errorf("the old primary's pod exists but is not ready, so its last WAL cannot be switched and archived: %w", err))
		}
		return err
	}
	inRecovery, err := psql(ctx, r.d, pod.Namespace, pod.Name, "select pg_is_in_recovery()")
	if err != nil {
		return r.archiveProblem(err)
	}
	if inRecovery == "t" {
		r.d.Warn("the old primary is in recovery (not promoted): it has no WAL of its own to archive")
		return nil
	}
	if running, err := r.otherDatabase(ctx, pod.Namespace, pod.Name); err != nil {
		return r.archiveProblem(err)
	} else if running != 0 {
		return r.archiveProblem(fmt.Errorf("the running primary is another database (system-id %d) than the one whose backups %s holds "+
			"(system-id %d): its WAL can never be archived there and is of no use to this restore, which replaces it with those "+
			"backups (its data stays on the retired PVC)", running, r.Storage, r.systemID))
	}
	// A commit first, so there is a WAL record after any target up to now: on a quiet database a
	// time target with no commit after it cannot be reached, and recovery fails at the end.
	if _, err := psql(ctx, r.d, pod.Namespace, pod.Name, "select txid_current()"); err != nil {
		return r.archiveProblem(err)
	}
	seg, err := psql(ctx, r.d, pod.Namespace, pod.Name, "select pg_walfile_name(pg_switch_wal())")
	if err != nil {
		return r.archiveProblem(err)
	}
	fmt.Fprintf(r.d.ErrOut, "  waiting for WAL segment %s to be archived\n", seg)
	deadline := r.d.Now().Add(min(archiveWait, r.cfg.Timeout))
	var last string
	for {
		out, err := psql(ctx, r.d, pod.Namespace, pod.Name,
			"select coalesce(last_archived_wal, '') || '|' || coalesce(last_failed_wal, '') || '|' || failed_count || '|' || "+
				"coalesce(to_char(last_failed_time at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'), '') from pg_stat_archiver")
		if err == nil {
			f := strings.Split(out, "|")
			if len(f) == 4 && walReached(f[0], seg) {
				return r.archiveReachedStorage(ctx, pod.Namespace, pod.Name, seg)
			}
			if len(f) == 4 {
				last = fmt.Sprintf("last archived %q, last failed %q (%s failures, last at %s)", f[0], f[1], f[2], f[3])
			}
		} else {
			last = err.Error()
		}
		if !r.d.Now().Before(deadline) {
			return r.archiveProblem(fmt.Errorf("WAL segment %s was not archived within %s: %s; see `kubectl pgbackrest check %s` and the primary's log (`kubectl logs -n %s deploy/%s -c %s`)",
				seg, min(archiveWait, r.cfg.Timeout), last, r.Spec.Name, r.Spec.Namespace, r.Spec.Names().Primary(), manifest.ContainerPostgres))
		}
		if err := kube.Sleep(ctx, r.d.Poll); err != nil {
			return err
		}
	}
}

// otherDatabase: a primary that is another database than the one the repository's backups are
// of (a cluster created again after its volumes were deleted, over the old backups) has no WAL
// this restore could use, and archive-push refuses it there for ever (pgBackRest error 044): say
// so at once rather than wait for it. It returns the running primary's system-id when it differs,
// 0 when it is the same database or either is unknown.
func (r *Restore) otherDatabase(ctx context.Context, ns, pod string) (uint64, error) {
	if r.systemID == 0 {
		return 0, nil
	}
	out, err := psql(ctx, r.d, ns, pod, "select system_identifier from pg_control_system()")
	if err != nil {
		return 0, err
	}
	running, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil || running == r.systemID {
		return 0, nil
	}
	return running, nil
}

// archiveReachedStorage: archive_command has pushed seg to the cluster's first repository; a
// restore from another one also needs seg there, which an outage may have left in its gap
// (pgbackrest.RenderArchivePushScript). It fills the gap from the first repository, or stops.
func (r *Restore) archiveReachedStorage(ctx context.Context, ns, pod, seg string) error {
	if len(r.Spec.Storages) < 2 || r.Storage == r.Spec.Storages[0] {
		return nil
	}
	gap := func() (*pgbackrest.ArchiveGap, error) {
		out, err := capture(ctx, r.d, ns, pod, manifest.ContainerPostgres, pgbackrest.ArchiveStatusArgs(cluster.ConfigDir))
		if err != nil {
			return nil, fmt.Errorf("reading the archive gaps in pod %s/%s: %w", ns, pod, err)
		}
		for _, g := range pgbackrest.ParseArchiveStatus(out) {
			if g.Storage == r.Storage {
				return &g, nil
			}
		}
		return nil, nil
	}
	g, err := gap()
	if err != nil || g == nil {
		return r.archiveProblemIf(err)
	}
	fmt.Fprintf(r.d.ErrOut, "  %s: copying them there first\n", g.Describe(r.d.Now().Unix()))
	if _, err := capture(ctx, r.d, ns, pod, manifest.ContainerPostgres,
		pgbackrest.BackfillArgs(cluster.ConfigDir, r.Storage, int(archiveWait.Seconds()))); err != nil {
		r.d.Warn("copying the gap into %s: %v", r.Storage, err)
	}
	if g, err = gap(); err != nil || g == nil {
		return r.archiveProblemIf(err)
	}
	return r.archiveProblem(fmt.Errorf("WAL segment %s is archived, but not in %s: %s; restore from %s, or wait until %s is reachable (`kubectl pgbackrest check %s`)",
		seg, r.Storage, g.Describe(r.d.Now().Unix()), r.Spec.Storages[0], r.Storage, r.Spec.Name))
}

func (r *Restore) archiveProblemIf(err error) error {
	if err == nil {
		return nil
	}
	return r.archiveProblem(err)
}

// walReached says archived (the last file pg_stat_archiver saw archived) is at or past seg, a
// segment name of 24 hex digits.
//
// A backup history file (SEGMENT.OFFSET.backup) counts as its segment: PostgreSQL switches WAL
// before writing it and archives ready files in name order, so that segment went first. Right
// after a backup of an idle database it is the last file archived, and pg_switch_wal() then has
// nothing to switch and names that same segment: nothing newer will ever be archived, and a
// restore waited for one until it gave up (found by make bench). A history or partial file never
// counts.
func walReached(archived, seg string) bool {
	if len(seg) != 24 {
		return false
	}
	if len(archived) > 24 && archived[24] == '.' && strings.HasSuffix(archived, ".backup") {
		archived = archived[:24]
	}
	return len(archived) == 24 && archived >= seg
}

func (r *Restore) archiveProblem(err error) error {
	if r.cfg.Force {
		r.d.Warn("archiving the old primary's last WAL failed; going on because of --force (the WAL not archived is lost for this restore): %v", err)
		return nil
	}
	return fmt.Errorf("archiving stuck: %w; the restore changed nothing else yet; fix archiving and re-run, or pass --force to restore without the WAL not yet archived", err)
}

func (r *Restore) stopPrimary(ctx context.Context) error {
	ns, name := r.Spec.Namespace, r.Spec.Names().Primary()
	d, pvc, err := r.primaryDeployment(ctx)
	if err != nil {
		return err
	}
	if d != nil && pvc != r.PVC {
		ref := kube.Ref{Kind: "Deployment", Namespace: ns, Name: name}
		if err := kube.DeleteOwned(ctx, r.d.Client, ref, cluster.Owner(r.Spec.Name), metav1.DeletePropagationBackground); err != nil {
			return fmt.Errorf("stopping the old primary: %w", err)
		}
	}
	// The pod's preStop stops PostgreSQL fast; its shutdown checkpoint and last archive-push
	// may take up to the grace period.
	return r.waiter().PodsGone(ctx, ns, cluster.SelectorString(r.Spec.Name, cluster.RolePrimary), r.cfg.Timeout)
}

// --- repository host path ------------------------------------------------------------------

// repoPathSet: the repository host's config points pg1-path at PGDATA. PGDATA is a subdirectory
// of the data PVC's mount and never names the PVC, so this holds by construction.
func (r *Restore) repoPathSet(ctx context.Context) (bool, error) {
	cm, err := r.getCM(ctx)
	if err != nil {
		return false, err
	}
	return strings.Contains("\n"+cm.Data[cluster.RepoConfKey]+"\n", "\npg1-path="+r.Spec.PGData()+"\n"), nil
}

func (r *Restore) repoPathFix(ctx context.Context) error {
	return fmt.Errorf("%s in ConfigMap %s/%s does not set pg1-path=%s, the data path of every data PVC; "+
		"it was edited by hand: restore that line (kubectl -n %s edit configmap %s) and re-run",
		cluster.RepoConfKey, r.Spec.Namespace, r.Spec.Names().ConfigMap(), r.Spec.PGData(), r.Spec.Namespace, r.Spec.Names().ConfigMap())
}

// --- new primary ---------------------------------------------------------------------------

func (r *Restore) newPrimaryAvailable(ctx context.Context) (bool, error) {
	d, pvc, err := r.primaryDeployment(ctx)
	if err != nil || d == nil || pvc != r.PVC {
		return false, err
	}
	ok, _, err := kube.DeploymentAvailable(d)
	return ok, err
}

func (r *Restore) startPrimary(ctx context.Context) error {
	spec := r.newSpec()
	err := r.updateCM(ctx, func(cm *corev1.ConfigMap) error {
		cur, err := cluster.Parse(cm.Data[cluster.SpecKey], cm.Namespace)
		if err != nil {
			return err
		}
		r.restoredSpec(cur)
		js, err := cur.JSON()
		if err != nil {
			return err
		}
		cm.Data[cluster.SpecKey] = js
		spec = cur
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording %s as the live data PVC: %w", r.PVC, err)
	}
	if _, err := kube.Apply(ctx, r.d.Client, manifest.PrimaryDeployment(spec), kube.ApplyOptions{}); err != nil {
		return kube.Explain(fmt.Errorf("creating Deployment %s/%s: %w", r.Spec.Namespace, r.Spec.Names().Primary(), err), "patch", "deployments", r.Spec.Namespace)
	}
	return r.waitPrimaryAvailable(ctx)
}

// waitRecovery waits until PostgreSQL is out of recovery or paused at the target.
func (r *Restore) waitRecovery(ctx context.Context) error {
	st, err := WaitRecovery(ctx, r.d, r.Spec, r.cfg.Timeout)
	var target *RecoveryTargetError
	if errors.As(err, &target) {
		return r.targetError(target)
	}
	if err != nil {
		return err
	}
	if st.Paused {
		r.paused = st
	}
	return nil
}

func (r *Restore) skipWhenPaused(context.Context) (bool, error) { return r.paused != nil, nil }

// check runs `pgbackrest check` on every repository: archiving works again, on the new timeline.
func (r *Restore) check(ctx context.Context) error {
	return Check(ctx, r.d, r.Spec, r.Storage)
}

// --- backup after --------------------------------------------------------------------------

// backupDone: the repository holds a full backup started after this restore began.
func (r *Restore) backupDone(ctx context.Context) (bool, error) {
	if r.paused != nil {
		return true, nil
	}
	started, err := time.Parse(cluster.RestoreIDFormat, r.ID)
	if err != nil {
		return false, nil
	}
	st, err := r.info(ctx)
	if err != nil {
		return false, err
	}
	for _, b := range st.Backup {
		if b.Database.RepoKey == pgbackrest.RepoKey(r.Storage) && b.Type == pgbackrest.BackupFull && time.Unix(b.Timestamp.Start, 0).After(started) {
			return true, nil
		}
	}
	return false, nil
}

// NoExpireAuto keeps the backup after a restore from expiring anything: with the retention's
// count reached, pgBackRest's automatic expire would remove the oldest full set, possibly the one
// just restored from, and a wrong target could then not be redone from it.
const NoExpireAuto = "--no-expire-auto"

// backup takes the full backup of --backup-after with the backup package's own detached run, so
// a cut exec stream cannot hang pgBackRest; this run's Lease covers it.
func (r *Restore) backup(ctx context.Context) error {
	fmt.Fprintf(r.d.ErrOut, "  auto-expire is off for this backup, so the sets restored from stay; the next `kubectl pgbackrest backup` applies the retention\n")
	d := backup.Deps{Client: r.d.Client, Exec: r.d.Exec, Now: r.d.Now, ErrOut: r.d.ErrOut, TTY: r.d.TTY}
	cfg := backup.Config{Namespace: r.Spec.Namespace, Cluster: r.Spec.Name, Type: pgbackrest.BackupFull, Options: []string{NoExpireAuto}}
	set, err := backup.TakeOne(ctx, d, cfg, r.Storage)
	if err != nil {
		return fmt.Errorf("full backup to %s (repo%d): %w; the restore itself is complete: take one later with `kubectl pgbackrest backup %s --storage=%s --type=full`",
			r.Storage, pgbackrest.RepoKey(r.Storage), err, r.Spec.Name, r.Storage)
	}
	fmt.Fprintf(r.d.ErrOut, "  full backup %s to %s: %s in %s\n", set.Label, r.Storage, backup.FormatBytes(set.Size),
		time.Duration(set.DurationSeconds*float64(time.Second)).Round(time.Second))
	return nil
}

// --- retire --------------------------------------------------------------------------------

// replaced lists the cluster's data PVCs that are neither live nor labelled retired.
func (r *Restore) replaced(ctx context.Context) ([]corev1.PersistentVolumeClaim, error) {
	spec, _, err := cluster.Get(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name)
	if err != nil {
		return nil, err
	}
	list, err := r.d.Client.CoreV1().PersistentVolumeClaims(r.Spec.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: cluster.SelectorString(r.Spec.Name, cluster.RolePrimary)})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing data PVCs: %w", err), "list", "persistentvolumeclaims", r.Spec.Namespace)
	}
	var out []corev1.PersistentVolumeClaim
	for _, p := range list.Items {
		if p.Name == spec.DataPVC || p.Labels[LabelRetiredAt] != "" || p.Labels[cluster.LabelManagedBy] != cluster.ManagedBy {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func (r *Restore) retired(ctx context.Context) (bool, error) {
	ps, err := r.replaced(ctx)
	return len(ps) == 0, err
}

func (r *Restore) retire(ctx context.Context) error {
	ps, err := r.replaced(ctx)
	if err != nil {
		return err
	}
	now := r.d.Now().UTC()
	for _, p := range ps {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"labels":      map[string]string{LabelRetiredAt: now.Format(retiredLabelFormat)},
			"annotations": map[string]string{AnnotationRetiredAt: now.Format(time.RFC3339)},
		}})
		_, err := r.d.Client.CoreV1().PersistentVolumeClaims(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
		if err != nil {
			return kube.Explain(fmt.Errorf("labelling PVC %s/%s retired: %w", p.Namespace, p.Name, err), "patch", "persistentvolumeclaims", p.Namespace)
		}
		fmt.Fprintf(r.d.ErrOut, "  PVC %s is kept, labelled %s; list retired PVCs with `kubectl pgbackrest retired %s`\n", p.Name, LabelRetiredAt, r.Spec.Name)
	}
	return nil
}

// --- finish --------------------------------------------------------------------------------

// finish removes the restore's annotations in one update, the done marker written last, and
// records the restore as the last one (so a re-run right after it finished says so instead of
// restoring again).
func (r *Restore) finish(ctx context.Context) error {
	return r.updateCM(ctx, func(cm *corev1.ConfigMap) error {
		for k := range cm.Annotations {
			if strings.HasPrefix(k, cluster.AnnotationRestorePrefix) {
				delete(cm.Annotations, k)
			}
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[AnnotationLastID] = r.ID
		cm.Annotations[AnnotationLastTarget] = r.Canonical
		cm.Annotations[AnnotationLastFinished] = r.d.Now().UTC().Format(time.RFC3339)
		cm.Annotations[AnnotationLastRun] = r.Flags.encode()
		return nil
	})
}
