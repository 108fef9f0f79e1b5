package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

const ns = "prod"

// fakeExec answers the commands the restore runs in pods. Errs maps a substring of the command
// line to the error returned for it.
type fakeExec struct {
	mu    sync.Mutex
	info  []byte
	Errs  map[string]error
	Calls []string
	// gapStatus answers archive-backfill.sh --status, one per call (the last one repeats).
	gapStatus []string
	// backupLabel is the label a backup command reports.
	backupLabel string
	// systemID answers pg_control_system() ("" says nothing, as an older fake did).
	systemID string
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(_ context.Context, _, pod, container string, cmd []string, _ io.Reader, stdout, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := strings.Join(cmd, " ")
	f.Calls = append(f.Calls, pod+"/"+container+": "+line)
	for sub, err := range f.Errs {
		if strings.Contains(line, sub) {
			return err
		}
	}
	var out string
	switch {
	case strings.HasSuffix(line, " backup"):
		out = "P00   INFO: new backup label = " + f.backupLabel
	case strings.Contains(line, " info"):
		out = string(f.info)
	case strings.Contains(line, "pg_switch_wal"):
		out = "000000010000000000000080"
	case strings.Contains(line, "pg_stat_archiver"):
		out = "000000010000000000000080||0|"
	case strings.Contains(line, "pg_get_wal_replay_pause_state"):
		out = "f||"
	case strings.Contains(line, "pg_is_in_recovery()"):
		out = "f"
	case strings.Contains(line, "pg_control_system()"):
		out = f.systemID
	case strings.HasSuffix(line, "archive-backfill.sh --status") && len(f.gapStatus) > 0:
		out = f.gapStatus[0]
		if len(f.gapStatus) > 1 {
			f.gapStatus = f.gapStatus[1:]
		}
	}
	_, err := io.WriteString(stdout, out+"\n")
	return err
}

// world is a fake cluster with a "controller" that completes Jobs, makes Deployments available
// with a ready pod, and removes the pods of deleted Deployments.
type world struct {
	t    *testing.T
	cs   *fake.Clientset
	exec *fakeExec
	spec *cluster.Spec
	now  time.Time
	stop chan struct{}
	done chan struct{}
	// failJob makes the controller fail the restore Job.
	failJob bool
	mu      sync.Mutex
}

func testSpec(t *testing.T) *cluster.Spec {
	t.Helper()
	s := cluster.New("db", ns)
	s.Storages = []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}
	s.Image = "kubectl-pgbackrest/postgres:15"
	s.S3 = cluster.S3{Bucket: "backups", Endpoint: "s3.example.svc", Region: "us-east-1", URIStyle: "path", VerifyTLS: true}
	s.NodeSelector = map[string]string{"disk": "ssd"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func newWorld(t *testing.T) *world {
	t.Helper()
	spec := testSpec(t)
	info, err := os.ReadFile("testdata/info-two-repos.json")
	if err != nil {
		t.Fatal(err)
	}
	p := spec.ConfigParams()
	db, err := pgbackrest.RenderDBConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := pgbackrest.RenderRepoConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := manifest.ConfigMap(spec, db, repo)
	if err != nil {
		t.Fatal(err)
	}
	pvc := manifest.DataPVC(spec, spec.DataPVC)
	pvc.Status.Phase = corev1.ClaimBound
	cs := fake.NewClientset(cm, pvc, manifest.PrimaryDeployment(spec), manifest.RepoHostDeployment(spec, ""),
		readyPod(spec, "db-repo-0", cluster.RoleRepo), readyPod(spec, "db-primary-0", cluster.RolePrimary))
	w := &world{t: t, cs: cs, exec: &fakeExec{info: info, Errs: map[string]error{}}, spec: spec,
		now: time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC), stop: make(chan struct{}), done: make(chan struct{})}
	go w.control()
	t.Cleanup(func() { close(w.stop); <-w.done })
	return w
}

func readyPod(spec *cluster.Spec, name string, role cluster.Role) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: spec.Namespace, Labels: cluster.Labels(spec.Name, role),
			CreationTimestamp: metav1.Now()},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func (w *world) control() {
	defer close(w.done)
	ctx := context.Background()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		jobs, _ := w.cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		for i := range jobs.Items {
			j := &jobs.Items[i]
			if len(j.Status.Conditions) > 0 {
				continue
			}
			w.mu.Lock()
			typ := batchv1.JobComplete
			if w.failJob {
				typ = batchv1.JobFailed
			}
			w.mu.Unlock()
			j.Status.Conditions = []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "failed"}}
			_, _ = w.cs.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		}
		deps, _ := w.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		hasPrimary := false
		for i := range deps.Items {
			d := &deps.Items[i]
			if d.Name == w.spec.Names().Primary() {
				hasPrimary = true
			}
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
			_, _ = w.cs.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		}
		primaryPod := readyPod(w.spec, "db-primary-0", cluster.RolePrimary)
		if hasPrimary {
			_, _ = w.cs.CoreV1().Pods(ns).Create(ctx, primaryPod, metav1.CreateOptions{})
		} else {
			_ = w.cs.CoreV1().Pods(ns).Delete(ctx, primaryPod.Name, metav1.DeleteOptions{})
		}
	}
}

