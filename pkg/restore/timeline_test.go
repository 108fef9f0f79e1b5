package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// repoExec answers repo-ls and repo-get from files (path relative to the repository -> content;
// times by path), and passes every other command to the world's fakeExec.
type repoExec struct {
	*fakeExec
	files map[string]string
	times map[string]time.Time
}

var _ kube.Executor = (*repoExec)(nil)

func (f *repoExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, in io.Reader, stdout, stderr io.Writer) error {
	line := strings.Join(cmd, " ")
	switch {
	case strings.Contains(line, " repo-ls "):
		dir := cmd[len(cmd)-1]
		m := map[string]any{".": map[string]any{"type": "path"}}
		for p, data := range f.files {
			if name, ok := strings.CutPrefix(p, dir+"/"); ok && !strings.Contains(name, "/") {
				m[name] = map[string]any{"type": "file", "size": len(data), "time": f.times[p].Unix()}
			}
		}
		b, _ := json.Marshal(m)
		_, err := stdout.Write(b)
		return err
	case strings.Contains(line, " repo-get "):
		data, ok := f.files[cmd[len(cmd)-1]]
		if !ok {
			return &kube.ExitError{Code: 1}
		}
		_, err := io.WriteString(stdout, data)
		return err
	}
	return f.fakeExec.Exec(ctx, ns, pod, container, cmd, in, stdout, stderr)
}

// twoTimelines is the fixture's repo1 after two point-in-time restores: timeline 2 branched from 1
// at 0/70000000 (first commit not replayed at 00:30), began 00:35 and holds backup
// 20261125-004000F; timeline 3 branched from 1 at 0/60000000, before the fixture's last two sets
// (first commit not replayed at 00:25), and began 00:50.
func twoTimelines(t *testing.T, w *world) (*repoExec, Deps) {
	t.Helper()
	var stanzas []map[string]any
	if err := json.Unmarshal(w.exec.info, &stanzas); err != nil {
		t.Fatal(err)
	}
	st := stanzas[0]
	for _, a := range st["archive"].([]any) {
		a := a.(map[string]any)
		if a["database"].(map[string]any)["repo-key"].(float64) == 1 {
			a["max"] = "000000030000000000000080"
		}
	}
	at := func(m int) time.Time { return time.Date(2026, 11, 25, 0, m, 0, 0, time.UTC) }
	st["backup"] = append(st["backup"].([]any), map[string]any{
		"archive":  map[string]any{"start": "000000020000000000000072", "stop": "000000020000000000000072"},
		"backrest": map[string]any{"format": 5, "version": "2.45"}, "database": map[string]any{"id": 1, "repo-key": 1},
		"error": false, "label": "20261125-004000F", "lsn": map[string]any{"start": "0/72000028", "stop": "0/72000100"},
		"prior": nil, "reference": nil, "timestamp": map[string]any{"start": at(39).Unix(), "stop": at(40).Unix()}, "type": "full",
	})
	info, err := json.Marshal(stanzas)
	if err != nil {
		t.Fatal(err)
	}
	w.exec.info = info
	dir := "archive/db/15-1/"
	x := &repoExec{fakeExec: w.exec,
		files: map[string]string{
			dir + "00000002.history": "1\t0/70000000\tbefore " + pgbackrest.FormatTargetTime(at(30)) + "\n\n",
			dir + "00000003.history": "1\t0/60000000\tbefore " + pgbackrest.FormatTargetTime(at(25)) + "\n\n",
		},
		times: map[string]time.Time{dir + "00000002.history": at(35), dir + "00000003.history": at(50)},
	}
	d := w.deps()
	d.Exec = x
	return x, d
}

func prepareWith(w *world, d Deps, cfg Config) (*Restore, error) {
	cfg.Namespace, cfg.Cluster = ns, "db"
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return Prepare(context.Background(), d, cfg)
}

