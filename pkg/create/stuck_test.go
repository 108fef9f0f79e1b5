package create

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestStorageClassCheckedBeforeAnythingIsCreated(t *testing.T) {
	forbidden := func(cs *fake.Clientset) {
		cs.PrependReactor("get", "storageclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, "fast", errors.New("no"))
		})
	}
	tests := []struct {
		name    string
		objects []runtime.Object
		react   func(*fake.Clientset)
		wantErr bool
	}{
		{name: "missing", wantErr: true},
		{name: "exists", objects: []runtime.Object{&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}}}},
		{name: "not allowed to look", react: forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newClient(t, tt.objects...)
			if tt.react != nil {
				tt.react(cs)
			}
			cfg := config(pgbackrest.Local)
			cfg.StorageClass = "fast"
			_, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), cfg)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNoStorageClass) || exitcode.For(err) != exitcode.Failure || !strings.Contains(err.Error(), "kubectl get storageclass") {
				t.Fatalf("err = %v (exit %d), want ErrNoStorageClass, exit 1", err, exitcode.For(err))
			}
			if w := writes(cs); len(w) > 0 {
				t.Errorf("wrote %q before refusing", w)
			}
		})
	}
}

// stuckPulls makes every Deployment of image bad unavailable, its pod in InvalidImageName.
func stuckPulls(cs *fake.Clientset, bad string) {
	tracker := cs.Tracker()
	cs.PrependReactor("patch", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := k8stesting.ObjectReaction(tracker)(action)
		if err != nil || !handled {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		if d.Spec.Template.Spec.Containers[0].Image != bad {
			return false, nil, nil // newClient's reactor makes it available
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1}
		if err := tracker.Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, d, d.Namespace); err != nil {
			return true, nil, err
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-bad", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
			Spec: d.Spec.Template.Spec,
			Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
				Name:  d.Spec.Template.Spec.Containers[0].Name,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "InvalidImageName", Message: "bad"}}}}}}
		if err := tracker.Create(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, pod, d.Namespace); err != nil && !apierrors.IsAlreadyExists(err) {
			return true, nil, err
		}
		return true, d, nil
	})
}

// A bad image stops create at once with exit 1 and the flag to change; the re-run with another
// --image takes it (the create never finished) and completes.
func TestBadImageStopsThenAnotherImageCompletes(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	stuckPulls(cs, "bad:1")
	cfg := config(pgbackrest.Local)
	cfg.Image, cfg.ImageExplicit = "bad:1", true
	start := time.Now()
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg)
	var stuck *StuckError
	if !errors.As(err, &stuck) || stuck.Err.Cause != kube.CauseImage {
		t.Fatalf("err = %v, want *StuckError about the image", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s to give up", took)
	}
	if exitcode.For(err) != exitcode.Failure || !strings.Contains(err.Error(), "--image IMAGE") || strings.Contains(err.Error(), "re-run the same command to resume") {
		t.Errorf("exit %d, error %q: want exit 1, the --image hint and no resume hint", exitcode.For(err), err)
	}

	// Without --image the stored image stays.
	cfg.Image, cfg.ImageExplicit = "", false
	spec, _, err := Prepare(ctx, cs, cfg)
	if err != nil || spec.Image != "bad:1" {
		t.Fatalf("Prepare without --image: image %q, err %v; want the stored bad:1", spec.Image, err)
	}

	cfg.Image, cfg.ImageExplicit = "img:2", true
	res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg)
	if err != nil {
		t.Fatalf("re-run with --image img:2: %v", err)
	}
	stored, _, err := cluster.Get(ctx, cs, ns, "pg1")
	if err != nil || stored.Image != "img:2" || res.Spec.Image != "img:2" {
		t.Fatalf("stored image %q (err %v), want img:2", stored.Image, err)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "pg1", metav1.GetOptions{})
	if want := "img@" + fakeDigest("img:2"); err != nil || d.Spec.Template.Spec.Containers[0].Image != want {
		t.Fatalf("primary's image: %v, want %s pinned", err, want)
	}

	// A finished cluster keeps its image: changing it is not create's business.
	cfg.Image = "img:3"
	spec, _, err = Prepare(ctx, cs, cfg)
	if err != nil || spec.Image != "img:2" {
		t.Fatalf("Prepare on a finished cluster: image %q, err %v; want img:2", spec.Image, err)
	}
}