func (w *world) deps() Deps {
	return Deps{Client: w.cs, Exec: w.exec, Now: func() time.Time { return w.now }, ErrOut: io.Discard,
		Holder: "test@host pid 1", Poll: time.Millisecond, LeaseRecheck: time.Millisecond}
}

func (w *world) prepare(cfg Config) (*Restore, error) {
	w.t.Helper()
	if cfg.Namespace == "" {
		cfg.Namespace = ns
	}
	if cfg.Cluster == "" {
		cfg.Cluster = "db"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return Prepare(context.Background(), w.deps(), cfg)
}

// recorder is a workflow.Reporter that remembers what happened.
type recorder struct{ applied, skipped []string }

func (r *recorder) Start(string)                      {}
func (r *recorder) Skipped(name string)               { r.skipped = append(r.skipped, name) }
func (r *recorder) Done(name string, _ time.Duration) { r.applied = append(r.applied, name) }
func (r *recorder) Failed(string, error)              {}

// checkRestored verifies the end state of a restore onto pvc.
func (w *world) checkRestored(pvc string) {
	w.t.Helper()
	ctx := context.Background()
	spec, cm, err := cluster.Get(ctx, w.cs, ns, "db")
	if err != nil {
		w.t.Fatal(err)
	}
	if spec.DataPVC != pvc {
		w.t.Errorf("live data PVC = %s, want %s", spec.DataPVC, pvc)
	}
	for k := range cm.Annotations {
		if strings.HasPrefix(k, cluster.AnnotationRestorePrefix) {
			w.t.Errorf("annotation %s left on the ConfigMap", k)
		}
	}
	old, err := w.cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("old PVC: %v", err)
	}
	if old.Labels[LabelRetiredAt] == "" {
		w.t.Errorf("old PVC not labelled retired: %v", old.Labels)
	}
	d, err := w.cs.AppsV1().Deployments(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("primary Deployment: %v", err)
	}
	if got := d.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName; got != pvc {
		w.t.Errorf("primary runs on %s, want %s", got, pvc)
	}
	if _, err := w.cs.CoordinationV1().Leases(ns).Get(ctx, "db-pgbackrest", metav1.GetOptions{}); err == nil {
		w.t.Errorf("lease still held")
	}
}

func mutations(cs *fake.Clientset) int {
	n := 0
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			if a.GetSubresource() != "status" && a.GetResource().Resource != "pods" {
				n++
			}
		}
	}
	return n
}

