package create

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// A create on a cluster with a restore recorded would bring the old primary back on the old PVC,
// taking writes the restore then drops: it is refused before anything changes.
func TestRefusedMidRestore(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local)); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Annotations[cluster.AnnotationRestoreID] = "20261125010000"
	cm.Annotations[cluster.AnnotationRestoreTarget] = "storage=local type=immediate"
	cm.Annotations[cluster.AnnotationRestorePhase] = "stop-primary"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The restore deleted the primary: create would bring it back.
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "pg1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	_, err = Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local))
	if !errors.Is(err, cluster.ErrRestoreInProgress) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want ErrRestoreInProgress, exit 2", err, exitcode.For(err))
	}
	for _, want := range []string{"restore 20261125010000", `"stop-primary"`, "kubectl pgbackrest restore pg1 -n " + ns + " --storage=local --target-immediate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("wrote %q", w)
	}
}
