package create

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// openshiftNamespace is a namespace as OpenShift annotates a project.
func openshiftNamespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: map[string]string{
		cluster.AnnotationUIDRange:           "1000680000/10000",
		cluster.AnnotationSupplementalGroups: "1000690000/10000",
	}}}
}

// podUsers are the pod security contexts of the cluster's Deployments, by name.
func podUsers(t *testing.T, cs interface {
	Tracker() k8stesting.ObjectTracker
}) map[string]*corev1.PodSecurityContext {
	t.Helper()
	out := map[string]*corev1.PodSecurityContext{}
	for _, name := range []string{"pg1", "pg1-backrest-shared-repo"} {
		obj, err := cs.Tracker().Get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, ns, name)
		if err != nil {
			t.Fatalf("Deployment %s: %v", name, err)
		}
		out[name] = obj.(*appsv1.Deployment).Spec.Template.Spec.SecurityContext
	}
	return out
}

func TestRunAsUser(t *testing.T) {
	tests := []struct {
		name      string
		namespace *corev1.Namespace
		runAsUser int64
		// wantUID, wantFSGroup, wantGroup: the pods' security context (wantGroup 0: no runAsGroup).
		wantUID, wantFSGroup, wantGroup int64
	}{
		{"plain namespace, auto", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, 0, 999, 999, 999},
		{"no namespace object, auto", nil, 0, 999, 999, 999},
		{"plain namespace, explicit", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, 5000, 5000, 5000, 0},
		{"OpenShift namespace, auto", openshiftNamespace(), 0, 1000680000, 1000690000, 0},
		{"OpenShift namespace, explicit inside", openshiftNamespace(), 1000685000, 1000685000, 1000690000, 0},
		{"OpenShift namespace without supplemental groups", func() *corev1.Namespace {
			n := openshiftNamespace()
			delete(n.Annotations, cluster.AnnotationSupplementalGroups)
			return n
		}(), 0, 1000680000, 1000680000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var objs []runtime.Object
			if tt.namespace != nil {
				objs = append(objs, tt.namespace)
			}
			cs := newClient(t, objs...)
			cfg := config(pgbackrest.Local)
			cfg.RunAsUser = tt.runAsUser
			var warnings []string
			d := deps(cs, &fakeExec{}, &reporter{})
			d.Warn = func(msg string) { warnings = append(warnings, msg) }
			res, err := Run(ctx, d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			if u := res.Spec.PodUser(); u.RunAsUser != tt.wantUID || u.FSGroup != tt.wantFSGroup {
				t.Errorf("spec's user %+v, want uid %d fsGroup %d", u, tt.wantUID, tt.wantFSGroup)
			}
			stored, _, err := cluster.Get(ctx, cs, ns, "pg1")
			if err != nil {
				t.Fatal(err)
			}
			if stored.RunAsUser != tt.wantUID || stored.FSGroup != tt.wantFSGroup {
				t.Errorf("stored spec: runAsUser %d fsGroup %d, want %d %d", stored.RunAsUser, stored.FSGroup, tt.wantUID, tt.wantFSGroup)
			}
			for name, sc := range podUsers(t, cs) {
				if *sc.RunAsUser != tt.wantUID || *sc.FSGroup != tt.wantFSGroup || !*sc.RunAsNonRoot {
					t.Errorf("%s: runAsUser %d fsGroup %d, want %d %d", name, *sc.RunAsUser, *sc.FSGroup, tt.wantUID, tt.wantFSGroup)
				}
				if got := sc.RunAsGroup; (got == nil) != (tt.wantGroup == 0) || (got != nil && *got != tt.wantGroup) {
					t.Errorf("%s: runAsGroup %v, want %d (0: none, the runtime's gid 0)", name, got, tt.wantGroup)
				}
			}
		})
	}
}