func TestRestoreRunTwiceChangesNothing(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.S3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored("db-20261125010000")

	// Stop the controller so that only the workflow could change anything.
	close(w.stop)
	<-w.done
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go func() { <-w.stop; close(w.done) }()
	w.cs.ClearActions()
	rec := &recorder{}
	if err := (workflow.Runner{}).Run(context.Background(), r.Steps(), rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.applied) != 0 {
		t.Errorf("second run applied %v", rec.applied)
	}
	if n := mutations(w.cs); n != 0 {
		t.Errorf("second run made %d changes: %v", n, w.cs.Actions())
	}
}

var errInjected = errors.New("injected fault")

// TestRestoreFailAtEachStepThenRerun fails the restore at each step in turn (before and after the
// step's own work, like a kill -9 between steps) and checks that a re-run of the same command
// converges on the same restore.
func TestRestoreFailAtEachStepThenRerun(t *testing.T) {
	n := len((&Restore{Spec: testSpec(t), cfg: Config{}}).Steps())
	for i := 0; i < n; i++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("step%d/after=%v", i, after), func(t *testing.T) {
				w := newWorld(t)
				cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
				r, err := w.prepare(cfg)
				if err != nil {
					t.Fatal(err)
				}
				steps := r.Steps()
				apply := steps[i].Apply
				steps[i].Apply = func(ctx context.Context) error {
					if after {
						if err := apply(ctx); err != nil {
							return err
						}
					}
					return errInjected
				}
				rec := &recorder{}
				err = workflow.Runner{}.Run(context.Background(), steps, rec)
				_ = r.releaseLease(context.Background())
				if err == nil && slices.Contains(rec.skipped, steps[i].Name) {
					t.Skipf("step %q is done by construction here: it never runs", steps[i].Name)
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("first run: %v, want the injected fault", err)
				}

				w.now = w.now.Add(time.Minute)
				r2, err := w.prepare(cfg)
				if err != nil {
					t.Fatalf("re-run preflight: %v", err)
				}
				if r2.AlreadyDone != nil {
					if r2.AlreadyDone.ID != r.ID {
						t.Errorf("already done: restore %s, want %s", r2.AlreadyDone.ID, r.ID)
					}
					w.checkRestored(r.PVC)
					return
				}
				if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
					t.Fatalf("re-run: %v", err)
				}
				w.checkRestored(r2.PVC)
				if r2.PVC != r.PVC {
					// Only a fault before the restore was recorded may start a new one.
					if i > 1 || (i == 1 && after) {
						t.Errorf("re-run restored onto %s, want the first run's %s", r2.PVC, r.PVC)
					}
				}
			})
		}
	}
}

