package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func clusterConfigMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	s := validSpec(pgbackrest.Local)
	s.Name = name
	s.Namespace = ns
	data, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	l := Labels(name, RoleConfig)
	l[LabelCluster] = "true"
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: Names{Cluster: name}.ConfigMap(), Namespace: ns, Labels: l},
		Data:       map[string]string{SpecKey: data},
	}
}

func TestGet(t *testing.T) {
	ctx := context.Background()
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine-pgbackrest", Namespace: "a"}}
	cs := fake.NewClientset(clusterConfigMap(t, "a", "pg2"), clusterConfigMap(t, "a", "pg1"),
		clusterConfigMap(t, "b", "other"), foreign)

	spec, cm, err := Get(ctx, cs, "a", "pg1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "pg1" || spec.Namespace != "a" || cm.Name != "pg1-pgbackrest" || !spec.Has(pgbackrest.Local) {
		t.Errorf("got %+v from %s", spec, cm.Name)
	}

	_, _, err = Get(ctx, cs, "a", "nope")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("want a NotFoundError, got %v", err)
	}
	if !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "clusters there: pg1, pg2") {
		t.Errorf("message: %v", err)
	}

	_, _, err = Get(ctx, cs, "empty", "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "kubectl pgbackrest create") {
		t.Errorf("empty namespace: %v", err)
	}

	failing := fake.NewClientset()
	failing.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	_, _, err = Get(ctx, failing, "a", "nope")
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "has no clusters") {
		t.Errorf("list failed: %v", err)
	}

	_, _, err = Get(ctx, cs, "a", "mine")
	if !errors.Is(err, ErrNotOurs) {
		t.Errorf("foreign ConfigMap: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	broken := clusterConfigMap(t, "b", "broken")
	broken.Data[SpecKey] = "{"
	invalid := clusterConfigMap(t, "b", "invalid")
	invalid.Data[SpecKey] = strings.Replace(invalid.Data[SpecKey], `"1Gi"`, `"lots"`, 1)
	cs := fake.NewClientset(clusterConfigMap(t, "b", "z"), clusterConfigMap(t, "a", "pg2"),
		clusterConfigMap(t, "a", "pg1"), broken, invalid,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "a"}})

	specs, err := List(ctx, cs, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(specs); got != "a/pg1 a/pg2" {
		t.Errorf("namespace a: %s", got)
	}
	specs, err = List(ctx, cs, "")
	if err == nil || !strings.Contains(err.Error(), "broken-pgbackrest") || !strings.Contains(err.Error(), `invalid --pgdata-size "lots"`) {
		t.Errorf("want an error naming the broken ConfigMap, got %v", err)
	}
	if got := names(specs); got != "a/pg1 a/pg2 b/z" {
		t.Errorf("all namespaces: %s", got)
	}
}

func names(specs []*Spec) string {
	var s []string
	for _, sp := range specs {
		s = append(s, sp.Namespace+"/"+sp.Name)
	}
	return strings.Join(s, " ")
}

type podOpt func(*corev1.Pod)

func pod(name string, role Role, created int, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: Labels("pg1", role),
			CreationTimestamp: metav1.NewTime(time.Unix(int64(created), 0))},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func TestFindPods(t *testing.T) {
	ctx := context.Background()
	now := metav1.Now()
	tests := []struct {
		name    string
		objs    []runtime.Object
		find    func(context.Context, *fake.Clientset) (*corev1.Pod, error)
		want    string // pod name, or a substring of the error
		wantErr error
	}{
		{
			name: "primary ready",
			objs: []runtime.Object{pod("pg1-abc", RolePrimary, 1), pod("pg1-repo", RoleRepo, 1)},
			find: primary, want: "pg1-abc",
		},
		{
			name: "repo ready",
			objs: []runtime.Object{pod("pg1-abc", RolePrimary, 1), pod("pg1-repo", RoleRepo, 1)},
			find: repo, want: "pg1-repo",
		},
		{
			name: "other cluster's pod ignored",
			objs: []runtime.Object{func() runtime.Object {
				p := pod("pg10-abc", RolePrimary, 1)
				p.Labels = Labels("pg10", RolePrimary)
				return p
			}()},
			find: primary, want: "no pod for the primary", wantErr: ErrNoPod,
		},
		{
			name: "ready pod preferred over a newer one not ready",
			objs: []runtime.Object{pod("old", RolePrimary, 1), pod("new", RolePrimary, 2, notReady)},
			find: primary, want: "old",
		},
		{
			name: "terminating pod skipped",
			objs: []runtime.Object{pod("gone", RolePrimary, 1, func(p *corev1.Pod) {
				p.DeletionTimestamp = &now
				p.Finalizers = []string{"x"}
			})},
			find: primary, want: "being deleted", wantErr: ErrPodNotReady,
		},
		{
			name: "image pull",
			objs: []runtime.Object{pod("pg1-x", RolePrimary, 1, func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.Conditions = nil
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres", State: corev1.ContainerState{
					Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}}
			})},
			find: primary, want: "pod pg1-x is phase Pending; container postgres waiting: ErrImagePull: not found", wantErr: ErrPodNotReady,
		},
		{
			name: "unschedulable",
			objs: []runtime.Object{pod("r", RoleRepo, 1, func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: "Unschedulable", Message: "0/1 nodes are available"}}
			})},
			find: repo, want: "not scheduled: Unschedulable: 0/1 nodes are available", wantErr: ErrPodNotReady,
		},
		{
			name: "crash loop",
			objs: []runtime.Object{pod("p", RolePrimary, 1, notReady, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{
					{Name: "postgres", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}},
					{Name: "pgbackrest", Ready: false, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				}
			})},
			find: primary, want: "container postgres waiting: CrashLoopBackOff (last exit code 1, Error); container pgbackrest running but not ready", wantErr: ErrPodNotReady,
		},
		{
			name: "no pods",
			find: repo, want: "describe deployment pg1-backrest-shared-repo", wantErr: ErrNoPod,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objs...)
			p, err := tt.find(ctx, cs)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %v containing %q", err, tt.wantErr, tt.want)
				}
				return
			}
			if err != nil || p.Name != tt.want {
				t.Errorf("got %v, %v; want pod %s", p, err, tt.want)
			}
		})
	}
}

func primary(ctx context.Context, cs *fake.Clientset) (*corev1.Pod, error) {
	return FindPrimaryPod(ctx, cs, "ns", "pg1")
}

func repo(ctx context.Context, cs *fake.Clientset) (*corev1.Pod, error) {
	return FindRepoPod(ctx, cs, "ns", "pg1")
}
