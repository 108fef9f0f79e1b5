package manifest

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// ContainerProbe is the container of the image probe Job.
const ContainerProbe = "probe"

// ProbeScript prints what `update --image` must know of an image before any pod of the cluster
// runs it: its PostgreSQL major (PG_MAJOR, the image contract's, else `postgres --version`) and
// pgBackRest's version, one key=value a line. It writes them as the container's termination
// message, which the pod's status carries: reading it needs no pods/log right. It never fails on a
// missing binary: an empty value is the answer.
const ProbeScript = `pg=$(postgres --version 2>/dev/null | head -n1)
br=$(pgbackrest version 2>/dev/null | head -n1)
printf 'pg_major=%s\npostgres=%s\npgbackrest=%s\n' "${PG_MAJOR:-}" "$pg" "$br" | tee /dev/termination-log
`

// ImageProbeJob runs ProbeScript in image, with the cluster's pull Secrets and the restricted
// security context of every pod, no volume but /tmp, no network peer and no token. It never
// retries, and its pod is gone a minute after it ends even if the plugin is interrupted.
func ImageProbeJob(spec *cluster.Spec, name, image string) *batchv1.Job {
	c := corev1.Container{
		Name:            ContainerProbe,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/bin/sh", "-c", ProbeScript},
		VolumeMounts:    []corev1.VolumeMount{{Name: volTmp, MountPath: "/tmp"}},
		SecurityContext: containerSecurityContext(),
		Resources:       requestsSidecar,
	}
	pod := podSpec(spec, []corev1.Volume{emptyDir(volTmp)}, c)
	pod.ImagePullSecrets = PullSecrets(spec)
	pod.RestartPolicy = corev1.RestartPolicyNever
	labels := cluster.Labels(spec.Name, cluster.RoleProbe)
	return &batchv1.Job{
		TypeMeta:   typeJob,
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: spec.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(0)),
			TTLSecondsAfterFinished: ptr(int32(60)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}
}
