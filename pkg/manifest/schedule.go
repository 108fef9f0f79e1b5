package manifest

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Schedules: CronJobs that run the plugin itself (docs/schedules.md), and the ServiceAccount,
// Role and RoleBinding their runs act as. The bounds of a scheduled run:
const (
	// StartingDeadlineSeconds: a run missed by more than this (controller down, the cluster
	// suspended) is skipped, not started late in a burst.
	StartingDeadlineSeconds = 300
	// SuccessfulJobsHistory and FailedJobsHistory are how many finished Jobs (and their pods,
	// with their logs) the controller keeps.
	SuccessfulJobsHistory = 3
	FailedJobsHistory     = 3
	// ActiveDeadlineSeconds bounds one run: the backup's own --timeout (RunTimeout) plus room to
	// pull the image and release the Lease.
	ActiveDeadlineSeconds = 6*3600 + 600
	// RunTimeout is the --timeout the scheduled backup runs with.
	RunTimeout = "6h"
	// PluginUID is the plugin image's user (manifests/image/Dockerfile, target plugin).
	PluginUID = 65532
	// ContainerSchedule names the scheduled pod's one container.
	ContainerSchedule = "backup"
)

// Schedule is one backup schedule: type and storage pick the CronJob's name.
type Schedule struct {
	Namespace, Cluster string
	Type               string
	Storage            pgbackrest.Storage
	Cron               string
	TimeZone           string
	// Image is the plugin image the pod runs (cluster.PluginImage()).
	Image            string
	ImagePullSecrets []string
}

// Name is the CronJob's name.
func (s Schedule) Name() string { return cluster.Names{Cluster: s.Cluster}.Schedule(s.Type, s.Storage) }

// Args are the scheduled pod's arguments to the plugin: a backup as one would type it, with the
// namespace given (the in-cluster config has one too, from the ServiceAccount; saying it is plain).
func (s Schedule) Args() []string {
	return []string{"backup", s.Cluster, "--namespace", s.Namespace, "--type", s.Type, "--storage", string(s.Storage),
		"--timeout", RunTimeout, "--color", "never"}
}

func scheduleMeta(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
}

// ScheduleCronJob renders the schedule. Suspend is left unset: suspend/resume and restore own it, and a
// re-applied schedule keeps whatever they set.
func ScheduleCronJob(s Schedule) *batchv1.CronJob {
	labels := cluster.ScheduleLabels(s.Cluster, s.Type, s.Storage)
	sa := cluster.Names{Cluster: s.Cluster}.ScheduleServiceAccount()
	var tz *string
	if s.TimeZone != "" {
		tz = ptr(s.TimeZone)
	}
	var pullSecrets []corev1.LocalObjectReference
	for _, p := range s.ImagePullSecrets {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: p})
	}
	pod := corev1.PodSpec{
		ServiceAccountName:           sa,
		AutomountServiceAccountToken: ptr(true),
		RestartPolicy:                corev1.RestartPolicyNever,
		ImagePullSecrets:             pullSecrets,
		EnableServiceLinks:           ptr(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			RunAsUser:      ptr(int64(PluginUID)),
			RunAsGroup:     ptr(int64(PluginUID)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:  ContainerSchedule,
			Image: s.Image,
			Args:  s.Args(),
			Env: []corev1.EnvVar{
				// The Lease holder names the pod (pkg/kube/identity.go).
				{Name: "POD_UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
				// The image is FROM scratch with a read-only root: client-go's caches and anything
				// that looks for a home directory get the emptyDir.
				{Name: "HOME", Value: "/tmp"},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
			}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr(false),
				ReadOnlyRootFilesystem:   ptr(true),
				RunAsNonRoot:             ptr(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
		Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("16Mi"))}}}},
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: scheduleMeta(s.Namespace, s.Name(), labels),
		Spec: batchv1.CronJobSpec{
			Schedule:                   s.Cron,
			TimeZone:                   tz,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr(int64(StartingDeadlineSeconds)),
			SuccessfulJobsHistoryLimit: ptr(int32(SuccessfulJobsHistory)),
			FailedJobsHistoryLimit:     ptr(int32(FailedJobsHistory)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: batchv1.JobSpec{
					BackoffLimit:          ptr(int32(0)),
					ActiveDeadlineSeconds: ptr(int64(ActiveDeadlineSeconds)),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       pod,
					},
				},
			},
		},
	}
}

// rbacLabels are the labels of the schedules' ServiceAccount, Role and RoleBinding.
func rbacLabels(clusterName string) map[string]string {
	return cluster.Labels(clusterName, cluster.RoleSchedule)
}

// ScheduleServiceAccount is what scheduled runs act as.
func ScheduleServiceAccount(ns, clusterName string) *corev1.ServiceAccount {
	name := cluster.Names{Cluster: clusterName}.ScheduleServiceAccount()
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: scheduleMeta(ns, name, rbacLabels(clusterName)),
	}
}

// ScheduleRole grants exactly what `kubectl pgbackrest backup` of this cluster does (docs/rbac.md,
// "Schedules"), named objects where the API allows it.
func ScheduleRole(ns, clusterName string) *rbacv1.Role {
	n := cluster.Names{Cluster: clusterName}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: scheduleMeta(ns, n.ScheduleServiceAccount(), rbacLabels(clusterName)),
		Rules: []rbacv1.PolicyRule{
			// The cluster's spec and a restore's record on it.
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{n.ConfigMap()}, Verbs: []string{"get"}},
			// Finding the repository host's pod (by label: list cannot be limited by name).
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
			// The last lines of a pod that keeps crashing, in error messages.
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			// pgbackrest backup and info in it (WebSocket before 1.35 is get, SPDY and later create).
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"get", "create"}},
			// Error messages explain a pod that does not run.
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list", "watch"}},
			// The Lease that keeps backups and restores apart (create cannot be limited by name, so
			// none of these is). Only verbs manifests/rbac/role.yaml holds too: Kubernetes lets a
			// user grant a Role only with permissions they have.
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "watch", "create", "update", "delete"}},
		},
	}
}

// ScheduleRoleBinding binds ScheduleRole to ScheduleServiceAccount.
func ScheduleRoleBinding(ns, clusterName string) *rbacv1.RoleBinding {
	name := cluster.Names{Cluster: clusterName}.ScheduleServiceAccount()
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: scheduleMeta(ns, name, rbacLabels(clusterName)),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}
}
