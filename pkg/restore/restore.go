// Package restore is the restore workflow (DESIGN.md §3): it takes a cluster back to a point in
// time from one of its pgBackRest repositories, on a new data PVC, keeping the old one. Every
// step can tell from the cluster whether it is done, and the restore's id, target and phase live
// in annotations on the cluster ConfigMap, so running the same command again after a failure,
// Ctrl-C or kill -9 finishes the job. It also holds `promote` (end a recovery paused at its
// target) and the retired-PVC listing and cleanup.
//
// It is callable without cobra: pkg/cmd/restore, promote, retired and cleanup only parse flags,
// call it and print.
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// Annotations on the cluster ConfigMap that carry a restore in progress. All of them are removed
// together, in one update, when the restore finishes: their absence is the "done" marker.
const (
	AnnotationID     = cluster.AnnotationRestoreID
	AnnotationTarget = cluster.AnnotationRestoreTarget
	AnnotationPhase  = cluster.AnnotationRestorePhase
	AnnotationPVC    = cluster.AnnotationRestorePVC
	// AnnotationOldPVC is the live data PVC when the restore was recorded: the one kept and
	// retired, which a resume after the new primary started can no longer read from the spec.
	AnnotationOldPVC = cluster.AnnotationRestoreOldPVC
)

// Annotations on the cluster ConfigMap that describe the last finished restore.
const (
	AnnotationLastID       = "pgbackrest.dev/last-restore-id"
	AnnotationLastTarget   = "pgbackrest.dev/last-restore-target"
	AnnotationLastFinished = "pgbackrest.dev/last-restore-finished-at"
)

// LabelRetiredAt marks a data PVC that a restore replaced, with the time (UTC, "20060102T150405Z":
// label values cannot hold colons). AnnotationRetiredAt holds the same time in RFC 3339.
const (
	LabelRetiredAt      = "pgbackrest.dev/retired-at"
	AnnotationRetiredAt = "pgbackrest.dev/retired-at"
	retiredLabelFormat  = "20060102T150405Z"
)

// AnnotationSuspendedBy on a CronJob says which restore suspended it, so only those are resumed.
const AnnotationSuspendedBy = cluster.AnnotationSuspendedBy

// Phases written to AnnotationPhase as the steps run (for people, and so a re-run knows a
// restore Job was started before).
const (
	PhaseStarted  = "started"
	PhaseSchedule = "suspend-schedules"
	PhasePVC      = "allocate-pvc"
	PhaseArchive  = "archive-wal"
	PhaseStop     = "stop-primary"
	PhaseRepoPath = "repo-path"
	PhaseJob      = "restore-job"
	PhasePrimary  = "start-primary"
	PhaseRecovery = "recovery"
	PhaseCheck    = "check"
	PhaseBackup   = "backup"
	PhaseRetire   = "retire-pvc"
	PhaseResume   = "resume-schedules"
)

// DefaultTimeout bounds each wait (restore Job, new primary, recovery) when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Minute

// archiveWait bounds the wait for the old primary's last WAL segment to be archived. It covers
// one whole retry cycle of the archive path: a push to the first repository may take its full
// bound (pgbackrest.ArchiveMustTimeout, 60 s), after three failures PostgreSQL's archiver pauses
// 60 s before it tries again, and then the push itself.
const archiveWait = 3 * time.Minute

// ErrInProgress is wrapped when another restore of the cluster is half done with another target.
var ErrInProgress = errors.New("another restore is in progress")

// ErrBackupRunning is wrapped when pgBackRest holds the stanza's backup lock (a backup or expire
// runs in the repository host): a restore must not start then.
var ErrBackupRunning = errors.New("a backup is running")

