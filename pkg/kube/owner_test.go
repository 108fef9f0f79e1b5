package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var ours = OwnerLabels("kubectl-pgbackrest", "orders")

func TestCheckOwner(t *testing.T) {
	ref := Ref{Kind: "Service", Namespace: "ns", Name: "orders"}
	tests := []struct {
		name   string
		labels map[string]string
		want   map[string]string
		label  string // the label named in the refusal; "" when accepted
		msg    string
	}{
		{"ours", map[string]string{LabelManagedBy: "kubectl-pgbackrest", LabelInstance: "orders", "x": "y"}, ours, "", ""},
		{"no labels: another application's", nil, ours, LabelManagedBy,
			"service/orders exists and is not managed by kubectl-pgbackrest (label app.kubernetes.io/managed-by=kubectl-pgbackrest missing)"},
		{"another manager", map[string]string{LabelManagedBy: "helm", LabelInstance: "orders"}, ours, LabelManagedBy,
			`label app.kubernetes.io/managed-by is "helm", not "kubectl-pgbackrest"`},
		{"ours but another cluster's", map[string]string{LabelManagedBy: "kubectl-pgbackrest", LabelInstance: "orders-backrest-shared-repo"}, ours, LabelInstance,
			`service/orders exists and belongs to "orders-backrest-shared-repo", not "orders"`},
		{"instance missing", map[string]string{LabelManagedBy: "kubectl-pgbackrest"}, ours, LabelInstance, "app.kubernetes.io/instance=orders missing"},
		{"shared object: instance not compared", map[string]string{LabelManagedBy: "kubectl-pgbackrest", LabelInstance: "x"},
			OwnerLabels("kubectl-pgbackrest", ""), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckOwner(ref, &metav1.ObjectMeta{Labels: tt.labels}, tt.want)
			if tt.label == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var f *ForeignError
			if !errors.As(err, &f) || !errors.Is(err, ErrNotOurs) || f.Label != tt.label {
				t.Fatalf("err = %v, want a *ForeignError on %s", err, tt.label)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", err, tt.msg)
			}
		})
	}
}

// foreignService is another application's Service "orders", selecting its own pods.
func foreignService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "ns", UID: "their-uid", Labels: map[string]string{"app": "orders"}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "orders"}},
	}
}

// The finding: create applied its Service over another application's, replacing the selector.
func TestApplyRefusesForeignObject(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(foreignService())
	mine := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "ns", Labels: ours},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"pgbackrest.dev/role": "primary"}},
	}
	_, err := Apply(ctx, cs, mine, ApplyOptions{})
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "service/orders") {
		t.Fatalf("err = %v, want a refusal naming service/orders", err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("refused apply sent %s", a.GetVerb())
		}
	}
	got, _ := cs.CoreV1().Services("ns").Get(ctx, "orders", metav1.GetOptions{})
	if got.Spec.Selector["app"] != "orders" || len(got.Spec.Selector) != 1 {
		t.Errorf("foreign selector changed: %v", got.Spec.Selector)
	}
}

// Apply's write is conditional on the resourceVersion it judged; a Conflict (the object changed
// between the read and the write) has it read and judge again.
func TestApplyJudgesAgainOnConflict(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "ns", Labels: ours}}
	if _, err := Apply(ctx, cs, svc, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	patches := 0
	cs.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		patches++
		if patches > 1 {
			return false, nil, nil
		}
		// Someone else replaced it meanwhile.
		if err := cs.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "services"}, foreignService(), "ns"); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "orders", errors.New("resourceVersion changed"))
	})
	_, err := Apply(ctx, cs, svc, ApplyOptions{})
	if !errors.Is(err, ErrNotOurs) || patches != 1 {
		t.Fatalf("err = %v after %d patches, want the replacement refused after one", err, patches)
	}
}

func TestApplyBodyCarriesResourceVersion(t *testing.T) {
	data, _, _, _, err := applyBodyRV(foreignService(), "42")
	if err != nil || !strings.Contains(string(data), `"resourceVersion":"42"`) {
		t.Errorf("body = %s, %v", data, err)
	}
}

