package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// lines records Progress lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, s)
}

func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

func unavailableDeployment() *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", Generation: 1},
		Spec:   appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1}}
}

func TestWaiterStopsWhenWaitingCannotHelp(t *testing.T) {
	class := "nosuch"
	tests := []struct {
		name    string
		objects []runtime.Object
		grace   time.Duration
		cause   string
		want    string
	}{
		{name: "invalid image", cause: CauseImage, want: "not a valid image reference",
			objects: []runtime.Object{pod("db-1", waitingIn("InvalidImageName", "bad"))}},
		{name: "image pull failure past the grace period", cause: CauseImage, grace: 300 * time.Millisecond, want: "cannot pull image",
			objects: []runtime.Object{pod("db-1", waitingIn("ErrImagePull", "dial tcp 127.0.0.1:443: connect: connection refused"))}},
		{name: "missing StorageClass", cause: CauseStorageClass, want: `StorageClass "nosuch" does not exist`,
			objects: []runtime.Object{pod("db-1", nil), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}}},
		{name: "pods refused at creation", cause: CauseAdmission, grace: 300 * time.Millisecond, want: "violates PodSecurity",
			objects: []runtime.Object{&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "ns"},
				InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: "db-7d9"}, Type: "Warning", Reason: "FailedCreate",
				Message: `Error creating: pods "db-7d9-x" is forbidden: violates PodSecurity "restricted:latest"`, LastTimestamp: metav1.Now()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(append(tt.objects, unavailableDeployment())...)
			var progress lines
			w := Waiter{Client: cs, Progress: progress.add, Grace: tt.grace}
			start := time.Now()
			err := w.DeploymentAvailable(context.Background(), "ns", "db", 20*time.Second)
			var stuck *StuckError
			if !errors.As(err, &stuck) {
				t.Fatalf("err = %v, want *StuckError", err)
			}
			if took := time.Since(start); took < tt.grace || took > tt.grace+5*time.Second {
				t.Errorf("gave up after %s, want the grace period %s (plus a little)", took, tt.grace)
			}
			if stuck.Cause != tt.cause || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "to fix: ") {
				t.Errorf("cause %q, error %q; want cause %q naming %q and a fix", stuck.Cause, err, tt.cause, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "waiting for deployment ns/db to become available cannot help: ") {
				t.Errorf("error %q does not name the deployment", err)
			}
			if code := exitcode.For(fmt.Errorf("step: %w", err)); code != exitcode.Failure {
				t.Errorf("exit code %d, want %d", code, exitcode.Failure)
			}
			// A cause fatal at once is said once, by the error; one with a grace period first on
			// progress, and not again when it turns fatal.
			got := progress.get()
			if tt.grace == 0 && len(got) != 0 {
				t.Errorf("progress %q, want none", got)
			}
			if tt.grace > 0 && (len(got) != 1 || !strings.Contains(got[0], tt.want)) {
				t.Errorf("progress %q, want one line naming %q", got, tt.want)
			}
		})
	}
}

// A cause that may still pass keeps the wait going; the timeout then says why, and progress
// says it once however often the pod changes.
func TestWaiterTimeoutSaysWhyOncePerChange(t *testing.T) {
	crash := pod("db-1", func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres", RestartCount: 3,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}}}
	})
	cs := fake.NewClientset(unavailableDeployment(), crash)
	var progress lines
	ctx := context.Background()
	go func() {
		// The kubelet updates the pod again and again in the same state.
		for i := range 20 {
			p := crash.DeepCopy()
			p.Annotations = map[string]string{"n": fmt.Sprint(i)}
			_, _ = cs.CoreV1().Pods("ns").Update(ctx, p, metav1.UpdateOptions{})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	err := Waiter{Client: cs, Progress: progress.add}.DeploymentAvailable(ctx, "ns", "db", 1500*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) || exitcode.For(err) != exitcode.TimedOut {
		t.Fatalf("err = %v, want a *TimeoutError (exit 3)", err)
	}
	for _, want := range []string{"keeps crashing", "exit code 2", "fake logs", "0 of 1 replicas available"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout %q lacks %q", err, want)
		}
	}
	if got := progress.get(); len(got) != 1 {
		t.Errorf("progress = %q, want one line", got)
	}
}

func TestWaiterExplainsAPodStuckTerminating(t *testing.T) {
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	old := pod("db-old", func(p *corev1.Pod) { p.DeletionTimestamp = &past })
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status."}}}}
	cs := fake.NewClientset(old, node)
	var progress lines
	err := Waiter{Client: cs, Progress: progress.add}.PodsGone(context.Background(), "ns", "app=db", time.Second)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError: a node may come back", err)
	}
	for _, want := range []string{"stuck terminating on node node1, which is NotReady", "kubectl get node node1",
		"kubectl delete pod -n ns db-old --grace-period=0 --force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout %q lacks %q", err, want)
		}
	}
}

// A Forbidden read of the StorageClass (cluster-scoped; the Role does not grant it) or of the
// events leaves the wait unexplained but going.
func TestWaiterGoesOnWhenItMayNotLook(t *testing.T) {
	class := "fast"
	cs := fake.NewClientset(unavailableDeployment(), pod("db-1", nil),
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}})
	forbid := func(res string) k8stesting.ReactionFunc {
		return func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: res}, "", errors.New("no"))
		}
	}
	cs.PrependReactor("get", "storageclasses", forbid("storageclasses"))
	cs.PrependReactor("list", "events", forbid("events"))
	err := Waiter{Client: cs}.DeploymentAvailable(context.Background(), "ns", "db", 700*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError", err)
	}
}

func TestWaiterStorageClassThatExists(t *testing.T) {
	class := "fast"
	cs := fake.NewClientset(unavailableDeployment(), pod("db-1", nil), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}})
	err := Waiter{Client: cs}.DeploymentAvailable(context.Background(), "ns", "db", 700*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError", err)
	}
}

func TestWaiterJobRefusedAtCreation(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "db-restore-1", Namespace: "ns"}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "Job", Name: "db-restore-1"}, Type: "Warning", Reason: "FailedCreate",
		Message: `Error creating: pods "db-restore-1-x" is forbidden: exceeded quota: q`, LastTimestamp: metav1.Now()}
	cs := fake.NewClientset(job, ev)
	err := Waiter{Client: cs, Grace: 200 * time.Millisecond}.JobSucceeded(context.Background(), "ns", "db-restore-1", 20*time.Second)
	var stuck *StuckError
	if !errors.As(err, &stuck) || stuck.Cause != CauseAdmission || !strings.Contains(err.Error(), "ResourceQuota") {
		t.Fatalf("err = %v, want a *StuckError about the quota", err)
	}
}

func TestWhyReadsOnce(t *testing.T) {
	cs := fake.NewClientset(pod("db-1", waitingIn("ImagePullBackOff", `Back-off pulling image "reg/pg:15": ErrImagePull: not found`)),
		pod("other", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other"} }))
	sel, _ := labels.Parse("app=db")
	why := Waiter{Client: cs}.Why(context.Background(), "ns", sel)
	if !strings.Contains(why, `pod db-1 cannot pull image "reg/pg:15": not found`) {
		t.Errorf("Why = %q", why)
	}
	if got := (Waiter{Client: fake.NewClientset()}).Why(context.Background(), "ns", sel); got != "" {
		t.Errorf("Why without pods = %q, want nothing", got)
	}
}
