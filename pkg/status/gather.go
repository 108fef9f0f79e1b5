package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/rotate"
)

// Deps are what status needs from the outside world: the API, pod exec and a clock.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Config is one status read.
type Config struct {
	Namespace, Cluster string
	Limits             Limits
	// RepoTimeout bounds each repository's info (a hung S3); 0 means DefaultRepoTimeout.
	RepoTimeout time.Duration
}

// DefaultRepoTimeout bounds one repository's `pgbackrest info`: it answers in well under a second
// when the repository is reachable.
const DefaultRepoTimeout = 10 * time.Second

// Gather reads the cluster's state and judges it (Evaluate). The error is for a status that could
// not be read at all (the cluster's ConfigMap); what fails beyond that is a problem in the Status.
func Gather(ctx context.Context, d Deps, cfg Config) (*Status, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	spec, cm, err := cluster.Get(ctx, d.Client, cfg.Namespace, cfg.Cluster)
	if err != nil {
		if errors.Is(err, cluster.ErrNotFound) {
			return nil, exitcode.Usage(err)
		}
		return nil, kube.Explain(err, "get", "configmaps", cfg.Namespace)
	}
	st := &Status{Cluster: spec.Name, Namespace: spec.Namespace, Time: now().UTC().Truncate(time.Second),
		Repositories: []Repository{}, Schedules: []Schedule{}}
	if r := cluster.Recorded(cm); r != nil {
		st.Restore = &Restore{ID: r.ID, Phase: r.Phase, Target: r.Target, PVC: r.PVC}
	}
	timeout := cfg.RepoTimeout
	if timeout <= 0 {
		timeout = DefaultRepoTimeout
	}
	g := gatherer{d: d, spec: spec, st: st, timeout: timeout}
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){g.pods, g.lease, g.schedules, g.certificates} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	finish(st, st.Time)
	Evaluate(st, cfg.Limits, st.Time)
	return st, nil
}

type gatherer struct {
	d       Deps
	spec    *cluster.Spec
	timeout time.Duration
	mu      sync.Mutex
	st      *Status
}

// pods lists the cluster's pods once, then runs the primary's and the repository host's execs at once.
func (g *gatherer) pods(ctx context.Context) {
	ns, name := g.spec.Namespace, g.spec.Name
	sel := labels.SelectorFromSet(map[string]string{cluster.LabelManagedBy: cluster.ManagedBy, cluster.LabelInstance: name}).String()
	list, err := g.d.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	var primary, repo *corev1.Pod
	if err != nil {
		err = kube.Explain(fmt.Errorf("listing the pods of cluster %s: %w", name, err), "list", "pods", ns)
	} else {
		primary, repo = pick(list.Items, cluster.RolePrimary), pick(list.Items, cluster.RoleRepo)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); g.primary(ctx, primary, err) }()
	go func() { defer wg.Done(); g.repositories(ctx, repo, err) }()
	wg.Wait()
}

// pick returns the Ready pod of role, newest first, or the newest pod of it when none is Ready.
func pick(pods []corev1.Pod, role cluster.Role) *corev1.Pod {
	var of []*corev1.Pod
	for i := range pods {
		if pods[i].Labels[cluster.LabelRole] == string(role) {
			of = append(of, &pods[i])
		}
	}
	slices.SortFunc(of, func(a, b *corev1.Pod) int { return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) })
	for _, p := range of {
		if cluster.PodReady(p) {
			return p
		}
	}
	if len(of) > 0 {
		return of[0]
	}
	return nil
}