func deleteOptions(cs *fake.Clientset) []metav1.DeleteOptions {
	var out []metav1.DeleteOptions
	for _, a := range cs.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			out = append(out, d.GetDeleteOptions())
		}
	}
	return out
}

func TestDeleteOwned(t *testing.T) {
	ctx := context.Background()
	ref := Ref{Kind: "Service", Namespace: "ns", Name: "orders"}

	cs := fake.NewClientset(foreignService())
	err := DeleteOwned(ctx, cs, ref, ours, metav1.DeletePropagationBackground)
	if !errors.Is(err, ErrNotOurs) || len(deleteOptions(cs)) > 0 {
		t.Fatalf("foreign: err = %v, deletes %v", err, deleteOptions(cs))
	}

	mine := foreignService()
	mine.Labels, mine.UID = ours, "our-uid"
	cs = fake.NewClientset(mine)
	if err := DeleteOwned(ctx, cs, ref, ours, metav1.DeletePropagationBackground); err != nil {
		t.Fatal(err)
	}
	opts := deleteOptions(cs)
	if len(opts) != 1 || opts[0].Preconditions == nil || opts[0].Preconditions.UID == nil || *opts[0].Preconditions.UID != "our-uid" {
		t.Fatalf("delete options = %+v, want a UID precondition our-uid", opts)
	}
	if err := DeleteOwned(ctx, cs, ref, ours, metav1.DeletePropagationBackground); err != nil {
		t.Errorf("gone already: %v", err)
	}
}

// A delete whose UID precondition fails (the object was replaced) says so and what to do.
func TestDeleteReplaced(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("delete", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "orders", errors.New("Precondition failed: UID in precondition"))
	})
	err := Delete(context.Background(), cs, Ref{Kind: "Service", Namespace: "ns", Name: "orders"}, "u", metav1.DeletePropagationBackground)
	if err == nil || !strings.Contains(err.Error(), "replaced by another object of that name") {
		t.Errorf("err = %v", err)
	}
}

func TestCheckOwned(t *testing.T) {
	mine := foreignService()
	mine.Name, mine.Labels, mine.UID = "orders-backrest-shared-repo", ours, "u2"
	cs := fake.NewClientset(foreignService(), mine)
	refs := []Ref{
		{Kind: "Service", Namespace: "ns", Name: "orders"},
		{Kind: "Service", Namespace: "ns", Name: "orders-backrest-shared-repo"},
		{Kind: "Deployment", Namespace: "ns", Name: "orders"},
	}
	got, foreign, err := CheckOwned(context.Background(), cs, refs, ours)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "orders-backrest-shared-repo" || got[0].UID != "u2" {
		t.Errorf("ours = %+v", got)
	}
	if len(foreign) != 1 || !strings.Contains(foreign[0].Error(), "service/orders exists") {
		t.Errorf("foreign = %v", foreign)
	}
	if _, _, err := CheckOwned(context.Background(), cs, []Ref{{Kind: "Widget", Name: "x"}}, ours); err == nil {
		t.Error("unknown kind accepted")
	}
}

// A Lease of the name the plugin wants that another application made is never taken over, however
// free it looks.
func TestLeaseRefusesForeignLease(t *testing.T) {
	ctx := context.Background()
	theirs := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "ns", Labels: map[string]string{"app": "other"}}}
	cs := fake.NewClientset(theirs)
	cfg := cfgFor("me@here run=1 pid 1", &notes{})
	cfg.Labels = ours
	_, err := AcquireLease(ctx, cs, cfg)
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "lease/l") {
		t.Fatalf("err = %v, want a refusal naming lease/l", err)
	}
	got, _ := cs.CoordinationV1().Leases("ns").Get(ctx, "l", metav1.GetOptions{})
	if got.Spec.HolderIdentity != nil || got.Labels["app"] != "other" {
		t.Errorf("foreign lease changed: %+v", got)
	}
}
