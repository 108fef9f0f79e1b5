package restore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube/kubetest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var leases = coordinationv1.SchemeGroupVersion.WithResource("leases")

// keepRenewing makes the holder of Lease db-pgbackrest alive (when it is not this run), renewing it while
// this run watches.
func keepRenewing(t *testing.T, cs *fake.Clientset) {
	kubetest.KeepRenewing(t, cs, ns, "db-pgbackrest", "test@host pid 1")
}

// TestRestoreStopsWhenLeaseLost: once the run's Lease is deleted by hand or taken by another run
// (this one slept, or it was broken), the restore stops before its next step, so two runs never
// act at once, and says that a re-run resumes.
func TestRestoreStopsWhenLeaseLost(t *testing.T) {
	other := "bob@elsewhere run=9 pid 9"
	tests := []struct {
		name string
		// now is the Lease as the next read finds it (nil: gone).
		now  func(l *coordinationv1.Lease) *coordinationv1.Lease
		want string
	}{
		{"deleted by hand", func(*coordinationv1.Lease) *coordinationv1.Lease { return nil },
			"lease prod/db-pgbackrest was deleted while this restore held it"},
		{"taken by another run", func(l *coordinationv1.Lease) *coordinationv1.Lease { l.Spec.HolderIdentity = &other; return l },
			`lease prod/db-pgbackrest was taken over by "bob@elsewhere run=9 pid 9" while this restore held it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}})
			if err != nil {
				t.Fatal(err)
			}
			// Every read after the Lease was taken finds it broken.
			w.cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
				obj, err := w.cs.Tracker().Get(leases, ns, "db-pgbackrest")
				if err != nil {
					return false, nil, nil
				}
				if l := tt.now(obj.(*coordinationv1.Lease).DeepCopy()); l != nil {
					return true, l, nil
				}
				return true, nil, apierrors.NewNotFound(leases.GroupResource(), "db-pgbackrest")
			})
			var stderr bytes.Buffer
			r.d.ErrOut = &stderr
			rec := &recorder{}
			_, err = r.Run(context.Background(), rec)
			want := `restore ` + r.ID + ` stopped before step "record restore ` + r.ID + ` (`
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %v\nwant it to start %q", err, want)
			}
			var lost *kube.LostError
			if !errors.As(err, &lost) {
				t.Errorf("err %v is not a *kube.LostError", err)
			}
			for _, s := range []string{tt.want, "so that two runs never act on the cluster at once", "re-run the same command to resume"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err lacks %q: %v", s, err)
				}
			}
			cm, err := w.cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "db-pgbackrest", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if id := cm.Annotations[AnnotationID]; id != "" {
				t.Errorf("the restore went on past its fence: recorded %q", id)
			}
		})
	}
}