func (g *gatherer) exec(ctx context.Context, pod, container string, cmd []string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := g.d.Exec.Exec(ctx, g.spec.Namespace, pod, container, cmd, nil, &stdout, &stderr)
	if err != nil {
		var ee *kube.ExitError
		if !errors.As(err, &ee) {
			err = kube.Explain(err, "create", "pods/exec", g.spec.Namespace)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

func (g *gatherer) primary(ctx context.Context, pod *corev1.Pod, listErr error) {
	p := Primary{State: "missing"}
	var a Archiving
	a.Queues = []pgbackrest.ArchiveGap{}
	defer func() {
		g.mu.Lock()
		g.st.Primary, g.st.Archiving = p, a
		g.mu.Unlock()
	}()
	if listErr != nil {
		p.Error = listErr.Error()
		return
	}
	if pod == nil {
		return
	}
	p.Pod, p.Ready, p.State = pod.Name, cluster.PodReady(pod), cluster.PodStatus(pod)
	if !p.Ready {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	out, err := g.exec(ctx, pod.Name, manifest.ContainerPostgres,
		PrimaryScript(g.spec.PGData(), cluster.DataMountPath, cluster.SocketDir, cluster.ConfigDir))
	if err == nil {
		_, err = ParsePrimary(out, &p, &a)
	}
	if err != nil {
		p.Error = err.Error()
		return
	}
	if a.Failing() {
		a.LastFailure = g.lastArchiveError(ctx, pod.Name, *a.LastFailed)
	}
}

// lastArchiveError reads the last pgBackRest error line archive_command left in the primary's log
// (PostgreSQL logs its stderr) since the last failure: one read, only when archiving fails.
func (g *gatherer) lastArchiveError(ctx context.Context, pod string, since time.Time) string {
	t := metav1.NewTime(since.Add(-time.Minute))
	tail := int64(500)
	rc, err := g.d.Client.CoreV1().Pods(g.spec.Namespace).GetLogs(pod, &corev1.PodLogOptions{
		Container: manifest.ContainerPostgres, SinceTime: &t, TailLines: &tail}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return LastErrorLine(string(b))
}

// LastErrorLine is the last pgBackRest ERROR line of a log, from "ERROR" on.
func LastErrorLine(log string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if j := strings.Index(lines[i], "ERROR: "); j >= 0 {
			return strings.TrimSpace(lines[i][j:])
		}
	}
	return ""
}

func (g *gatherer) repositories(ctx context.Context, pod *corev1.Pod, listErr error) {
	repos := make([]Repository, 0, len(g.spec.Storages))
	for _, s := range g.spec.Storages {
		r := g.spec.RetentionFor(s)
		repos = append(repos, Repository{Storage: s, Key: pgbackrest.RepoKey(s),
			Retention: Retention{Full: r.Full, FullType: r.FullType, Diff: r.Diff, Archive: r.Archive, ArchiveType: r.ArchiveType}})
	}
	fail := func(msg string) {
		for i := range repos {
			repos[i].Error = msg
		}
	}
	defer func() {
		g.mu.Lock()
		g.st.Repositories = repos
		g.mu.Unlock()
	}()
	switch {
	case listErr != nil:
		fail(listErr.Error())
		return
	case pod == nil:
		fail(fmt.Sprintf("no repository host pod runs (Deployment %s)", g.spec.Names().RepoHost()))
		return
	case !cluster.PodReady(pod):
		fail(fmt.Sprintf("repository host pod %s is %s", pod.Name, cluster.PodStatus(pod)))
		return
	}
	keys := make([]int, len(repos))
	for i, r := range repos {
		keys[i] = r.Key
	}
	mount := ""
	if g.spec.Has(pgbackrest.Local) {
		mount = cluster.RepoMountPath
	}
	secs := int(g.timeout / time.Second)
	ctx, cancel := context.WithTimeout(ctx, g.timeout+5*time.Second)
	defer cancel()
	out, err := g.exec(ctx, pod.Name, backup.Container, RepoScript(backup.Stanza, keys, secs, mount))
	if err != nil {
		fail(err.Error())
		return
	}
	outs, dfSize, dfUsed := ParseRepoScript(out)
	sum := &pgbackrest.Summary{Stanza: backup.Stanza}
	for i := range repos {
		r := &repos[i]
		j := slices.IndexFunc(outs, func(o RepoOutput) bool { return o.Key == r.Key })
		if j < 0 {
			r.Error = "the repository host printed nothing for it"
			continue
		}
		o := outs[j]
		if o.Code == 124 || o.Code == 137 {
			r.Error = fmt.Sprintf("pgbackrest info did not answer within %s", g.timeout)
			continue
		}
		one, perr := backup.Summarize([]byte(o.JSON), []pgbackrest.Storage{r.Storage}, "")
		if o.Code != 0 || perr != nil {
			msg := o.Stderr
			if msg == "" && perr != nil {
				msg = perr.Error()
			}
			r.Error = fmt.Sprintf("pgbackrest info exited with code %d: %s", o.Code, msg)
			continue
		}
		if sum.Status.Message == "" || one.Status.Code != 0 {
			sum.Status = one.Status
		}
		sum.BackupRunning = sum.BackupRunning || one.BackupRunning
		sum.Repositories = append(sum.Repositories, one.Repositories...)
		if r.Storage == pgbackrest.Local {
			r.VolumeSizeBytes, r.VolumeUsedBytes = dfSize, dfUsed
		}
	}
	g.mu.Lock()
	g.st.summary = sum
	g.mu.Unlock()
}

// finish fills each repository from pgBackRest's summary, with the archive gaps the primary
// reported applied (a gap ends the recoverable window before it).
func finish(st *Status, now time.Time) {
	sum := st.summary
	if sum == nil {
		return
	}
	sum.ApplyGaps(st.Archiving.Queues)
	for i := range st.Repositories {
		r := &st.Repositories[i]
		j := slices.IndexFunc(sum.Repositories, func(rs pgbackrest.RepositorySummary) bool { return rs.Storage == r.Storage })
		if j < 0 {
			continue
		}
		fillRepository(r, sum.Repositories[j], now)
	}
}

// fillRepository takes a repository's facts from its pgBackRest summary.
func fillRepository(r *Repository, rs pgbackrest.RepositorySummary, now time.Time) {
	r.Status = rs.Status.Message
	r.Archive, r.RecoveryWindow = rs.Archive, rs.RecoveryWindow
	r.Backups = len(rs.Backups)
	r.BackupBytes = 0
	mk := func(b pgbackrest.BackupSummary) *Backup {
		return &Backup{Label: b.Label, Type: b.Type, Stop: b.Stop.UTC(), Age: DurationOf(now.Sub(b.Stop))}
	}
	for i, b := range rs.Backups {
		r.BackupBytes += int64(b.RepoDelta)
		if i == 0 {
			r.Oldest = mk(b)
		}
		if r.Newest == nil || !b.Stop.Before(r.Newest.Stop) {
			r.Newest = mk(b)
		}
		switch b.Type {
		case "full":
			if r.LastFull == nil || !b.Stop.Before(r.LastFull.Stop) {
				r.LastFull = mk(b)
			}
		case "diff":
			if r.LastDiff == nil || !b.Stop.Before(r.LastDiff.Stop) {
				r.LastDiff = mk(b)
			}
		case "incr":
			if r.LastIncr == nil || !b.Stop.Before(r.LastIncr.Stop) {
				r.LastIncr = mk(b)
			}
		}
	}
}

func (g *gatherer) lease(ctx context.Context) {
	ns := g.spec.Namespace
	l, err := g.d.Client.CoordinationV1().Leases(ns).Get(ctx, g.spec.Names().Lease(), metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return // none, or not readable: the Lease is only shown
	}
	le := &Lease{Holder: *l.Spec.HolderIdentity, Purpose: l.Annotations[kube.AnnotationPurpose]}
	if l.Spec.AcquireTime != nil {
		t := l.Spec.AcquireTime.UTC()
		le.Since = &t
	}
	g.mu.Lock()
	g.st.Lease = le
	g.mu.Unlock()
}

// schedules lists the cluster's CronJobs and their Jobs (one list each).
func (g *gatherer) schedules(ctx context.Context) {
	ns, sel := g.spec.Namespace, cluster.ScheduleSelector(g.spec.Name)
	cjs, err := g.d.Client.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil || len(cjs.Items) == 0 {
		return
	}
	jobs, err := g.d.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	var jl []batchv1.Job
	if err == nil {
		jl = jobs.Items
	}
	out := Schedules(cjs.Items, jl, g.st.Time)
	g.mu.Lock()
	g.st.Schedules = out
	g.mu.Unlock()
}

// Schedules describes CronJobs with their newest Job each, sorted by name.
func Schedules(cjs []batchv1.CronJob, jobs []batchv1.Job, now time.Time) []Schedule {
	out := []Schedule{}
	for _, cj := range cjs {
		s := Schedule{Name: cj.Name, Type: cj.Labels[cluster.LabelBackupType], Storage: pgbackrest.Storage(cj.Labels[cluster.LabelStorage]),
			Schedule: cj.Spec.Schedule, Suspended: cj.Spec.Suspend != nil && *cj.Spec.Suspend}
		if cj.Spec.TimeZone != nil {
			s.TimeZone = *cj.Spec.TimeZone
		}
		if p, err := CronPeriod(s.Schedule, s.TimeZone, now); err == nil {
			s.Period = DurationOf(p)
		}
		if t := cj.Status.LastScheduleTime; t != nil {
			u := t.UTC()
			s.LastSchedule = &u
		}
		if t := cj.Status.LastSuccessfulTime; t != nil {
			u := t.UTC()
			s.LastSuccessful = &u
		}
		var newest *batchv1.Job
		for i := range jobs {
			j := &jobs[i]
			if !ownedBy(j, cj.UID) {
				continue
			}
			if newest == nil || j.CreationTimestamp.After(newest.CreationTimestamp.Time) {
				newest = j
			}
		}
		if newest != nil {
			s.LastJob, s.LastResult = newest.Name, jobResult(newest)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Schedule) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func ownedBy(j *batchv1.Job, uid types.UID) bool {
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" && o.UID == uid {
			return true
		}
	}
	return false
}

func jobResult(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "succeeded"
		case batchv1.JobFailed:
			return "failed"
		}
	}
	switch {
	case j.Status.Succeeded > 0:
		return "succeeded"
	case j.Status.Failed > 0 && j.Status.Active == 0:
		return "failed"
	}
	return "running"
}

func (g *gatherer) certificates(ctx context.Context) {
	cs, err := rotate.ReadCertStatus(ctx, g.d.Client, g.spec.Namespace, g.spec.Name, g.st.Time)
	if err != nil || cs == nil {
		return
	}
	t := cs.NotAfter.UTC()
	g.mu.Lock()
	g.st.CertificatesNotAfter = &t
	g.mu.Unlock()
}
