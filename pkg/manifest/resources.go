package manifest

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// Default resource requests. Without requests the pods are BestEffort: the first evicted under
// node pressure and scheduled as if free, so a node full of them overcommits unseen. These are
// small floors for the scheduler, not sizes for a production database (--cpu and --memory
// replace the primary's: postgresResources); no limits by default, because a CPU limit throttles
// backups and a memory limit kills PostgreSQL in the middle of a checkpoint.
// DefaultPostgresCPU and DefaultPostgresMemory are the PostgreSQL container's requests without
// --cpu and --memory.
const (
	DefaultPostgresCPU    = "100m"
	DefaultPostgresMemory = "256Mi"
)

var (
	requestsPostgres = requests(DefaultPostgresCPU, DefaultPostgresMemory)
	// The primary's pgBackRest server only answers the repository host's backup reads.
	requestsSidecar = requests("10m", "32Mi")
	// The repository host compresses and checksums every backup and serves archive pushes.
	requestsRepoHost = requests("50m", "128Mi")
	requestsRestore  = requests("100m", "256Mi")
)

// postgresResources are the primary's PostgreSQL container's: the spec's requests and limits
// (validated by cluster.Spec.Validate and Parse) over the floor.
func postgresResources(r cluster.Resources) corev1.ResourceRequirements {
	out := *requestsPostgres.DeepCopy()
	set := func(list *corev1.ResourceList, name corev1.ResourceName, v string) {
		if v == "" {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = resource.MustParse(v)
	}
	set(&out.Requests, corev1.ResourceCPU, r.CPU)
	set(&out.Requests, corev1.ResourceMemory, r.Memory)
	set(&out.Limits, corev1.ResourceCPU, r.CPULimit)
	set(&out.Limits, corev1.ResourceMemory, r.MemoryLimit)
	return out
}

func requests(cpu, memory string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}}
}

// emptyDir size limits: past its limit the kubelet evicts the pod, so each is generous for what
// the directory holds, and bounded so a runaway writer fills no node's disk. The socket directory
// holds PostgreSQL's socket and lock file; /tmp pgBackRest's lock files; the log directory nothing
// (file logging is off) unless --options turn it on; the spool directory the queues of asynchronous
// archiving, which pgBackRest itself bounds (archive-push-queue-max, archive-get-queue-max).
var emptyDirLimits = map[string]string{
	volSocket: "16Mi",
	volTmp:    "256Mi",
	volLog:    "256Mi",
	volSpool:  "1Gi",
}

func emptyDir(name string) corev1.Volume {
	src := &corev1.EmptyDirVolumeSource{}
	if l, ok := emptyDirLimits[name]; ok {
		src.SizeLimit = ptr(resource.MustParse(l))
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: src}}
}

// SameResources says the PostgreSQL containers of two primary Deployments ask for and are
// limited to the same (quantities compared by value: "1024Mi" is "1Gi").
func SameResources(a, b *appsv1.Deployment) bool {
	ra, rb := postgresContainerResources(a), postgresContainerResources(b)
	return sameList(ra.Requests, rb.Requests) && sameList(ra.Limits, rb.Limits)
}

func postgresContainerResources(d *appsv1.Deployment) corev1.ResourceRequirements {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == ContainerPostgres {
			return c.Resources
		}
	}
	return corev1.ResourceRequirements{}
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