func TestRestoreFailedJobThenRerunUsesDelta(t *testing.T) {
	w := newWorld(t)
	w.failJob = true
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(context.Background(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "restore Job prod/db-restore-20261125010000 failed") {
		t.Fatalf("err = %v, want the Job failure", err)
	}
	if !strings.Contains(err.Error(), "old data PVC db is untouched") {
		t.Errorf("error does not say the old PVC is intact: %v", err)
	}
	w.mu.Lock()
	w.failJob = false
	w.mu.Unlock()
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Resumed || r2.ID != r.ID {
		t.Fatalf("re-run did not resume restore %s: %+v", r.ID, r2)
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	j, err := w.cs.BatchV1().Jobs(ns).Get(context.Background(), r.Job, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(j.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, "--delta") {
		t.Errorf("second attempt's command lacks --delta: %s", cmd)
	}
	w.checkRestored(r.PVC)
}

// TestRestoreFailedJobSaidOnce reads stderr as a user sees it, the step reporter's lines then
// main's error line: the failed Job's log tail and what to run next are there, each once.
func TestRestoreFailedJobSaidOnce(t *testing.T) {
	w := newWorld(t)
	w.failJob = true
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	r.d.ErrOut = &stderr
	_, err = r.Run(context.Background(), output.NewStepReporter(&stderr, output.NewColor(false)))
	if err == nil {
		t.Fatal("a failed restore Job was not reported as an error")
	}
	output.PrintError(&stderr, err) // what main does with the command's error
	got := stderr.String()
	for _, tt := range []struct {
		text string
		want int
	}{
		{"✗ restore from local (repo1) with Job " + r.Job + "\n", 1},
		{"error: restore Job prod/" + r.Job + " failed (BackoffLimitExceeded: failed)", 1},
		{"Last lines of its log:\n  | (no log: see kubectl -n prod describe job " + r.Job + ")\n", 1},
		{"The old data PVC db is untouched. Fix the cause and re-run", 1},
		{"BackoffLimitExceeded", 1},
		// workflow's generic hint would repeat the Job error's own.
		{"re-run the same command to resume", 0},
	} {
		if n := strings.Count(got, tt.text); n != tt.want {
			t.Errorf("stderr has %q %d times, want %d; stderr:\n%s", tt.text, n, tt.want, got)
		}
	}
	var failed *kube.JobFailedError
	if !errors.As(err, &failed) || exitcode.For(err) != exitcode.Failure {
		t.Errorf("err = %#v (exit %d), want it to wrap *kube.JobFailedError and exit 1", err, exitcode.For(err))
	}
}

func TestRestoreOtherTargetRefusedUnlessAbandon(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	steps := r.Steps()
	if err := (workflow.Runner{}).Run(context.Background(), steps[:4], &recorder{}); err != nil {
		t.Fatal(err)
	}
	_ = r.releaseLease(context.Background())

	other := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Target: pgbackrest.Target{Type: pgbackrest.TargetImmediate}}
	_, err = w.prepare(other)
	if !errors.Is(err, ErrInProgress) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want a usage error wrapping ErrInProgress", err)
	}
	w.now = w.now.Add(time.Minute)
	other.Abandon = true
	r2, err := w.prepare(other)
	if err != nil {
		t.Fatal(err)
	}
	if r2.PVC == r.PVC || r2.Abandoned != r.ID {
		t.Fatalf("abandon: pvc %s (first %s), abandoned %q", r2.PVC, r.PVC, r2.Abandoned)
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored(r2.PVC)
	// The abandoned restore's PVC is kept, and retired.
	p, err := w.cs.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), r.PVC, metav1.GetOptions{})
	if err != nil || p.Labels[LabelRetiredAt] == "" {
		t.Fatalf("abandoned PVC %s: %v %v", r.PVC, err, p)
	}
}

func TestPrepareValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown cluster", Config{Cluster: "nope"}, `cluster "nope" not found`},
		{"both storages", Config{Storages: []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}}, "pick --storage=local or --storage=s3"},
		{"missing set", Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Set: "20200101-000000F"}, "--set 20200101-000000F: no such backup"},
		{"set of the other repo", Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Set: "20261125-002351F"}, "no such backup in repository local"},
		{"time before the window", Config{Storages: []pgbackrest.Storage{pgbackrest.S3},
			Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:00:00+00", Action: pgbackrest.ActionPromote}}, "the recoverable window is from"},
		{"time in the future", Config{Storages: []pgbackrest.Storage{pgbackrest.S3},
			Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 02:00:00+00"}}, "is in the future"},
		{"time without zone", Config{Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:30:00"}}, "has no time zone"},
		{"set after the target", Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Set: "20261125-002741F",
			Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:27:00+00"}}, "ended at"},
		{"pause with backup-after", Config{BackupAfter: true,
			Target: pgbackrest.Target{Type: pgbackrest.TargetImmediate, Action: pgbackrest.ActionPause}}, "--backup-after cannot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			_, err := w.prepare(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if exitcode.For(err) != exitcode.UsageError {
				t.Errorf("exit code %d, want %d", exitcode.For(err), exitcode.UsageError)
			}
			if n := mutations(w.cs); n != 0 {
				t.Errorf("preflight changed the cluster: %v", w.cs.Actions())
			}
		})
	}
}

func TestPrepareStorageNotInCluster(t *testing.T) {
	w := newWorld(t)
	spec := testSpec(t)
	spec.Storages = []pgbackrest.Storage{pgbackrest.Local}
	_, err := ResolveStorage(spec, []pgbackrest.Storage{pgbackrest.S3})
	if err == nil || !strings.Contains(err.Error(), "has no s3 repository") || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v", err)
	}
	if st, err := ResolveStorage(spec, nil); err != nil || st != pgbackrest.Local {
		t.Fatalf("default storage = %s, %v", st, err)
	}
	spec.Storages = []pgbackrest.Storage{pgbackrest.S3}
	if st, err := ResolveStorage(spec, nil); err != nil || st != pgbackrest.S3 {
		t.Fatalf("default storage of an s3 cluster = %s, %v", st, err)
	}
	_ = w
}

func TestPrepareLeaseHeld(t *testing.T) {
	w := newWorld(t)
	holderID := "someone@elsewhere pid 42"
	secs := int32(90)
	now := metav1.NewMicroTime(w.now)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "db-pgbackrest", Namespace: ns, Labels: cluster.Labels("db", cluster.RoleConfig)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holderID, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}}
	_, err := w.cs.CoordinationV1().Leases(ns).Create(context.Background(), lease, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keepRenewing(t, w.cs) // its holder is alive
	_, err = w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	var held *kube.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("err = %v, want *kube.HeldError", err)
	}
}

