package kube

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestExplainForbidden(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "pgbackrest-s3", errors.New("RBAC"))
	err := Explain(forbidden, "get", "secrets", "ns")
	var fe *ForbiddenError
	if !errors.As(err, &fe) || !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"not allowed to get secrets in namespace ns", "docs/rbac.md", "kubectl auth can-i get secrets -n ns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err.Error(), want)
		}
	}
	other := errors.New("boom")
	if Explain(other, "get", "secrets", "ns") != other {
		t.Error("non-forbidden errors must pass through")
	}
}

func TestDeploymentAvailable(t *testing.T) {
	one := int32(1)
	d := func(gen, observed int64, replicas, updated, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &one},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas,
				UpdatedReplicas: updated, AvailableReplicas: available, Conditions: conds},
		}
	}
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		done    bool
		wantErr bool
	}{
		{"not observed", d(2, 1, 1, 1, 1), false, false},
		{"not updated", d(1, 1, 1, 0, 0), false, false},
		{"old replica left", d(1, 1, 2, 1, 1), false, false},
		{"not available", d(1, 1, 1, 1, 0), false, false},
		{"available", d(1, 1, 1, 1, 1), true, false},
		{"deadline", d(1, 1, 1, 1, 0, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, _, err := DeploymentAvailable(tt.d)
			if done != tt.done || (err != nil) != tt.wantErr {
				t.Errorf("got %v, %v", done, err)
			}
		})
	}
}

func job(conds ...batchv1.JobCondition) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "db-restore-1", Namespace: "ns"}, Status: batchv1.JobStatus{Conditions: conds}}
}

func TestJobComplete(t *testing.T) {
	if done, err := JobComplete(job()); done || err != nil {
		t.Errorf("running job: %v %v", done, err)
	}
	if done, err := JobComplete(job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue})); !done || err != nil {
		t.Errorf("complete job: %v %v", done, err)
	}
	_, err := JobComplete(job(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "too many"}))
	var jf *JobFailedError
	if !errors.As(err, &jf) || jf.Reason != "BackoffLimitExceeded" || !strings.Contains(err.Error(), "kubectl logs -n ns job/db-restore-1") {
		t.Errorf("failed job: %v", err)
	}
}

func TestWaitForJobComplete(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}))
	if err := WaitForJobComplete(ctx, cs, "ns", "db-restore-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func jobPod(name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{JobPodLabel: "db-restore-1"}},
		Status: corev1.PodStatus{Phase: phase}}
}

func TestWaitForJobSucceeded(t *testing.T) {
	ctx := context.Background()
	t.Run("pod succeeded before the Job is Complete", func(t *testing.T) {
		cs := fake.NewClientset(job(), jobPod("db-restore-1-abc", corev1.PodSucceeded))
		if err := WaitForJobSucceeded(ctx, cs, "ns", "db-restore-1", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pod's containers exited 0, phase not yet Succeeded", func(t *testing.T) {
		p := jobPod("db-restore-1-abc", corev1.PodRunning)
		p.Spec.Containers = []corev1.Container{{Name: "restore"}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "restore", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
		cs := fake.NewClientset(job(), p)
		if err := WaitForJobSucceeded(ctx, cs, "ns", "db-restore-1", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Job Complete", func(t *testing.T) {
		cs := fake.NewClientset(job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}))
		if err := WaitForJobSucceeded(ctx, cs, "ns", "db-restore-1", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Job failed while its last pod is failed", func(t *testing.T) {
		cs := fake.NewClientset(job(batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}),
			jobPod("db-restore-1-abc", corev1.PodFailed))
		var jf *JobFailedError
		if err := WaitForJobSucceeded(ctx, cs, "ns", "db-restore-1", 5*time.Second); !errors.As(err, &jf) {
			t.Fatalf("err = %v, want *JobFailedError", err)
		}
	})
	t.Run("a container exiting 1 and another Job's pod succeeding are not this Job's success", func(t *testing.T) {
		other := jobPod("db-restore-2-abc", corev1.PodSucceeded)
		other.Labels[JobPodLabel] = "db-restore-2"
		failing := jobPod("db-restore-1-abc", corev1.PodRunning)
		failing.Spec.Containers = []corev1.Container{{Name: "restore"}}
		failing.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "restore", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}
		cs := fake.NewClientset(job(), failing, other)
		var te *TimeoutError
		if err := WaitForJobSucceeded(ctx, cs, "ns", "db-restore-1", 100*time.Millisecond); !errors.As(err, &te) {
			t.Fatalf("err = %v, want *TimeoutError", err)
		}
	})
}

