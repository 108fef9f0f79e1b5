package restore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// A restore must not start while pgBackRest holds the backup lock in the repository host: the
// Lease is free while a detached backup (or its expire) goes on.
func TestPrepareRefusedWhileBackupRunning(t *testing.T) {
	w := newWorld(t)
	var stanzas []map[string]any
	if err := json.Unmarshal(w.exec.info, &stanzas); err != nil {
		t.Fatal(err)
	}
	stanzas[0]["status"].(map[string]any)["lock"] = map[string]any{"backup": map[string]any{"held": true, "size-cplt": 1, "size": 4}}
	info, err := json.Marshal(stanzas)
	if err != nil {
		t.Fatal(err)
	}
	w.exec.info = info
	_, err = w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
	if !errors.Is(err, ErrBackupRunning) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want a usage error wrapping ErrBackupRunning", err)
	}
	if !strings.Contains(err.Error(), "kubectl pgbackrest info db") {
		t.Errorf("err = %v: should say how to see the backup", err)
	}
	if n := mutations(w.cs); n != 0 {
		t.Errorf("%d mutations, want none", n)
	}
}

// A resume after the new primary started (the spec then names the new PVC) still names the PVC
// the cluster ran on before, in the plan and the result.
func TestResumeAfterNewPrimaryNamesOldPVC(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.OldPVC != "db" {
		t.Fatalf("OldPVC = %q, want db", r.OldPVC)
	}
	runThrough(t, r, "create primary Deployment")
	_, cm, err := cluster.Get(context.Background(), w.cs, ns, "db")
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Annotations[AnnotationOldPVC]; got != "db" {
		t.Errorf("annotation %s = %q, want db", AnnotationOldPVC, got)
	}

	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Resumed || r2.OldPVC != "db" {
		t.Fatalf("resumed %v, OldPVC = %q, want db (the new PVC is %s)", r2.Resumed, r2.OldPVC, r2.PVC)
	}
	res, err := r2.Run(context.Background(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OldPVC != "db" || res.PVC != r.PVC {
		t.Errorf("result = %+v, want old PVC db, PVC %s", res, r.PVC)
	}
	w.checkRestored(r.PVC)
}

// cleanup deletes a retired PVC; beside a half-done restore it is refused like every command that
// changes the cluster, naming the restore.
func TestCleanupRefusedMidRestore(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := (workflow.Runner{}).Run(context.Background(), r.Steps()[:2], &recorder{}); err != nil {
		t.Fatal(err)
	}
	_ = r.releaseLease(context.Background())
	w.cs.ClearActions()
	err = Cleanup(context.Background(), w.cs, ns, "db", "db-old")
	if !errors.Is(err, cluster.ErrRestoreInProgress) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want ErrRestoreInProgress, exit 2", err)
	}
	if !strings.Contains(err.Error(), "cleanup of cluster db refused: restore "+r.ID) {
		t.Errorf("message: %v", err)
	}
	if n := mutations(w.cs); n != 0 {
		t.Errorf("%d mutations", n)
	}
}

// A restore with another target while one is half done is refused with the command that
// finishes the half-done one, in the plugin's flags.
func TestOtherTargetRefusedNamesTheCommand(t *testing.T) {
	w := newWorld(t)
	r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, Target: pgbackrest.Target{Type: pgbackrest.TargetImmediate}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (workflow.Runner{}).Run(context.Background(), r.Steps()[:2], &recorder{}); err != nil {
		t.Fatal(err)
	}
	_ = r.releaseLease(context.Background())
	_, err = w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.S3}})
	if !errors.Is(err, ErrInProgress) {
		t.Fatalf("err = %v, want ErrInProgress", err)
	}
	if want := "`kubectl pgbackrest restore db -n prod --storage=local --target-immediate`"; !strings.Contains(err.Error(), want) {
		t.Errorf("message lacks %s:\n%v", want, err)
	}
}

// A restore recorded before the old PVC was recorded, resumed after the new primary started:
// the spec then names the new PVC, so the old one is unknown, never reported as the new one.
func TestResumeWithoutRecordedOldPVC(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Storages: []pgbackrest.Storage{pgbackrest.Local}}
	r, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runThrough(t, r, "create primary Deployment")
	cm, err := w.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "db-pgbackrest", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(cm.Annotations, AnnotationOldPVC)
	if _, err := w.cs.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r2, err := w.prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r2.OldPVC == r2.PVC {
		t.Fatalf("OldPVC = PVC = %s", r2.PVC)
	}
	res, err := r2.Run(context.Background(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OldPVC == res.PVC {
		t.Errorf("result names %s as both the new and the old PVC", res.PVC)
	}
	w.checkRestored(r.PVC)
}