// Config is what the user asked for.
type Config struct {
	Namespace string
	Cluster   string
	// Storages is --storage as parsed (nil: the cluster's only storage, else local). Exactly one is
	// allowed.
	Storages []pgbackrest.Storage
	Target   pgbackrest.Target
	// Set is a backup set label ("" lets pgBackRest choose).
	Set string
	// Options are extra restore options, validated with pgbackrest.ParseOptions(pgbackrest.Restore, ...).
	Options []string
	// NodeSelector places the restore Job and the new primary; nil keeps the old primary's.
	NodeSelector map[string]string
	// BackupAfter takes a full backup once the new primary is out of recovery.
	BackupAfter bool
	// Force goes on when the old primary's WAL cannot be archived (it is then lost for the restore).
	Force bool
	// Abandon starts a new restore even when another one, with another target, is half done.
	Abandon bool
	// Again restores again when a restore with the same target has finished (else there is
	// nothing to do).
	Again bool
	// Timeout bounds each wait; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Validate checks cfg without a cluster. Errors are usage errors (exit 2).
func (c Config) Validate() error {
	if c.Cluster == "" {
		return exitcode.Usage(errors.New("a cluster name is required: kubectl pgbackrest restore CLUSTER"))
	}
	if len(c.Storages) > 1 {
		return exitcode.Usage(fmt.Errorf("--storage %s: a restore reads from exactly one repository: pick --storage=local or --storage=s3",
			storageList(c.Storages)))
	}
	if err := c.Target.Validate(); err != nil {
		return exitcode.Usage(err)
	}
	if c.BackupAfter && c.Target.Action == pgbackrest.ActionPause {
		return exitcode.Usage(errors.New("--backup-after cannot be used with --target-action=pause: the database is read-only until promoted; " +
			"run `kubectl pgbackrest backup` after `kubectl pgbackrest promote`"))
	}
	if c.Timeout < 0 {
		return exitcode.Usage(errors.New("--timeout must not be negative"))
	}
	return nil
}

// Deps are the restore's narrow dependencies.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ErrOut receives progress: the restore Job's log, warnings.
	ErrOut io.Writer
	// TTY says ErrOut is a terminal (progress rewrites one line).
	TTY bool
	// Holder identifies this run in the Lease; "" means kube.Holder().
	Holder string
	// Poll is the interval of the psql polls (archiving, recovery); 0 means one second.
	Poll time.Duration
	// LeaseRecheck bounds each wait for a Lease held by another run (kube.LeaseConfig.Recheck).
	LeaseRecheck time.Duration
	// Warn prints a warning; nil writes "warning: ..." to ErrOut.
	Warn func(format string, args ...any)
}

func (d *Deps) defaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ErrOut == nil {
		d.ErrOut = io.Discard
	}
	if d.Holder == "" {
		d.Holder = kube.Holder()
	}
	if d.Poll == 0 {
		d.Poll = time.Second
	}
	if d.Warn == nil {
		w := d.ErrOut
		d.Warn = func(format string, args ...any) { fmt.Fprintf(w, "warning: "+format+"\n", args...) }
	}
}

// Restore is one prepared restore: validated against the cluster, with its id and new PVC chosen.
// Build it with Prepare, then Run it (or print its Plan and Objects for --dry-run).
type Restore struct {
	d   Deps
	cfg Config

	// Spec is the cluster's spec as read at Prepare.
	Spec *cluster.Spec
	// Storage is the repository the restore reads.
	Storage pgbackrest.Storage
	// ID is the restore's id; PVC the new data PVC; Job the restore Job.
	ID, PVC, Job string
	// OldPVC is the live data PVC when Prepare ran.
	OldPVC string
	// Resumed says a half-done restore with the same target is being continued.
	Resumed bool
	// AlreadyDone is set when a restore with the same target and flags has finished: there is
	// nothing to do. --again restores again anyway.
	AlreadyDone *Finished
	// Abandoned is the id of a half-done restore that --abandon leaves behind ("" if none).
	Abandoned string
	// Canonical is the target as recorded in AnnotationTarget.
	Canonical string
	// Window is the recoverable window of the chosen repository (nil when unknown).
	Window *pgbackrest.RecoveryWindow
	// Timeline says which timeline recovery follows, for the plan.
	Timeline string
	// Timelines describe the archive's timelines when an earlier restore left several (timeline.go).
	Timelines []string
	// ChosenSet is the backup set the restore starts from when --set was not given and several
	// timelines exist: the newest on the followed timeline's history ("" leaves pgBackRest's choice).
	ChosenSet string

	// Flags are the node labels (the effective node selector) and options this restore runs
	// with, recorded with it.
	Flags RunFlags
	// completed is the index in phaseOrder of the last phase recorded as completed (-1: none).
	completed int

	// lease is the Lease while this run holds it; leaseSeen what Prepare saw of it (lease.go).
	lease     *kube.Lease
	leaseSeen kube.LeaseSeen
	paused    *RecoveryState
	// systemID is the system-id of the database the repository's backups are of (0: not read).
	systemID uint64
}