// TestRestoreTakesOverLeaseOfDeadLocalRun: a restore killed with kill -9 on this machine leaves a
// fresh Lease behind; its re-run takes it over at once (pkg/kube decides, as for backup).
func TestRestoreTakesOverLeaseOfDeadLocalRun(t *testing.T) {
	w := newWorld(t)
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatalf("running a short-lived process: %v", err)
	}
	self := kube.Holder()
	holderID := self[:strings.LastIndex(self, " pid ")] + " pid " + strconv.Itoa(dead.Process.Pid)
	secs := int32(90)
	now := metav1.NewMicroTime(w.now)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "db-pgbackrest", Namespace: ns, Labels: cluster.Labels("db", cluster.RoleConfig)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holderID, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}}
	if _, err := w.cs.CoordinationV1().Leases(ns).Create(context.Background(), lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if held, err := kube.LeaseHeld(short, w.cs, kube.LeaseConfig{Namespace: ns, Name: "db-pgbackrest", Holder: "me", Recheck: time.Millisecond}); held != nil || err != nil {
		t.Skip("processes cannot be probed here: a dead run's Lease is taken over once stale")
	}
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatalf("preflight refused the dead run's lease: %v", err)
	}
	var stderr bytes.Buffer
	r.d.ErrOut = &stderr
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("lease db-pgbackrest was held by %q, which no longer runs on this machine: taking it over", holderID); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	w.checkRestored(r.PVC)
}

func TestArchiveStuck(t *testing.T) {
	w := newWorld(t)
	w.exec.Errs["pg_stat_archiver"] = errors.New("archiver broken")
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The fake clock stands still: make it move so the archive wait ends.
	start := w.now
	r.d.Now = func() time.Time { start = start.Add(10 * time.Millisecond); return start }
	_, err = r.Run(context.Background(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "archiving stuck") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err = %v, want archiving stuck with --force hint", err)
	}
	// Nothing destructive happened: the old primary still runs.
	if _, err := w.cs.AppsV1().Deployments(ns).Get(context.Background(), "db", metav1.GetOptions{}); err != nil {
		t.Fatalf("primary Deployment deleted: %v", err)
	}

	r2, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Force: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r2.d.Now = r.d.Now
	r2.cfg.Timeout = 5 * time.Second
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored(r2.PVC)
}

