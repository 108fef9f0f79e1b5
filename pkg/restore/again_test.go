package restore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// --backup-after runs the backup package's detached backup (pgBackRest never writes to the exec
// stream, so a cut stream cannot hang it), fast-started, and with auto-expire off so the set the
// restore came from is not expired by the backup that follows it.
func TestBackupAfterIsDetachedAndKeepsTheRestoredSet(t *testing.T) {
	w := newWorld(t)
	w.exec.backupLabel = "20261125-002741F"
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, BackupAfter: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	var backups []string
	for _, c := range w.exec.Calls {
		if strings.HasSuffix(c, " backup") {
			backups = append(backups, c)
		}
	}
	if len(backups) != 1 {
		t.Fatalf("backup commands = %q, want one", backups)
	}
	b := backups[0]
	for _, want := range []string{"sh -c ", "--type=full", "--start-fast", NoExpireAuto, "--repo=1"} {
		if !strings.Contains(b, want) {
			t.Errorf("backup command %q lacks %q", b, want)
		}
	}
}

// jobCreates counts the restore Jobs created (server-side apply counts as a create of a new one).
func jobCreates(w *world) int {
	n := 0
	for _, a := range w.cs.Actions() {
		if a.GetResource().Resource == "jobs" && (a.GetVerb() == "create" || a.GetVerb() == "patch") && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

// Re-running a finished restore does nothing however long after it finished; --again does it again.
func TestRepeatingAFinishedRestoreIsExplicit(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(30 * 24 * time.Hour)
	again, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.AlreadyDone == nil || again.AlreadyDone.ID != r.ID {
		t.Fatalf("a month later, the same command: AlreadyDone = %+v, want restore %s reported done", again.AlreadyDone, r.ID)
	}
	cfg.Again = true
	fresh, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AlreadyDone != nil || fresh.ID == r.ID || fresh.PVC == r.PVC {
		t.Fatalf("--again: AlreadyDone %+v, id %s (first %s): want a new restore", fresh.AlreadyDone, fresh.ID, r.ID)
	}
	if _, err := fresh.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored(fresh.PVC)
}

// The same target with other node labels or options after it finished is refused with the flags
// that differ, before anything changes: the old code said "nothing to do" and ignored them.
func TestRepeatWithOtherFlagsSaysWhichDiffer(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	before := mutations(w.cs)
	cfg.NodeSelector = map[string]string{"zone": "b"}
	cfg.Options = []string{"--process-max=4"}
	_, err = w.prepare(cfg)
	var differ *FlagsDifferError
	if !errors.As(err, &differ) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want a usage error saying the flags differ", err)
	}
	for _, want := range []string{"--node-label (was disk=ssd, now zone=b)", `--options (was none, now "--process-max=4")`, "--again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, lacks %q", err, want)
		}
	}
	// The node labels it ran with, given again, are the same command.
	cfg = Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, NodeSelector: map[string]string{"disk": "ssd"}}
	if same, err := w.prepare(cfg); err != nil || same.AlreadyDone == nil {
		t.Fatalf("the same node labels: err %v, AlreadyDone %v; want nothing to do", err, same)
	}
	if n := mutations(w.cs); n != before {
		t.Errorf("%d mutations by refused or empty runs", n-before)
	}
}

