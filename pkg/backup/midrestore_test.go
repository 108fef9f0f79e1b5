package backup

import (
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// A backup beside a half-done restore would back up the wrong data (or none) and its expire could
// remove the set being restored: it is refused before the Lease or any exec.
func TestRunRefusedMidRestore(t *testing.T) {
	objs := objects(t, newSpec(pgbackrest.Local), true)
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			cm.Annotations = map[string]string{cluster.AnnotationRestoreID: "20261125010000",
				cluster.AnnotationRestoreTarget: "storage=local type=default", cluster.AnnotationRestorePhase: "restore-job"}
		}
	}
	cs := fake.NewClientset(objs...)
	ex := &fakeExec{info: fixture(t)}
	_, err := Run(t.Context(), deps(cs, ex, io.Discard), Config{Namespace: "ns", Cluster: "pg1", Holder: "me"})
	if !errors.Is(err, cluster.ErrRestoreInProgress) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want ErrRestoreInProgress, exit 2", err, exitcode.For(err))
	}
	for _, want := range []string{"backup of cluster pg1 refused", "restore 20261125010000", "kubectl pgbackrest restore pg1 -n ns --storage=local"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	if len(ex.calls) != 0 {
		t.Errorf("exec'd %q before refusing", ex.verbs())
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("%s %s before refusing", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