// A primary of another database than the repository's backups (created again over old backups)
// can never archive there: the restore says so at once, without waiting, and goes on only with
// --force. The same database waits and archives as always.
func TestArchiveOtherDatabase(t *testing.T) {
	for _, tc := range []struct {
		systemID string
		force    bool
		refused  bool
	}{
		{"7711891272163418070", false, false},
		{"7000000000000000001", false, true},
		{"7000000000000000001", true, false},
	} {
		w := newWorld(t)
		w.exec.systemID = tc.systemID
		r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Force: tc.force, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		r.d.Warn = func(format string, args ...any) { fmt.Fprintf(&stderr, format+"\n", args...) }
		_, err = r.Run(context.Background(), &recorder{})
		const why = "the running primary is another database (system-id 7000000000000000001) than the one whose backups local holds (system-id 7711891272163418070)"
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "--force")):
			t.Errorf("%+v: err = %v, want the other database named and --force", tc, err)
		case !tc.refused && err != nil:
			t.Errorf("%+v: %v", tc, err)
		}
		waited := slices.ContainsFunc(w.exec.Calls, func(c string) bool { return strings.Contains(c, "pg_stat_archiver") })
		if waited != (tc.systemID == "7711891272163418070") {
			t.Errorf("%+v: waited for archiving = %v", tc, waited)
		}
		if tc.force && !strings.Contains(stderr.String(), why) {
			t.Errorf("--force gave no warning: %q", stderr.String())
		}
	}
}

// A primary that exists but is not Ready may still hold WAL: the restore stops before anything
// destructive (unless --force) instead of treating it as not running.
func TestArchiveOldPrimaryNotReady(t *testing.T) {
	w := newWorld(t)
	p, err := w.cs.CoreV1().Pods(ns).Get(context.Background(), "db-primary-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	if _, err := w.cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(context.Background(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "archiving stuck") || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("err = %v, want archiving stuck naming the not-ready primary", err)
	}
	if _, err := w.cs.AppsV1().Deployments(ns).Get(context.Background(), "db", metav1.GetOptions{}); err != nil {
		t.Fatalf("primary Deployment deleted: %v", err)
	}
}

// The switch of WAL on the old primary follows a commit, so that a time target up to now has a
// record after it even on a quiet database; every psql is bounded.
func TestArchiveCommitsBeforeSwitch(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	commit := slices.IndexFunc(w.exec.Calls, func(c string) bool { return strings.HasSuffix(c, "select txid_current()") })
	switched := slices.IndexFunc(w.exec.Calls, func(c string) bool { return strings.Contains(c, "pg_switch_wal()") })
	if commit < 0 || switched < 0 || commit > switched {
		t.Errorf("commit at %d, switch at %d: %q", commit, switched, w.exec.Calls)
	}
	for _, c := range w.exec.Calls {
		if strings.Contains(c, " psql ") && !strings.Contains(c, "PGCONNECT_TIMEOUT=10 PGOPTIONS=-c statement_timeout=60s psql") {
			t.Errorf("psql without timeouts: %s", c)
		}
	}
}

// deleteJob deletes a restore Job as a TTL policy (or someone tidying up) would.
func (w *world) deleteJob(name string) {
	w.t.Helper()
	bg := metav1.DeletePropagationBackground
	if err := w.cs.BatchV1().Jobs(ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		w.t.Fatal(err)
	}
}

// runThrough runs r's steps up to and including the first whose name starts with prefix, then
// releases the Lease: a run killed right after that step.
func runThrough(t *testing.T, r *Restore, prefix string) {
	t.Helper()
	steps := r.Steps()
	n := slices.IndexFunc(steps, func(s workflow.Step) bool { return strings.HasPrefix(s.Name, prefix) })
	if n < 0 {
		t.Fatalf("no step %q", prefix)
	}
	if err := (workflow.Runner{}).Run(context.Background(), steps[:n+1], &recorder{}); err != nil {
		t.Fatal(err)
	}
	_ = r.releaseLease(context.Background())
}

// TestRestoreJobDeletedAfterPrimaryStarted: a run killed once the new primary runs on the restore's
// PVC, whose Job is then deleted (a TTL policy, someone tidying up), must not run a new restore
// Job (--delta over the live database) when re-run: the live PVC proves the Job step.
func TestRestoreJobDeletedAfterPrimaryStarted(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "create primary Deployment")
	w.deleteJob(r.Job)
	w.now = w.now.Add(time.Minute)
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if _, err := w.cs.BatchV1().Jobs(ns).Get(context.Background(), r.Job, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the re-run created restore Job %s again on the live PVC (err %v)", r.Job, err)
	}
	w.checkRestored(r.PVC)
}

