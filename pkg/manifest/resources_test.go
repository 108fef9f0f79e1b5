package manifest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
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