// A uid outside the namespace's range is refused before anything is written, naming the flag
// and the range.
func TestRunAsUserOutsideRange(t *testing.T) {
	for _, uid := range []int64{999, 1000679999, 1000690000} {
		cs := newClient(t, openshiftNamespace())
		cfg := config(pgbackrest.Local)
		cfg.RunAsUser = uid
		_, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), cfg)
		if !errors.Is(err, exitcode.ErrUsage) {
			t.Fatalf("uid %d: err = %v, want a usage error", uid, err)
		}
		for _, want := range []string{"--run-as-user", "1000680000-1000689999", cluster.AnnotationUIDRange} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("uid %d: error lacks %q: %v", uid, want, err)
			}
		}
		if w := writes(cs); len(w) > 0 {
			t.Errorf("uid %d: wrote %q", uid, w)
		}
	}
}

// Without get on namespaces (the namespaced Role), auto takes 999 and a warning says why and
// names the flag; an explicit uid is kept, with a warning that it was not checked.
func TestRunAsUserNamespaceForbidden(t *testing.T) {
	for _, uid := range []int64{0, 1000680000} {
		cs := newClient(t, openshiftNamespace())
		cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns, errors.New("no"))
		})
		cfg := config(pgbackrest.Local)
		cfg.RunAsUser = uid
		var warnings []string
		d := deps(cs, &fakeExec{}, &reporter{})
		d.Warn = func(msg string) { warnings = append(warnings, msg) }
		res, err := Run(context.Background(), d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := uid
		if uid == 0 {
			want = 999
		}
		if u := res.Spec.PodUser(); u.RunAsUser != want || u.FSGroup != want {
			t.Errorf("uid %d: pods run as %+v, want %d", uid, u, want)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "--run-as-user") || !strings.Contains(warnings[0], "get namespaces") {
			t.Errorf("uid %d: warnings %q", uid, warnings)
		}
	}
}

// Another error reading the namespace stops create before it writes: auto cannot tell.
func TestRunAsUserNamespaceUnreadable(t *testing.T) {
	cs := newClient(t)
	cs.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local))
	if err == nil || !strings.Contains(err.Error(), "reading namespace ns1") || !strings.Contains(err.Error(), "--run-as-user auto") {
		t.Fatalf("err = %v", err)
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("wrote %q", w)
	}
}

// A cluster keeps the user it was created with: a re-run in a namespace whose annotations
// changed reads nothing new and changes nothing.
func TestRunAsUserFixedAtCreate(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, openshiftNamespace())
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local)); err != nil {
		t.Fatal(err)
	}
	if err := cs.Tracker().Update(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, ""); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Spec.PodUser().RunAsUser != 1000680000 {
		t.Errorf("re-run: changed %v, user %+v", res.Changed, res.Spec.PodUser())
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("re-run wrote %q", w)
	}
}

// A pod refused for its uid or fsGroup: the hint says the uid is fixed and how to choose another.
func TestStuckHintForRefusedUser(t *testing.T) {
	w := &run{spec: NewSpec(config(pgbackrest.Local), cluster.S3{})}
	refused := &kube.StuckError{Cause: kube.CauseAdmission,
		Reason: `pods "pg1-backrest-shared-repo-5d8f" is forbidden: unable to validate against any security context constraint: [provider "restricted-v2": .spec.securityContext.runAsUser: Invalid value: 999: must be in the ranges: [1000680000, 1000689999]]`}
	hint := w.stuckHint(refused)
	for _, want := range []string{"kubectl pgbackrest delete pg1 -n ns1 --delete-data", "--run-as-user", "now run as 999, fsGroup 999"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q: %s", want, hint)
		}
	}
	quota := &kube.StuckError{Cause: kube.CauseAdmission, Reason: `pods "x" is forbidden: exceeded quota: q`}
	if hint := w.stuckHint(quota); strings.Contains(hint, "--run-as-user") {
		t.Errorf("a quota refusal points at --run-as-user: %s", hint)
	}
}
