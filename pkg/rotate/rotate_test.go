package rotate

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// fakeExec answers every command with success and records them.
type fakeExec struct {
	mu   sync.Mutex
	cmds []string
	err  error
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(_ context.Context, _, pod, container string, cmd []string, _ io.Reader, _, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, pod+"/"+container+": "+strings.Join(cmd, " "))
	return f.err
}

// clusterObjects is a created cluster as create makes it, its Deployments available and pods ready.
func clusterObjects(t *testing.T) []runtime.Object {
	t.Helper()
	spec := create.NewSpec(create.Config{Name: "pg1", Namespace: "ns", Storages: []pgbackrest.Storage{pgbackrest.Local}}, cluster.S3{})
	tls, err := create.GenerateCerts(spec, t0.Add(-300*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := create.Objects(spec, tls, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			o.Annotations = map[string]string{create.AnnotationCreatedAt: t0.Format(time.RFC3339)}
		case *appsv1.Deployment:
			o.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
		}
	}
	for _, role := range []cluster.Role{cluster.RolePrimary, cluster.RoleRepo} {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-" + string(role), Namespace: "ns", Labels: cluster.Labels("pg1", role)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return objs
}

func tlsSecret(t *testing.T, cs *fake.Clientset) *corev1.Secret {
	t.Helper()
	s, err := cs.CoreV1().Secrets("ns").Get(context.Background(), "pg1-pgbackrest-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rotate(cs *fake.Clientset, ex *fakeExec) (*Result, error) {
	return Run(context.Background(), Deps{Client: cs, Exec: ex, Now: func() time.Time { return t0 }, LeaseRecheck: time.Millisecond},
		Config{Namespace: "ns", Cluster: "pg1", Holder: "test", Timeout: time.Minute})
}

func hashOf(t *testing.T, cs *fake.Clientset, name string) string {
	t.Helper()
	d, err := cs.AppsV1().Deployments("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Annotations[AnnotationTLSHash]
}

// assertRotated: a new CA that signed the leaves, no old CA, no next.* keys, phase done, both
// Deployments rolled onto the final Secret, the labels kept, and a check ran.
func assertRotated(t *testing.T, cs *fake.Clientset, ex *fakeExec, oldCA []byte) *corev1.Secret {
	t.Helper()
	sec := tlsSecret(t, cs)
	if string(sec.Data[certs.KeyCACert]) == string(oldCA) {
		t.Fatal("ca.crt did not change")
	}
	cas, err := certs.ParsePEM(sec.Data[certs.KeyCACert])
	if err != nil || len(cas) != 1 {
		t.Fatalf("ca.crt holds %d CAs (%v), want 1", len(cas), err)
	}
	leaf, _ := certs.ParsePEM(sec.Data[certs.KeyServerCert])
	if leaf[0].CheckSignatureFrom(cas[0]) != nil {
		t.Error("server.crt is not signed by the CA in ca.crt")
	}
	e, err := certs.Earliest(sec.Data)
	if err != nil || !e.NotAfter.Equal(t0.Add(certs.DefaultValidity)) {
		t.Errorf("new certificates expire %v (%v), want %v", e.NotAfter, err, t0.Add(certs.DefaultValidity))
	}
	for k := range sec.Data {
		if strings.HasPrefix(k, "next.") {
			t.Errorf("key %s left in the Secret", k)
		}
	}
	if PhaseOf(sec) != certs.PhaseDone || sec.Annotations[AnnotationRotatedAt] == "" {
		t.Errorf("annotations %v, want phase done and rotated-at", sec.Annotations)
	}
	if sec.Labels[cluster.LabelManagedBy] != cluster.ManagedBy || sec.Labels[cluster.LabelInstance] != "pg1" {
		t.Errorf("labels %v", sec.Labels)
	}
	for _, d := range []string{"pg1", "pg1-backrest-shared-repo"} {
		if got, want := hashOf(t, cs, d), certs.Fingerprint(sec.Data); got != want {
			t.Errorf("Deployment %s tls-hash %q, want %q (rolled onto the final Secret)", d, got, want)
		}
	}
	if !strings.Contains(strings.Join(ex.cmds, "\n"), "check") {
		t.Errorf("no pgbackrest check ran: %v", ex.cmds)
	}
	return sec
}

func TestRotate(t *testing.T) {
	cs := fake.NewClientset(clusterObjects(t)...)
	ex := &fakeExec{}
	old := tlsSecret(t, cs).Data[certs.KeyCACert]
	// The order of the writes and rolls is the design (certs.TestRotationNeverMismatches and
	// docs/architecture.md): the repository host trusts the new CA before any client presents a
	// certificate it signed, and the primary holds both CAs before the repository host presents one.
	var order []string
	cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch a := a.(type) {
		case k8stesting.PatchAction:
			if a.GetResource().Resource == "deployments" {
				order = append(order, "roll "+a.GetName())
			}
		case k8stesting.UpdateAction:
			if s, ok := a.GetObject().(*corev1.Secret); ok {
				order = append(order, "secret "+s.Annotations[AnnotationPhase])
			}
		}
		return false, nil, nil
	})
	res, err := rotate(cs, ex)
	if err != nil {
		t.Fatal(err)
	}
	want := "secret trust, roll pg1-backrest-shared-repo, secret issue, roll pg1, roll pg1-backrest-shared-repo, " +
		"secret drop, roll pg1-backrest-shared-repo, roll pg1, secret done"
	if got := strings.Join(order, ", "); got != want {
		t.Errorf("writes in order:\n  %s\nwant\n  %s", got, want)
	}
	assertRotated(t, cs, ex, old)
	if res.Resumed || res.OldCA == res.NewCA || res.NewCA == "" {
		t.Errorf("result %+v", res)
	}
	// A second run is a second rotation (the command is asked for new certificates), not a no-op.
	first := tlsSecret(t, cs).Data[certs.KeyCACert]
	res, err = rotate(cs, ex)
	if err != nil {
		t.Fatal(err)
	}
	assertRotated(t, cs, ex, first)
	if res.Resumed {
		t.Error("a run after a finished rotation says it resumed one")
	}
	// The Lease is released.
	if l, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), "pg1-pgbackrest", metav1.GetOptions{}); err == nil &&
		l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		t.Errorf("Lease still held by %q", *l.Spec.HolderIdentity)
	}
}