// A restore from s3 of a local,s3 cluster needs the old primary's last segment in s3: an outage
// may have left it in s3's gap. The gap is copied first; one that stays stops the restore before
// anything destructive, unless --force.
func TestArchiveGapInRestoredRepository(t *testing.T) {
	gap := "gap s3 2 1795568400 00000001000000000000007F 000000010000000000000080\n"
	w := newWorld(t)
	w.exec.gapStatus = []string{gap}
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.S3}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(context.Background(), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "archiving stuck") || !strings.Contains(err.Error(), "not in s3") ||
		!strings.Contains(err.Error(), "restore from local") {
		t.Fatalf("err = %v, want archiving stuck naming the gap in s3", err)
	}
	if _, err := w.cs.AppsV1().Deployments(ns).Get(context.Background(), "db", metav1.GetOptions{}); err != nil {
		t.Fatalf("primary Deployment deleted: %v", err)
	}
	if !slices.ContainsFunc(w.exec.Calls, func(c string) bool { return strings.Contains(c, "archive-backfill.sh s3 ") }) {
		t.Errorf("no backfill of s3 before giving up: %q", w.exec.Calls)
	}

	// The backfill fills it: the restore goes on.
	w.exec.gapStatus = []string{gap, ""}
	r, err = w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.S3}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored(r.PVC)
}

func TestCanonical(t *testing.T) {
	a := Canonical(pgbackrest.S3, "", pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25T10:00:00+01:00", Action: "promote"})
	b := Canonical(pgbackrest.S3, "", pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 09:00:00+00", Action: "promote"})
	if a != b {
		t.Errorf("same instant spelled twice: %q != %q", a, b)
	}
	if want := "storage=s3 type=time target=2026-11-25 09:00:00+00 action=promote"; a != want {
		t.Errorf("Canonical = %q, want %q", a, want)
	}
	if Canonical(pgbackrest.Local, "", pgbackrest.Target{}) == Canonical(pgbackrest.S3, "", pgbackrest.Target{}) {
		t.Error("storage not part of the canonical target")
	}
}

func TestWALReached(t *testing.T) {
	for _, tt := range []struct {
		archived, seg string
		want          bool
	}{
		{"000000010000000000000080", "000000010000000000000080", true},
		{"000000010000000000000081", "000000010000000000000080", true},
		{"00000001000000000000007F", "000000010000000000000080", false},
		{"00000002.history", "000000010000000000000080", false},
		// A backup of an idle database: its history file is the last archived, and
		// pg_switch_wal() names the backup's segment.
		{"000000010000000000000080.00000028.backup", "000000010000000000000080", true},
		{"00000001000000000000007F.00000028.backup", "000000010000000000000080", false},
		{"000000010000000000000080.partial", "000000010000000000000080", false},
		{"", "000000010000000000000080", false},
	} {
		if got := walReached(tt.archived, tt.seg); got != tt.want {
			t.Errorf("walReached(%q, %q) = %v", tt.archived, tt.seg, got)
		}
	}
}

func TestRetiredAndCleanup(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list, err := ListRetired(ctx, w.cs, ns, "db")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.PVCs) != 1 || list.PVCs[0].Name != "db" || list.PVCs[0].Size != "1Gi" {
		t.Fatalf("retired = %+v", list.PVCs)
	}
	// An unrelated PVC and the live one are refused.
	other := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := w.cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{r.PVC, "other", "missing"} {
		if err := Cleanup(ctx, w.cs, ns, "db", name); err == nil || exitcode.For(err) != exitcode.UsageError {
			t.Errorf("cleanup %s: err = %v, want a usage error", name, err)
		}
	}
	if err := Cleanup(ctx, w.cs, ns, "db", "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "db", metav1.GetOptions{}); err == nil {
		t.Error("retired PVC still there")
	}
}