func TestWaitTimeoutNamesObjectAndMapsToExit3(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(job())
	err := WaitForJobComplete(ctx, cs, "ns", "db-restore-1", 50*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want *TimeoutError", err)
	}
	if !strings.Contains(err.Error(), "job ns/db-restore-1 to complete") {
		t.Errorf("message = %q", err.Error())
	}
	if exitcode.For(err) != exitcode.TimedOut {
		t.Errorf("exit code = %d", exitcode.For(err))
	}
}

func TestWaitCancelledIsNotTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cs := fake.NewClientset(job())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := WaitForJobComplete(ctx, cs, "ns", "db-restore-1", time.Minute)
	if !errors.Is(err, context.Canceled) || exitcode.For(err) != exitcode.Failure {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitForPodGone(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	if err := WaitForPodGone(ctx, cs, "ns", "absent", time.Second); err != nil {
		t.Fatalf("absent pod: %v", err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "ns"}}
	cs = fake.NewClientset(pod)
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = cs.CoreV1().Pods("ns").Delete(ctx, "db-0", metav1.DeleteOptions{})
	}()
	if err := WaitForPodGone(ctx, cs, "ns", "db-0", 5*time.Second); err != nil {
		t.Fatalf("deleted pod: %v", err)
	}
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "db-pgbackrest", Namespace: "ns"}, Data: map[string]string{"a": "1"}}
	got, err := Apply(ctx, cs, cm, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["a"] != "1" {
		t.Errorf("applied = %+v", got)
	}
	cm.Data["a"] = "2"
	if _, err := Apply(ctx, cs, cm, ApplyOptions{}); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	stored, _ := cs.CoreV1().ConfigMaps("ns").Get(ctx, "db-pgbackrest", metav1.GetOptions{})
	if stored.Data["a"] != "2" {
		t.Errorf("stored = %+v", stored.Data)
	}
	if cm.Kind != "" {
		t.Error("Apply changed the caller's object")
	}
}

func TestApplyBody(t *testing.T) {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "ns", ResourceVersion: "7", UID: "u"}}
	data, kind, ns, name, err := applyBody(l)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if kind != "lease" || ns != "ns" || name != "l" || !strings.Contains(s, `"apiVersion":"coordination.k8s.io/v1"`) ||
		!strings.Contains(s, `"kind":"Lease"`) || strings.Contains(s, "resourceVersion") || strings.Contains(s, `"uid"`) {
		t.Errorf("body = %s (%s %s/%s)", s, kind, ns, name)
	}
	if _, _, _, _, err := applyBody(&corev1.Secret{}); err == nil {
		t.Error("nameless object accepted")
	}
}

func TestExitErrorMessage(t *testing.T) {
	err := &ExitError{Code: 3, Command: []string{"pgbackrest", "check"}}
	if !strings.Contains(err.Error(), "exited with code 3") {
		t.Error(err)
	}
}

var _ Executor = (*RemoteExecutor)(nil)

// A change made between the informer's List and its Watch is lost by client-go's fake watch;
// the periodic re-list of until recovers it.
func TestWaitRecoversChangeBetweenListAndWatch(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(job())
	var once sync.Once
	cs.PrependWatchReactor("jobs", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() {
			j := job(batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue})
			if err := cs.Tracker().Update(batchv1.SchemeGroupVersion.WithResource("jobs"), j, "ns"); err != nil {
				t.Error(err)
			}
		})
		return false, nil, nil
	})
	if err := WaitForJobComplete(ctx, cs, "ns", "db-restore-1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
