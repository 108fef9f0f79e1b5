package restore

import (
	"context"
	"fmt"
	"maps"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// TestRestoreJobPlacedLikeNewPrimary: with a WaitForFirstConsumer StorageClass the restore Job's
// pod decides where the new data volume is provisioned, after the old primary is gone; a Job
// placed anywhere else than the new primary can leave the cluster down for good. Without
// --node-label both keep the cluster's node selector (testSpec: disk=ssd); with it, both take it.
func TestRestoreJobPlacedLikeNewPrimary(t *testing.T) {
	tests := []struct {
		name string
		flag map[string]string
		want map[string]string
	}{
		{"the cluster's node selector", nil, map[string]string{"disk": "ssd"}},
		{"--node-label twice", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "b", "c": "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			r, err := w.prepare(Config{Storages: []pgbackrest.Storage{pgbackrest.Local}, NodeSelector: tt.flag})
			if err != nil {
				t.Fatal(err)
			}

			// --dry-run=client prints the same placement as the run uses.
			var dryJob, dryPrimary map[string]string
			for _, o := range r.Objects() {
				switch o := o.(type) {
				case *batchv1.Job:
					dryJob = o.Spec.Template.Spec.NodeSelector
				case *appsv1.Deployment:
					dryPrimary = o.Spec.Template.Spec.NodeSelector
				}
			}
			if !maps.Equal(dryJob, tt.want) || !maps.Equal(dryPrimary, tt.want) {
				t.Errorf("--dry-run objects: restore Job nodeSelector %v, primary %v; want both %v", dryJob, dryPrimary, tt.want)
			}

			if _, err := r.Run(context.Background(), &recorder{}); err != nil {
				t.Fatal(err)
			}
			w.checkRestored(r.PVC)
			ctx := context.Background()
			job, err := w.cs.BatchV1().Jobs(ns).Get(ctx, r.Job, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			primary, err := w.cs.AppsV1().Deployments(ns).Get(ctx, r.Spec.Names().Primary(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := placement(job.Spec.Template.Spec); got != placement(primary.Spec.Template.Spec) {
				t.Errorf("restore Job placed %s, new primary %s", got, placement(primary.Spec.Template.Spec))
			}
			if got := job.Spec.Template.Spec.NodeSelector; !maps.Equal(got, tt.want) {
				t.Errorf("restore Job nodeSelector %v, want %v", got, tt.want)
			}
		})
	}
}

// placement prints every field of a pod spec that decides where it may run.
func placement(p corev1.PodSpec) string {
	return fmt.Sprintf("nodeSelector=%v nodeName=%q affinity=%v tolerations=%v spread=%v", p.NodeSelector, p.NodeName, p.Affinity, p.Tolerations, p.TopologySpreadConstraints)
}