// Finished describes a restore that has finished.
type Finished struct {
	ID  string
	At  time.Time
	PVC string
}

// Result is what a finished restore reports.
type Result struct {
	ID     string `json:"id"`
	PVC    string `json:"pvc"`
	OldPVC string `json:"oldPVC"`
	// Paused is set when recovery stopped at the target and waits for `kubectl pgbackrest promote`.
	Paused *RecoveryState `json:"paused,omitempty"`
}

// Canonical spells what identifies a restore: the storage, the set and the whole target. A re-run
// with the same canonical string resumes; another one is refused while a restore is half done.
func Canonical(st pgbackrest.Storage, set string, t pgbackrest.Target) string {
	value := t.Value
	if t.Type == pgbackrest.TargetTime {
		if tm, err := pgbackrest.ParseTargetTime(t.Value); err == nil {
			value = pgbackrest.FormatTargetTime(tm)
		}
	}
	typ := t.Type
	if typ == "" {
		typ = pgbackrest.TargetDefault
	}
	parts := []string{"storage=" + string(st), "type=" + typ}
	if value != "" {
		parts = append(parts, "target="+value)
	}
	if set != "" {
		parts = append(parts, "set="+set)
	}
	if t.Timeline != "" {
		parts = append(parts, "timeline="+t.Timeline)
	}
	if t.Exclusive {
		parts = append(parts, "exclusive")
	}
	if t.Action != "" {
		parts = append(parts, "action="+t.Action)
	}
	return strings.Join(parts, " ")
}

// ResolveStorage picks the repository: the flag's one, else the cluster's only storage, else local.
// A storage the cluster does not have is a usage error.
func ResolveStorage(spec *cluster.Spec, flag []pgbackrest.Storage) (pgbackrest.Storage, error) {
	if len(flag) > 1 {
		return "", exitcode.Usage(fmt.Errorf("--storage %s: a restore reads from exactly one repository: pick --storage=local or --storage=s3",
			storageList(flag)))
	}
	st := pgbackrest.Local
	switch {
	case len(flag) == 1:
		st = flag[0]
	case len(spec.Storages) == 1:
		st = spec.Storages[0]
	}
	if !spec.Has(st) {
		return "", exitcode.Usage(fmt.Errorf("--storage %s: cluster %s has no %s repository; its storage is %s, chosen at create",
			st, spec.Name, st, storageList(spec.Storages)))
	}
	return st, nil
}

func storageList(st []pgbackrest.Storage) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