// A time at which timeline 1 took writes, after timeline 3 (the newest) left it: following the
// newest would stop at 00:25's data, silently. Refused before anything changes.
func TestPrepareRefusesShadowedTargetTime(t *testing.T) {
	w := newWorld(t)
	_, d := twoTimelines(t, w)
	local := []pgbackrest.Storage{pgbackrest.Local}
	_, err := prepareWith(w, d, Config{Storages: local, Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:27:00+00"}})
	if !errors.Is(err, pgbackrest.ErrShadowed) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want a usage error wrapping ErrShadowed", err)
	}
	for _, want := range []string{"timeline 1 took the writes", "--target-timeline=1", "--target-timeline=3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err lacks %q: %v", want, err)
		}
	}
	if n := mutations(w.cs); n != 0 {
		t.Errorf("%d mutations, want none", n)
	}

	// Naming the timeline restores it, from the newest set on its history before the target.
	r, err := prepareWith(w, d, Config{Storages: local, Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:27:00+00", Timeline: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(r.restoreArgs(false), " "); !strings.Contains(args, "--set=20261125-002616F_20261125-002641I") || !strings.Contains(args, "--target-timeline=1") {
		t.Errorf("restore args %q: want the newest set before the target and timeline 1", args)
	}
}

// To the end of the archive, pgBackRest alone picks the newest set, 20261125-004000F on timeline 2,
// which timeline 3 does not descend from: PostgreSQL would refuse to start. The restore starts
// from the newest set on timeline 3's history instead, and the plan shows the timelines.
func TestPrepareChoosesSetOnTimelineHistory(t *testing.T) {
	w := newWorld(t)
	_, d := twoTimelines(t, w)
	r, err := prepareWith(w, d, Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(r.restoreArgs(false), " "); !strings.Contains(args, "--set=20261125-002616F_20261125-002630D") {
		t.Errorf("restore args %q: want --set=20261125-002616F_20261125-002630D (newest before timeline 3 left timeline 1)", args)
	}
	plan := strings.Join(r.Timelines, "\n")
	for _, want := range []string{"1: the cluster's first", "2: branched from 1 at 0/70000000", "3: branched from 1 at 0/60000000", "<- followed"} {
		if !strings.Contains(plan, want) {
			t.Errorf("timelines lack %q:\n%s", want, plan)
		}
	}
	// --set of a set off that history is refused.
	_, err = prepareWith(w, d, Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Set: "20261125-004000F"})
	if !errors.Is(err, pgbackrest.ErrNoSetOnTimeline) || exitcode.For(err) != exitcode.UsageError {
		t.Errorf("err = %v, want a usage error wrapping ErrNoSetOnTimeline", err)
	}
}

// With the old primary gone, nothing writes a record after a target time past the newest
// archived WAL: refused with the window, before anything changes. So is an LSN past its end.
func TestPrepareRefusesTargetPastArchive(t *testing.T) {
	w := newWorld(t)
	x, d := twoTimelines(t, w)
	// The old primary is not running (its Deployment deleted, as a crash or a user might).
	if err := w.cs.AppsV1().Deployments(ns).Delete(context.Background(), w.spec.Names().Primary(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNoPrimaryPod(t, w)
	seg := "archive/db/15-1/0000000300000000/000000030000000000000080-0123456789abcdef0123456789abcdef01234567.gz"
	x.files[seg] = "wal"
	x.times[seg] = time.Date(2026, 11, 25, 0, 55, 0, 0, time.UTC)
	before := mutations(w.cs)
	local := []pgbackrest.Storage{pgbackrest.Local}
	_, err := prepareWith(w, d, Config{Storages: local, Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:58:00+00"}})
	if err == nil || exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "after the newest archived WAL") ||
		!strings.Contains(err.Error(), "recoverable window") {
		t.Fatalf("err = %v, want a usage error about the newest archived WAL with the window", err)
	}
	_, err = prepareWith(w, d, Config{Storages: local, Target: pgbackrest.Target{Type: pgbackrest.TargetLSN, Value: "0/90000000"}})
	if err == nil || exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "past the end of the newest archived WAL segment") {
		t.Fatalf("err = %v, want a usage error about an LSN past the archive", err)
	}
	if n := mutations(w.cs) - before; n != 0 {
		t.Errorf("%d mutations, want none", n)
	}
	// A time before it is fine.
	if _, err := prepareWith(w, d, Config{Storages: local, Target: pgbackrest.Target{Type: pgbackrest.TargetTime, Value: "2026-11-25 00:54:00+00"}}); err != nil {
		t.Errorf("a time before the newest WAL: %v", err)
	}
}

func waitNoPrimaryPod(t *testing.T, w *world) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if _, err := cluster.FindPrimaryPod(context.Background(), w.cs, ns, "db"); errors.Is(err, cluster.ErrNoPod) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the primary pod is still there")
}

// failedRecoveryPod is the new primary's pod after PostgreSQL gave up on the target: its postgres
// container restarted, the last termination carrying the log's last lines.
func failedRecoveryPod(spec *cluster.Spec) *corev1.Pod {
	p := readyPod(spec, "db-primary-new", cluster.RolePrimary)
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: manifest.ContainerPostgres, RestartCount: 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: "LOG:  redo done at 0/5000100\n" +
				"FATAL:  recovery ended before configured recovery target was reached\n" +
				"LOG:  startup process (PID 25) exited with exit code 1\n" +
				"LOG:  database system is shut down\n"}}}}
	return p
}

