package manifest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// Every container asks for CPU and memory (never BestEffort), none is limited, and no emptyDir
// can fill a node's disk.
func TestRequestsAndEmptyDirLimits(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		for name, p := range podSpecs(allObjects(t, testSpec(t, storage))) {
			for _, c := range append(p.InitContainers, p.Containers...) {
				r := c.Resources
				if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() {
					t.Errorf("%s/%s container %s: requests %v", storage, name, c.Name, r.Requests)
				}
				if len(r.Limits) > 0 {
					t.Errorf("%s/%s container %s: limits %v", storage, name, c.Name, r.Limits)
				}
			}
			for _, v := range p.Volumes {
				if v.EmptyDir != nil && (v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.IsZero()) {
					t.Errorf("%s/%s emptyDir %s has no size limit", storage, name, v.Name)
				}
				if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
					t.Errorf("%s/%s emptyDir %s is in memory", storage, name, v.Name)
				}
			}
		}
	}
}

// --cpu and --memory reach the primary's postgres container, and only it; a restore rebuilds the
// primary from the spec (PrimaryDeployment), so they survive it.
func TestPostgresResourcesFromSpec(t *testing.T) {
	spec := testSpec(t, "local")
	spec.Resources = cluster.Resources{CPU: "750m", Memory: "2Gi", MemoryLimit: "3Gi"}
	d := PrimaryDeployment(spec)
	for _, c := range d.Spec.Template.Spec.Containers {
		r := c.Resources
		if c.Name != ContainerPostgres {
			if len(r.Limits) > 0 || r.Requests.Memory().String() == "2Gi" {
				t.Errorf("container %s got the primary's resources: %v", c.Name, r)
			}
			continue
		}
		if r.Requests.Cpu().String() != "750m" || r.Requests.Memory().String() != "2Gi" ||
			r.Limits.Memory().String() != "3Gi" || !r.Limits.Cpu().IsZero() {
			t.Errorf("postgres resources %v, want requests cpu 750m memory 2Gi, limit memory 3Gi only", r)
		}
	}
	if got := postgresResources(cluster.Resources{}); got.Requests.Cpu().Cmp(*requestsPostgres.Requests.Cpu()) != 0 || len(got.Limits) > 0 {
		t.Errorf("no resources given: %v, want the floor %v", got, requestsPostgres)
	}
}