// Prepare runs the preflight, changing nothing: the cluster exists, the storage is one it has,
// the target and options are valid, no other run holds the Lease, a half-done restore is resumed
// only with the same target, and `info` on the chosen repository has a backup (and the --set)
// that can reach the target. Errors the user can fix by changing the command are usage errors.
func Prepare(ctx context.Context, d Deps, cfg Config) (*Restore, error) {
	d.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	spec, cm, err := cluster.Get(ctx, d.Client, cfg.Namespace, cfg.Cluster)
	if err != nil {
		if errors.Is(err, cluster.ErrNotFound) {
			return nil, exitcode.Usage(err)
		}
		return nil, kube.Explain(err, "get", "configmaps", cfg.Namespace)
	}
	st, err := ResolveStorage(spec, cfg.Storages)
	if err != nil {
		return nil, err
	}
	r := &Restore{d: d, cfg: cfg, Spec: spec, Storage: st, OldPVC: spec.DataPVC, completed: -1}
	r.Canonical = Canonical(st, cfg.Set, cfg.Target)

	if err := r.leaseHeld(ctx); err != nil {
		return nil, err
	}

	ann := cm.Annotations
	if id := ann[AnnotationID]; id != "" {
		switch {
		case cfg.Abandon:
			r.Abandoned = id
		case ann[AnnotationTarget] == r.Canonical:
			if err := r.resume(spec, cm); err != nil {
				return nil, err
			}
		default:
			flags := cluster.RestoreFlags(ann[AnnotationTarget])
			return nil, exitcode.Usage(fmt.Errorf("%w on cluster %s: restore %s (%s) stopped at phase %q; "+
				"finish it with `kubectl pgbackrest restore %s -n %s %s` (it resumes), or pass --abandon to start this one over on a new PVC "+
				"(every existing PVC is kept)", ErrInProgress, spec.Name, id, flags, ann[AnnotationPhase],
				spec.Name, spec.Namespace, flags))
		}
	}
	if r.ID == "" && !cfg.Again && ann[AnnotationLastTarget] == r.Canonical {
		// Repeating a finished restore is explicit, however long ago it finished: the same
		// command run again (a retry after a lost connection, a script run twice) does nothing.
		last, err := parseRunFlags(ann[AnnotationLastRun])
		if err != nil {
			last = RunFlags{} // unreadable: compare with nothing recorded rather than fail
		}
		if ann[AnnotationLastRun] != "" {
			if d := diffRunFlags(last, cfg.effective(last)); len(d) > 0 {
				return nil, exitcode.Usage(&FlagsDifferError{Cluster: spec.Name, ID: ann[AnnotationLastID], Finished: true, Diffs: d})
			}
		}
		at, _ := time.Parse(time.RFC3339, ann[AnnotationLastFinished])
		r.AlreadyDone = &Finished{ID: ann[AnnotationLastID], At: at, PVC: spec.DataPVC}
		r.ID, r.PVC = r.AlreadyDone.ID, spec.DataPVC
		r.Job = spec.Names().RestoreJob(r.ID)
		return r, nil
	}
	if r.ID == "" {
		r.ID = cluster.RestoreID(d.Now())
		r.PVC = spec.Names().RestoredDataPVC(r.ID)
		if r.PVC == spec.DataPVC {
			return nil, fmt.Errorf("restore id %s names the live data PVC %s; wait a second and try again", r.ID, r.PVC)
		}
	}
	if r.PVC == "" {
		r.PVC = spec.Names().RestoredDataPVC(r.ID)
	}
	r.Job = spec.Names().RestoreJob(r.ID)

	if r.OldPVC == r.PVC {
		// A resume after the new primary started, recorded before the old PVC was: the spec now
		// names the new PVC, so the old one is unknown rather than wrong.
		r.OldPVC = ""
	}
	if !r.Resumed {
		r.Flags = RunFlags{NodeLabels: r.newSpec().NodeSelector, Options: slices.Clone(cfg.Options)}
	}
	if r.Resumed && (r.completed >= phaseIndex(PhaseJob) || spec.DataPVC == r.PVC) {
		// The repository's backups were what the Job needed, and it is done: a set expired
		// since must not stop the rest of the restore.
		r.Timeline = "as restored by Job " + r.Job + " (the repository is not checked again)"
		return r, nil
	}
	if err := r.checkInfo(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// resume continues the half-done restore recorded on cm, which has this restore's target. It
// checks what it reads back. It keeps the recorded node labels, which placed the restore Job and
// so the new PVC, unless the command gives others, which it refuses; the command's options apply
// until the Job step is done, since re-running with corrected --options is how a failed Job is
// fixed.
func (r *Restore) resume(spec *cluster.Spec, cm *corev1.ConfigMap) error {
	rec, err := readRecorded(spec, cm)
	if err != nil {
		return err
	}
	eff := rec.Run
	if r.cfg.NodeSelector != nil {
		eff.NodeLabels = maps.Clone(r.cfg.NodeSelector)
	}
	if cm.Annotations[AnnotationRun] != "" {
		if d := diffRunFlags(RunFlags{NodeLabels: rec.Run.NodeLabels}, RunFlags{NodeLabels: eff.NodeLabels}); len(d) > 0 {
			return exitcode.Usage(&FlagsDifferError{Cluster: spec.Name, ID: rec.ID, Diffs: d})
		}
	}
	if rec.Completed < phaseIndex(PhaseJob) {
		eff.Options = slices.Clone(r.cfg.Options)
	}
	r.Resumed = true
	r.ID, r.PVC, r.completed = rec.ID, rec.PVC, rec.Completed
	if rec.OldPVC != "" {
		r.OldPVC = rec.OldPVC
	}
	r.Flags = eff
	r.cfg.NodeSelector, r.cfg.Options = eff.NodeLabels, eff.Options
	return nil
}

// checkInfo runs `pgbackrest info` on the chosen repository in the repository host pod and checks
// that a backup can reach the target.
func (r *Restore) checkInfo(ctx context.Context) error {
	repo := pgbackrest.RepoKey(r.Storage)
	stanza, err := r.info(ctx)
	if err != nil {
		return err
	}
	sum := pgbackrest.Summarize(stanza)
	if sum.BackupRunning {
		// The Lease can be free while a detached backup (or its expire) still runs in the
		// repository host: restoring now would stop the primary under it.
		progress := ""
		if sum.BackupPercent != nil {
			progress = fmt.Sprintf(" (%.0f%% done)", *sum.BackupPercent)
		}
		return exitcode.Usage(fmt.Errorf("%w: pgBackRest is running a backup or expire of cluster %s in the repository host%s; "+
			"wait until it ends (`kubectl pgbackrest info %s` shows it running), then run the restore again",
			ErrBackupRunning, r.Spec.Name, progress, r.Spec.Name))
	}
	var rs *pgbackrest.RepositorySummary
	for i := range sum.Repositories {
		if sum.Repositories[i].Key == repo {
			rs = &sum.Repositories[i]
		}
	}
	if rs == nil || len(rs.Backups) == 0 {
		return exitcode.Usage(fmt.Errorf("repository %s (repo%d) of cluster %s has no backup to restore; take one with `kubectl pgbackrest backup %s --storage=%s`",
			r.Storage, repo, r.Spec.Name, r.Spec.Name, r.Storage))
	}
	r.Window = rs.RecoveryWindow
	r.systemID = stanza.SystemID(repo)
	r.Timeline = timelineNote(r.cfg.Target, rs)
	if err := r.planTimelines(ctx, stanza, rs); err != nil {
		return err
	}
	if err := r.checkArchiveEnd(ctx, stanza, rs); err != nil {
		return err
	}

	var set *pgbackrest.BackupSummary
	if r.cfg.Set != "" {
		var labels []string
		for i := range rs.Backups {
			labels = append(labels, rs.Backups[i].Label)
			if rs.Backups[i].Label == r.cfg.Set {
				set = &rs.Backups[i]
			}
		}
		if set == nil {
			return exitcode.Usage(fmt.Errorf("--set %s: no such backup in repository %s (repo%d); its backups: %s",
				r.cfg.Set, r.Storage, repo, strings.Join(labels, ", ")))
		}
	}
	if r.cfg.Target.Type != pgbackrest.TargetTime {
		if r.Window == nil && set == nil {
			return exitcode.Usage(fmt.Errorf("repository %s (repo%d) has no backup whose WAL is archived: nothing can be restored to a consistent state; "+
				"take a backup with `kubectl pgbackrest backup %s --storage=%s`", r.Storage, repo, r.Spec.Name, r.Storage))
		}
		return nil
	}
	tm, err := pgbackrest.ParseTargetTime(r.cfg.Target.Value)
	if err != nil {
		return exitcode.Usage(err)
	}
	if tm.After(r.d.Now()) {
		return exitcode.Usage(fmt.Errorf("--target-time %s is in the future (now is %s)%s",
			pgbackrest.FormatTargetTime(tm), pgbackrest.FormatTargetTime(r.d.Now()), windowText(r.Window)))
	}
	if r.Window == nil {
		return exitcode.Usage(fmt.Errorf("repository %s (repo%d) has no backup whose WAL is archived, so no time can be reached", r.Storage, repo))
	}
	if tm.Before(r.Window.From) {
		return exitcode.Usage(fmt.Errorf("--target-time %s is before the oldest restorable point of repository %s (repo%d)%s",
			pgbackrest.FormatTargetTime(tm), r.Storage, repo, windowText(r.Window)))
	}
	if set != nil && set.Stop.After(tm) {
		return exitcode.Usage(fmt.Errorf("--set %s ended at %s, after --target-time %s: a backup can only reach times after it ended; "+
			"choose an older set or leave --set out so pgBackRest picks one", set.Label, pgbackrest.FormatTargetTime(set.Stop), pgbackrest.FormatTargetTime(tm)))
	}
	return nil
}

// windowText prints the recoverable window for error messages.
func windowText(w *pgbackrest.RecoveryWindow) string {
	if w == nil {
		return ""
	}
	return fmt.Sprintf("; the recoverable window is from %s (end of backup %s) to the end of the archive (WAL %s, at least %s)",
		pgbackrest.FormatTargetTime(w.From), w.FromBackup, w.ToWAL, pgbackrest.FormatTargetTime(w.AtLeastUntil))
}

// timelineNote says which timeline recovery follows, for the plan.
func timelineNote(t pgbackrest.Target, rs *pgbackrest.RepositorySummary) string {
	current := ""
	if rs.Archive != nil && len(rs.Archive.Max) >= 8 {
		var tl uint64
		if _, err := fmt.Sscanf(rs.Archive.Max[:8], "%x", &tl); err == nil {
			current = fmt.Sprintf(" (the archive's newest is timeline %d)", tl)
		}
	}
	switch {
	case t.Type == pgbackrest.TargetImmediate:
		return "the backup's own timeline"
	case t.Timeline == "" || t.Timeline == "latest":
		return "latest" + current + "; after an earlier point-in-time restore, reach the rest of an older timeline with --target-timeline=N"
	case t.Timeline == "current":
		return "current: the backup's own timeline"
	default:
		return "timeline " + t.Timeline
	}
}

// info runs `pgbackrest info --output=json` for the chosen repository in the repository host pod.
func (r *Restore) info(ctx context.Context) (pgbackrest.Stanza, error) {
	return repoInfo(ctx, r.d, r.Spec, pgbackrest.RepoKey(r.Storage))
}

// repoInfo runs `pgbackrest info` in the repository host pod. info is read-only, so a transient
// failure (the exec stream cut, empty output) is retried twice; pgBackRest's own errors are not.
func repoInfo(ctx context.Context, d Deps, spec *cluster.Spec, repo int) (pgbackrest.Stanza, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			if serr := kube.Sleep(ctx, 2*time.Second); serr != nil {
				return pgbackrest.Stanza{}, serr
			}
		}
		var pod *corev1.Pod
		pod, err = cluster.FindRepoPod(ctx, d.Client, spec.Namespace, spec.Name)
		if err != nil {
			break
		}
		var out string
		out, err = capture(ctx, d, pod.Namespace, pod.Name, manifest.ContainerPGBackRest, pgbackrest.InfoArgs(pgbackrest.DefaultStanza, repo))
		var exit *kube.ExitError
		if errors.As(err, &exit) {
			break
		}
		if err != nil {
			continue
		}
		var stanzas []pgbackrest.Stanza
		stanzas, err = pgbackrest.ParseInfo([]byte(out))
		if err != nil {
			continue
		}
		return pgbackrest.FindStanza(stanzas, pgbackrest.DefaultStanza)
	}
	return pgbackrest.Stanza{}, fmt.Errorf("reading the backups of cluster %s: %w", spec.Name, err)
}