// TestRotateResumes fails the run at each roll in turn, then re-runs it: the re-run converges on
// the CA the first run issued, never a third one.
func TestRotateResumes(t *testing.T) {
	for failAt := 1; failAt <= 5; failAt++ {
		t.Run("fail at roll "+string(rune('0'+failAt)), func(t *testing.T) {
			cs := fake.NewClientset(clusterObjects(t)...)
			ex := &fakeExec{}
			old := tlsSecret(t, cs).Data[certs.KeyCACert]
			patches := 0
			cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				patches++
				if patches == failAt {
					return true, nil, errors.New("connection reset")
				}
				return false, nil, nil
			})
			if _, err := rotate(cs, ex); err == nil || !strings.Contains(err.Error(), "re-run") {
				t.Fatalf("want a failed step, got %v", err)
			}
			mid := tlsSecret(t, cs)
			if !PhaseOf(mid).InProgress() {
				t.Fatalf("phase %q after a failure, want one under way", PhaseOf(mid))
			}
			cas, _ := certs.ParsePEM(mid.Data[certs.KeyCACert])
			issued := cas[len(cas)-1].Raw // the new CA: last in the bundle, or alone after drop

			res, err := rotate(cs, ex)
			if err != nil {
				t.Fatal(err)
			}
			sec := assertRotated(t, cs, ex, old)
			final, _ := certs.ParsePEM(sec.Data[certs.KeyCACert])
			if string(final[0].Raw) != string(issued) {
				t.Error("the re-run issued another CA instead of finishing with the one in the Secret")
			}
			if !res.Resumed {
				t.Error("Resumed is false")
			}
		})
	}
}

func TestRotateFailedCheckIsNotDone(t *testing.T) {
	cs := fake.NewClientset(clusterObjects(t)...)
	ex := &fakeExec{err: &kube.ExitError{Code: 82}}
	if _, err := rotate(cs, ex); err == nil {
		t.Fatal("want an error when the check fails")
	}
	if p := PhaseOf(tlsSecret(t, cs)); p != certs.PhaseDrop {
		t.Errorf("phase %q, want drop (not marked done before the check passed)", p)
	}
}

func TestRotateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		modify func(cs *fake.Clientset)
		want   string
	}{
		{"secret not ours", func(cs *fake.Clientset) {
			s := tlsSecret(t, cs)
			s.Labels = map[string]string{"app": "mine"}
			_, _ = cs.CoreV1().Secrets("ns").Update(context.Background(), s, metav1.UpdateOptions{})
		}, "not managed by kubectl-pgbackrest"},
		{"mid-restore", func(cs *fake.Clientset) {
			cm, _ := cs.CoreV1().ConfigMaps("ns").Get(context.Background(), "pg1-pgbackrest", metav1.GetOptions{})
			cm.Annotations[cluster.AnnotationRestorePrefix+"id"] = "20261201-100000"
			cm.Annotations[cluster.AnnotationRestorePrefix+"phase"] = "job"
			_, _ = cs.CoreV1().ConfigMaps("ns").Update(context.Background(), cm, metav1.UpdateOptions{})
		}, "restore"},
		{"create not finished", func(cs *fake.Clientset) {
			cm, _ := cs.CoreV1().ConfigMaps("ns").Get(context.Background(), "pg1-pgbackrest", metav1.GetOptions{})
			cm.Annotations = nil
			_, _ = cs.CoreV1().ConfigMaps("ns").Update(context.Background(), cm, metav1.UpdateOptions{})
		}, "never completely created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(clusterObjects(t)...)
			tt.modify(cs)
			before := tlsSecret(t, cs)
			_, err := rotate(cs, &fakeExec{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if exitcode.For(err) != exitcode.UsageError {
				t.Errorf("exit code %d, want %d", exitcode.For(err), exitcode.UsageError)
			}
			if after := tlsSecret(t, cs); after.ResourceVersion != before.ResourceVersion {
				t.Error("the Secret changed")
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	cs := fake.NewClientset(clusterObjects(t)...)
	before := tlsSecret(t, cs)
	p, err := DryRun(context.Background(), Deps{Client: cs, Now: func() time.Time { return t0 }}, Config{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 10 || p.Secret == nil || PhaseOf(p.Secret) != certs.PhaseTrust {
		t.Errorf("plan %+v", p)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("dry run did %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if tlsSecret(t, cs).ResourceVersion != before.ResourceVersion {
		t.Error("the Secret changed")
	}
}