// A resume runs with the node labels and options the restore started with: the old code placed
// the Job by the first run's --node-label and the new primary by the re-run's (none: the old one).
func TestResumeKeepsTheRecordedFlags(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, NodeSelector: map[string]string{"zone": "a"}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "restore from")
	w.now = w.now.Add(time.Minute)

	other := cfg
	other.NodeSelector = map[string]string{"zone": "b"}
	if _, err := w.prepare(other); !errors.As(err, new(*FlagsDifferError)) || !strings.Contains(err.Error(), "--abandon") {
		t.Fatalf("resume with other node labels: err = %v, want them refused naming --abandon", err)
	}

	plain := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r2, err := w.prepare(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Resumed {
		t.Fatal("not resumed")
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	d, err := w.cs.AppsV1().Deployments(ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.NodeSelector; got["zone"] != "a" || len(got) != 1 {
		t.Errorf("new primary's node selector = %v, want the recorded zone=a", got)
	}
}

// A Job deleted after it succeeded (a TTL policy), before the new primary started, is not run
// again: the completed phase recorded on the ConfigMap proves it.
func TestJobDeletedAfterItSucceededIsNotRunAgain(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "restore from")
	w.deleteJob(r.Job)
	created := jobCreates(w)
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	if n := jobCreates(w) - created; n != 0 {
		t.Errorf("the re-run created %d restore Job(s) after the Job step had completed", n)
	}
	w.checkRestored(r.PVC)
}

// After the Job step the repository is not checked again: the set restored from may be expired
// by then (the old code refused the resume: "--set ...: no such backup").
func TestResumeAfterJobIgnoresAnExpiredSet(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Set: "20261125-002741F"}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "restore from")
	w.exec.info = []byte(strings.ReplaceAll(string(w.exec.info), "20261125-002741F", "20261126-000000F"))
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatalf("resume after the Job step refused: %v", err)
	}
	if _, err := r2.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	w.checkRestored(r.PVC)

	// Before the Job step it is still checked.
	w2 := newWorld(t)
	w2.exec.info = w.exec.info
	if _, err := w2.prepare(cfg); err == nil || !strings.Contains(err.Error(), "--set 20261125-002741F") {
		t.Fatalf("a new restore of an expired set: err = %v, want it refused", err)
	}
}

// A resume checks what it reads back: an id that is not one, or a PVC other than the one its id
// names (the live PVC, say), stops it before any step.
func TestResumeRefusesEditedAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"pvc is the live one", AnnotationPVC, "db", "restores onto PVC db-"},
		{"id is not an id", AnnotationID, "latest", "not a restore id"},
		{"old pvc is the new one", AnnotationOldPVC, "", "names the restore's own new PVC"},
		{"unknown completed phase", AnnotationCompleted, "everything", "not one of the phases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
			r, err := w.prepare(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runThrough(t, r, "allocate data PVC")
			cm, err := w.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), r.Spec.Names().ConfigMap(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			v := tc.value
			if v == "" {
				v = r.PVC
			}
			cm.Annotations[tc.key] = v
			if _, err := w.cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			before := mutations(w.cs)
			_, err = w.prepare(cfg)
			if tc.key == AnnotationID {
				// Another id no longer matches this target's record: it is "another restore".
				if err == nil {
					t.Fatal("resume of a record with a bad id accepted")
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "edited") {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if n := mutations(w.cs) - before; n != 0 {
				t.Errorf("%d mutations after the refusal", n)
			}
		})
	}
}

// promote is refused while a restore is half done, before it asks PostgreSQL anything.
func TestPromoteRefusedMidRestore(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "allocate data PVC")
	calls := len(w.exec.Calls)
	_, err = Promote(context.Background(), w.deps(), ns, "db", time.Second)
	var mid *cluster.RestoreInProgressError
	if !errors.As(err, &mid) || exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), r.ID) {
		t.Fatalf("err = %v, want a usage error naming restore %s", err, r.ID)
	}
	if n := len(w.exec.Calls) - calls; n != 0 {
		t.Errorf("%d commands run in pods by a refused promote", n)
	}
}

// --abandon starts the new restore from its first phase: the abandoned one's completed phases
// prove nothing about the new PVC.
func TestAbandonStartsFromTheFirstPhase(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "restore from")
	w.now = w.now.Add(time.Minute)
	created := jobCreates(w)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Abandon: true, Target: pgbackrest.Target{Type: pgbackrest.TargetImmediate}}
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Killed early, then resumed: the resume reads the phases back from the ConfigMap.
	runThrough(t, r2, "allocate data PVC")
	cfg.Abandon = false
	r3, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r3.Resumed || r3.ID != r2.ID {
		t.Fatalf("resume: resumed %v id %s, want restore %s", r3.Resumed, r3.ID, r2.ID)
	}
	if _, err := r3.Run(context.Background(), &recorder{}); err != nil {
		t.Fatal(err)
	}
	if jobCreates(w) == created {
		t.Error("the new restore ran no restore Job of its own")
	}
	if _, err := w.cs.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), r2.PVC, metav1.GetOptions{}); err != nil {
		t.Errorf("the new restore's PVC %s: %v", r2.PVC, err)
	}
	w.checkRestored(r2.PVC)
}