// Plan lists the restore's steps, for --dry-run and the confirmation.
func (r *Restore) Plan() []string { return workflow.Plan(r.Steps()) }

// Objects are the objects the restore creates, for --dry-run=client.
func (r *Restore) Objects() []runtime.Object {
	spec := r.newSpec()
	return []runtime.Object{
		r.dataPVC(nil),
		manifest.RestoreJob(spec, r.ID, r.PVC, r.restoreArgs(false)),
		manifest.PrimaryDeployment(spec),
	}
}

// newSpec is the spec the restored cluster runs with: the new PVC live and placed as restored
// (restoredSpec). The restore Job and the new primary are both built from it, so they are placed
// alike.
func (r *Restore) newSpec() *cluster.Spec {
	s := *r.Spec
	r.restoredSpec(&s)
	return &s
}

// NodeSelector is where the restore Job and the new primary run, for the plan (nil: any node).
func (r *Restore) NodeSelector() map[string]string { return r.newSpec().NodeSelector }

// restoredSpec turns a spec into the restored cluster's: the new PVC live and, with --node-label,
// the given node selector in place of the old primary's.
func (r *Restore) restoredSpec(s *cluster.Spec) {
	s.DataPVC = r.PVC
	if r.cfg.NodeSelector != nil {
		s.NodeSelector = maps.Clone(r.cfg.NodeSelector)
	}
}