// The rule ends the wait for the new primary at PostgreSQL's FATAL, not at the timeout.
func TestRecoveryTargetRule(t *testing.T) {
	spec := testSpec(t)
	o := kube.Observation{Namespace: ns, Pods: []*corev1.Pod{failedRecoveryPod(spec)}}
	d := kube.Diagnose(o, time.Now(), recoveryTargetRule)
	if !d.Fatal || d.Cause != causeRecoveryTarget || !strings.Contains(d.Text, "recovery ended before configured recovery target was reached") {
		t.Errorf("diagnosis = %+v, want fatal with the FATAL line", d)
	}
	// Without the rule it is a crash loop like any other: not fatal.
	if d := kube.Diagnose(o, time.Now()); d.Fatal {
		t.Errorf("common diagnosis = %+v, want not fatal", d)
	}
	// A crash for another reason is not a recovery-target failure.
	p := failedRecoveryPod(spec)
	p.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message = "FATAL:  could not open file \"postgresql.conf\""
	if _, ok := recoveryTargetRule(kube.Observation{Pods: []*corev1.Pod{p}}, time.Now()); ok {
		t.Error("another FATAL taken for an unreachable target")
	}
}

// The new primary became available (PostgreSQL accepts read-only connections once consistent),
// then recovery gave up: the wait for the end of recovery stops at once, and the error names the
// target and the --abandon command, once, without "re-run the same command".
func TestWaitRecoveryUnreachableTarget(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local},
		Target: pgbackrest.Target{Type: pgbackrest.TargetName, Value: "nosuch"}})
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "create primary Deployment")
	w.exec.mu.Lock()
	w.exec.Errs["pg_is_in_recovery()"] = fmt.Errorf("container postgres is not running")
	w.exec.mu.Unlock()
	if _, err := w.cs.CoreV1().Pods(ns).Create(context.Background(), failedRecoveryPod(w.spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The world's clock stands still, so only the context bounds a wait that misses the failure.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = r.Run(ctx, &recorder{})
	var target *RecoveryTargetError
	if !errors.As(err, &target) {
		t.Fatalf("err = %v, want a RecoveryTargetError", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %s: the failure was not detected before the timeout", time.Since(start))
	}
	msg := err.Error()
	for _, want := range []string{"restore " + r.ID, "--target-name=nosuch", "db-primary-new", "recovery ended before configured recovery target was reached",
		"kubectl pgbackrest restore db -n prod --abandon", "PVC " + r.PVC + " of this restore is kept"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "re-run the same command") {
		t.Errorf("error says to re-run, which cannot help:\n%s", msg)
	}
}