// restoreArgs is the restore Job's command line. delta is set on a re-run after a failed Job:
// the PVC then holds a partial restore, which pgBackRest refuses to overwrite without --delta
// (the failed restore left its backup.manifest there, so --delta is honoured).
func (r *Restore) restoreArgs(delta bool) []string {
	extra := append([]string(nil), r.cfg.Options...)
	if delta && !hasOption(extra, "delta") && !hasOption(extra, "force") {
		extra = append(extra, "--delta")
	}
	set := r.cfg.Set
	if set == "" {
		set = r.ChosenSet
	}
	return pgbackrest.RestoreArgs(pgbackrest.DefaultStanza, pgbackrest.RepoKey(r.Storage), set, r.cfg.Target, extra)
}

func hasOption(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// dataPVC is the new data PVC: the live one's class and size when it exists, else the spec's.
func (r *Restore) dataPVC(live *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	p := manifest.DataPVC(r.Spec, r.PVC)
	if live != nil {
		if q, ok := live.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			p.Spec.Resources.Requests[corev1.ResourceStorage] = q
		}
		if live.Spec.StorageClassName != nil {
			p.Spec.StorageClassName = live.Spec.StorageClassName
		}
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[AnnotationID] = r.ID
	return p
}

// Run runs the steps, reporting to rep. The Lease is released when Run returns, also on failure.
func (r *Restore) Run(ctx context.Context, rep workflow.Reporter) (*Result, error) {
	defer r.dropLease(ctx)
	err := workflow.Runner{Now: r.d.Now, Fence: r.fence}.Run(ctx, r.Steps(), rep)
	if err != nil {
		return nil, r.explain(err)
	}
	return &Result{ID: r.ID, PVC: r.PVC, OldPVC: r.OldPVC, Paused: r.paused}, nil
}

// explain makes sure a failed step's error says what to run next, once: workflow's StepError
// already ends with "re-run the same command to resume", so errors that carry their own hint
// are returned without it (the step reporter's ✗ line, right above, names the step).
func (r *Restore) explain(err error) error {
	var failed *JobFailedError
	if errors.As(err, &failed) {
		return failed
	}
	var target *RecoveryTargetError
	if errors.As(err, &target) {
		return target // restarting cannot help: it says what to run instead
	}
	var step *workflow.StepError
	if errors.As(err, &step) && step.Fenced {
		return fenced(r.ID, step)
	}
	if errors.Is(err, context.Canceled) && errors.As(err, &step) {
		return fmt.Errorf("restore %s stopped at step %q: %w; re-run the same command to resume it", r.ID, step.Step, step.Err)
	}
	return err
}

// getCM reads the cluster ConfigMap.
func (r *Restore) getCM(ctx context.Context) (*corev1.ConfigMap, error) {
	name := r.Spec.Names().ConfigMap()
	cm, err := r.d.Client.CoreV1().ConfigMaps(r.Spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading ConfigMap %s/%s: %w", r.Spec.Namespace, name, err), "get", "configmaps", r.Spec.Namespace)
	}
	return cm, nil
}

// updateCM reads the cluster ConfigMap, lets change edit it, and writes it back, retrying when
// another writer got there first.
func (r *Restore) updateCM(ctx context.Context, change func(cm *corev1.ConfigMap) error) error {
	for attempt := 0; ; attempt++ {
		cm, err := r.getCM(ctx)
		if err != nil {
			return err
		}
		if err := change(cm); err != nil {
			return err
		}
		_, err = r.d.Client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager})
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return kube.Explain(fmt.Errorf("updating ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err), "update", "configmaps", cm.Namespace)
		}
		return nil
	}
}

// setPhase records the step being run, when the restore's annotations are there.
func (r *Restore) setPhase(ctx context.Context, phase string) error {
	return r.updateCM(ctx, func(cm *corev1.ConfigMap) error {
		if cm.Annotations[AnnotationID] != r.ID {
			return nil
		}
		cm.Annotations[AnnotationPhase] = phase
		return nil
	})
}

// finished says this restore has completed: its PVC is live and no restore is recorded.
func (r *Restore) finished(ctx context.Context) (bool, error) {
	spec, cm, err := cluster.Get(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name)
	if err != nil {
		return false, err
	}
	return spec.DataPVC == r.PVC && cm.Annotations[AnnotationID] == "", nil
}
