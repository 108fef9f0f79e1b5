// Package manifest builds every Kubernetes object of a cluster from its spec. The builders are pure
// (k8s.io/api and apimachinery objects; from pkg/kube only the fence's log lines, which its waits
// recognise) and deterministic, and set TypeMeta so that
// `--dry-run=client -o yaml` prints complete objects. The names, labels, paths and mounts follow
// docs/architecture.md.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Container names.
const (
	ContainerPostgres   = "postgres"
	ContainerPGBackRest = "pgbackrest"
	ContainerRestore    = "restore"
)

// Port names, on containers and Services.
const (
	PortPostgres   = "postgres"
	PortPGBackRest = "pgbackrest"
)

// UID and GID of the image's postgres user (docs/image.md); pods run as it unless the spec
// records another uid (podSecurityContext).
const PostgresUID = cluster.PostgresUID

// Volume names.
const (
	volData   = "pgdata"
	volRepo   = "repo"
	volConfig = "config"
	volTLS    = "tls"
	volS3CA   = "s3-ca"
	volTmp    = "tmp"
	volSocket = "socket"
	volLog    = "log"
	volSpool  = "spool"
)

// PrimaryTerminationGracePeriod leaves PostgreSQL time for its shutdown checkpoint and the archiving
// of the last WAL segment.
const PrimaryTerminationGracePeriod = 120

// ProgressDeadlineSeconds of every Deployment: a day, far above the Deployment controller's 600 s
// default, which a long recovery (or the fence's wait for a previous postmaster) would hit.
const ProgressDeadlineSeconds = 86400

var (
	typeConfigMap  = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	typeSecret     = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	typePVC        = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
	typeService    = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	typeDeployment = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	typeJob        = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
)

func meta(spec *cluster.Spec, name string, role cluster.Role) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: spec.Namespace, Labels: cluster.Labels(spec.Name, role)}
}

// ConfigHash is the value of the pgbackrest.dev/config-hash pod template annotation for a config.
func ConfigHash(conf string) string {
	sum := sha256.Sum256([]byte(conf))
	return hex.EncodeToString(sum[:])
}

// Objects returns every object of a new cluster in apply order: ConfigMap, TLS Secret, PVCs,
// Services, NetworkPolicies (before any pod runs), then the repository host before the primary
// (whose archive_command needs it).
func Objects(spec *cluster.Spec, dbConf, repoConf string, certs map[string][]byte) ([]runtime.Object, error) {
	cm, err := ConfigMap(spec, dbConf, repoConf)
	if err != nil {
		return nil, err
	}
	objs := []runtime.Object{
		cm,
		TLSSecret(spec, certs),
		DataPVC(spec, spec.DataPVC),
	}
	if spec.Has(pgbackrest.Local) {
		objs = append(objs, RepoPVC(spec))
	}
	objs = append(objs, PrimaryService(spec), RepoHostService(spec))
	for _, np := range NetworkPolicies(spec) {
		objs = append(objs, np)
	}
	return append(objs,
		RepoHostDeployment(spec, repoConf),
		PrimaryDeployment(spec),
	), nil
}

// ConfigMap is the cluster ConfigMap: spec.json, db.conf and repo.conf.
func ConfigMap(spec *cluster.Spec, dbConf, repoConf string) (*corev1.ConfigMap, error) {
	specJSON, err := spec.JSON()
	if err != nil {
		// A Spec holds only strings, ints, bools, slices and maps: encoding it cannot fail.
		panic(err)
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   typeConfigMap,
		ObjectMeta: meta(spec, spec.Names().ConfigMap(), cluster.RoleConfig),
		Data: map[string]string{
			cluster.SpecKey:     specJSON,
			cluster.DBConfKey:   dbConf,
			cluster.RepoConfKey: repoConf,
		},
	}
	files, err := ArchiveFiles(spec)
	if err != nil {
		return nil, fmt.Errorf("rendering the archive configuration of cluster %s: %w", spec.Name, err)
	}
	maps.Copy(cm.Data, files)
	cm.Labels[cluster.LabelCluster] = "true"
	return cm, nil
}

// TLSSecret holds the pgBackRest TLS material (certs.Bundle.SecretData()).
func TLSSecret(spec *cluster.Spec, certs map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   typeSecret,
		ObjectMeta: meta(spec, spec.Names().TLSSecret(), cluster.RoleConfig),
		Type:       corev1.SecretTypeOpaque,
		Data:       maps.Clone(certs),
	}
}

// DataPVC is a PostgreSQL data PVC named name: the cluster's first, or a restore's new one.
func DataPVC(spec *cluster.Spec, name string) *corev1.PersistentVolumeClaim {
	return pvc(spec, name, cluster.RolePrimary, spec.PGDataSize)
}

// RepoPVC holds the local repository (repo1); only clusters with local storage have one.
func RepoPVC(spec *cluster.Spec) *corev1.PersistentVolumeClaim {
	return pvc(spec, spec.Names().RepoPVC(), cluster.RoleRepo, spec.RepoSize)
}

func pvc(spec *cluster.Spec, name string, role cluster.Role, size string) *corev1.PersistentVolumeClaim {
	p := &corev1.PersistentVolumeClaim{
		TypeMeta:   typePVC,
		ObjectMeta: meta(spec, name, role),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				// Sizes are validated by cluster.Spec.Validate; an invalid one panics here.
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			},
		},
	}
	if spec.StorageClass != "" {
		p.Spec.StorageClassName = ptr(spec.StorageClass)
	}
	return p
}

// PrimaryService exposes PostgreSQL (5432) and the primary's pgBackRest TLS server (8432).
func PrimaryService(spec *cluster.Spec) *corev1.Service {
	return service(spec, spec.Names().Primary(), cluster.RolePrimary, []corev1.ServicePort{
		{Name: PortPostgres, Port: cluster.PGPort, TargetPort: intstr.FromString(PortPostgres), Protocol: corev1.ProtocolTCP},
		{Name: PortPGBackRest, Port: cluster.PGBackRestPort, TargetPort: intstr.FromString(PortPGBackRest), Protocol: corev1.ProtocolTCP},
	})
}

// RepoHostService exposes the repository host's pgBackRest TLS server (8432).
func RepoHostService(spec *cluster.Spec) *corev1.Service {
	return service(spec, spec.Names().RepoHost(), cluster.RoleRepo, []corev1.ServicePort{
		{Name: PortPGBackRest, Port: cluster.PGBackRestPort, TargetPort: intstr.FromString(PortPGBackRest), Protocol: corev1.ProtocolTCP},
	})
}

func service(spec *cluster.Spec, name string, role cluster.Role, ports []corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeService,
		ObjectMeta: meta(spec, name, role),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: cluster.Selector(spec.Name, role),
			Ports:    ports,
		},
	}
}

// PrimaryDeployment runs PostgreSQL on the live data PVC (spec.DataPVC), with a `pgbackrest server`
// sidecar through which the repository host backs it up.
func PrimaryDeployment(spec *cluster.Spec) *appsv1.Deployment {
	n := spec.Names()
	pgdata := spec.PGData()

	postgres := container(spec, ContainerPostgres, []string{"/bin/sh", "-c", postgresScript(spec)})
	postgres.Env = append([]corev1.EnvVar{
		{Name: "PGDATA", Value: pgdata},
		{Name: "PGHOST", Value: cluster.SocketDir},
	}, postgres.Env...)
	postgres.Ports = []corev1.ContainerPort{{Name: PortPostgres, ContainerPort: cluster.PGPort, Protocol: corev1.ProtocolTCP}}
	// PostgreSQL logs to stderr: when it exits with an error, the last lines of its log (a recovery
	// that cannot reach its target says so there) become the container's termination message,
	// which a wait reads from the pod's status.
	postgres.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	// Readiness only. pg_isready passes during recovery (callers wait for pg_is_in_recovery() = false),
	// and there is deliberately no liveness probe: a long crash or archive recovery must never be
	// killed, and a dead postmaster ends the container anyway.
	postgres.ReadinessProbe = &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
			Command: []string{"pg_isready", "-h", cluster.SocketDir, "-p", fmt.Sprint(cluster.PGPort)},
		}},
		PeriodSeconds: 5, TimeoutSeconds: 5, FailureThreshold: 3, SuccessThreshold: 1,
	}
	// Kubernetes stops containers with SIGTERM, PostgreSQL's "smart" shutdown, which waits for every
	// client to disconnect; a fast shutdown ends sessions and still checkpoints and archives.
	postgres.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
		Command: []string{"pg_ctl", "stop", "-D", pgdata, "-m", "fast", "-w", "-t", fmt.Sprint(PrimaryTerminationGracePeriod - 10)},
	}}}
	postgres.VolumeMounts = append([]corev1.VolumeMount{
		{Name: volData, MountPath: cluster.DataMountPath},
		{Name: volSocket, MountPath: cluster.SocketDir},
	}, postgres.VolumeMounts...)

	postgres.Resources = postgresResources(spec.Resources)
	sidecar := pgbackrestServer(spec)
	sidecar.Resources = requestsSidecar
	sidecar.VolumeMounts = append([]corev1.VolumeMount{
		// The repository host's backup reads the data files and connects to PostgreSQL through it.
		{Name: volData, MountPath: cluster.DataMountPath},
		{Name: volSocket, MountPath: cluster.SocketDir},
	}, sidecar.VolumeMounts...)

	volumes := append([]corev1.Volume{
		{Name: volData, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: spec.DataPVC}}},
		emptyDir(volSocket),
	}, commonVolumes(spec, cluster.DBConfKey, primaryFiles(spec)...)...)

	pod := podSpec(spec, volumes, postgres, sidecar)
	pod.ImagePullSecrets = PullSecrets(spec)
	placeOnDataNodes(spec, &pod)
	pod.TerminationGracePeriodSeconds = ptr(int64(PrimaryTerminationGracePeriod))
	return deployment(spec, n.Primary(), cluster.RolePrimary, pod, nil)
}

// FenceWaitMessage is what a primary container logs while the previous one on its volume still
// runs; kube's waits recognise it (and the repository host's) as progress.
const FenceWaitMessage = kube.FenceWaitLine

// Fence files, on the volumes they guard (docs/architecture.md, "One PostgreSQL per data volume").
const (
	DataFence = cluster.DataMountPath + "/.postmaster.fence"
	RepoFence = cluster.RepoMountPath + "/.pgbackrest-server.fence"
)

// fenced returns shell lines that take an exclusive flock on fence (fd 9) before the caller's
// exec, waiting while another process holds it. The lock belongs to the open file, which exec and
// fork pass on, so it is held until every process of the server (postmaster and backends,
// archive-push children) has exited: a replacement pod on the same volume cannot start its server
// before the old one can no longer write, whether the old pod was deleted, evicted, force-deleted
// or is frozen. ReadWriteOnce keeps pods of other nodes off the volume.
func fenced(fence, what string) string {
	return fmt.Sprintf(`exec 9>>%[1]s
if ! flock -n 9; then
  echo "%[2]s: it still holds %[1]s; starting once it has exited" >&2
  flock 9
  echo "%[1]s is free: the previous server on this volume has exited; starting" >&2
fi
`, fence, what)
}

// postgresScript takes the data volume's fence, initializes PGDATA when it is empty (a new
// cluster; a restored PVC already holds a data directory) and then runs PostgreSQL with WAL
// archiving to each repository on its own (pgbackrest.RenderArchivePushScript).
func postgresScript(spec *cluster.Spec) string {
	return fmt.Sprintf(`set -e
%[4]sif [ ! -s %[1]s/PG_VERSION ]; then
  initdb -D %[1]s --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --data-checksums
fi
exec postgres -D %[1]s \
  -c listen_addresses='*' \
  -c unix_socket_directories=%[2]s \
  -c wal_level=replica \
  -c max_wal_senders=3 \
  -c max_wal_size=%[5]dMB \
  -c archive_mode=on \
  -c 'archive_command=%[3]s'
`, spec.PGData(), cluster.SocketDir, ArchiveCommand, fenced(DataFence, FenceWaitMessage), spec.MaxWALSizeMB())
}

// ArchiveCommand pushes each WAL segment to each repository on its own.
var ArchiveCommand = pgbackrest.ArchiveCommand(cluster.ConfigDir)

// ArchiveFiles are the cluster ConfigMap's files for per-repository archiving: the push and
// backfill scripts and one archive-<storage>.conf per storage (primary), one check-<storage>.conf
// per storage (repository host).
func ArchiveFiles(spec *cluster.Spec) (map[string]string, error) {
	p := spec.ConfigParams()
	a := pgbackrest.NewArchiveParams(spec.Storages, spec.ArchiveBacklogMB(), cluster.ConfigDir)
	files := map[string]string{
		pgbackrest.ArchivePushScript:     pgbackrest.RenderArchivePushScript(a),
		pgbackrest.ArchiveBackfillScript: pgbackrest.RenderArchiveBackfillScript(a),
	}
	for _, s := range spec.Storages {
		archive, err := pgbackrest.RenderArchiveConfig(p, s)
		if err != nil {
			return nil, err
		}
		check, err := pgbackrest.RenderCheckConfig(p, s)
		if err != nil {
			return nil, err
		}
		files[pgbackrest.ArchiveConfigFile(s)] = archive
		files[pgbackrest.CheckConfigFile(s)] = check
	}
	if spec.Has(pgbackrest.S3) {
		remote, err := pgbackrest.RenderRemoteConfig(p)
		if err != nil {
			return nil, err
		}
		files[pgbackrest.RemoteConfigFile] = remote
	}
	return files, nil
}

// primaryFiles and repoFiles are the ConfigMap keys each role mounts besides its pgbackrest.conf.
func primaryFiles(spec *cluster.Spec) []string {
	keys := []string{pgbackrest.ArchivePushScript, pgbackrest.ArchiveBackfillScript}
	for _, s := range spec.Storages {
		keys = append(keys, pgbackrest.ArchiveConfigFile(s))
	}
	return keys
}

func repoFiles(spec *cluster.Spec) []string {
	var keys []string
	for _, s := range spec.Storages {
		keys = append(keys, pgbackrest.CheckConfigFile(s))
	}
	if spec.Has(pgbackrest.S3) {
		keys = append(keys, pgbackrest.RemoteConfigFile)
	}
	return keys
}

// RepoHostDeployment runs the repository host: `pgbackrest server`, with the local repository PVC
// when storage includes local. Its pod template carries a hash of repoConf, so a config change rolls
// it. It is deliberately not placed by the spec's node selector: that says where PostgreSQL may
// run, and a restore may change it, while the repository volume stays where it was first
// provisioned (its PV's node affinity keeps the pod there) and a restore never moves this pod;
// it reaches the primary over the network.
func RepoHostDeployment(spec *cluster.Spec, repoConf string) *appsv1.Deployment {
	n := spec.Names()
	server := pgbackrestServer(spec)
	server.Resources = requestsRepoHost
	var volumes []corev1.Volume
	if spec.Has(pgbackrest.Local) {
		// Two pgBackRest servers on one repository would run backups and expires side by side
		// (pgBackRest's own locks are in each pod's lock-path): the same fence as the data volume's.
		server.Command = []string{"/bin/sh", "-c", "set -e\n" + fenced(RepoFence, kube.FenceWaitRepoLine) + "exec pgbackrest server\n"}
		server.VolumeMounts = append([]corev1.VolumeMount{{Name: volRepo, MountPath: cluster.RepoMountPath}}, server.VolumeMounts...)
		volumes = append(volumes, corev1.Volume{Name: volRepo, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n.RepoPVC()}}})
	}
	volumes = append(volumes, commonVolumes(spec, cluster.RepoConfKey, repoFiles(spec)...)...)
	withS3Access(spec, &server, &volumes)
	server.Env = append(server.Env, cipherEnv(spec)...)
	pod := podSpec(spec, volumes, server)
	pod.ImagePullSecrets = PullSecrets(spec)
	return deployment(spec, n.RepoHost(), cluster.RoleRepo, pod,
		map[string]string{cluster.AnnotationConfigHash: ConfigHash(repoConf)})
}

// JobOption adjusts a restore Job.
type JobOption func(*batchv1.Job)

// WithActiveDeadline bounds the Job's run time; the Job fails when it is exceeded.
func WithActiveDeadline(seconds int64) JobOption {
	return func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(seconds) }
}

// placeOnDataNodes gives pod the scheduling constraints of the cluster's data volume: the one home
// of "where a pod that mounts a data PVC may run", shared by the primary and the restore Job that
// fills its PVC. With a WaitForFirstConsumer StorageClass the volume is provisioned where its first
// pod runs (the restore Job's), and a zonal volume never moves, so the Job must be placed exactly
// like the primary that will mount it, or the primary may never be able to run. The spec has only
// a node selector; tolerations or affinity, once the spec has them, belong here too.
func placeOnDataNodes(spec *cluster.Spec, pod *corev1.PodSpec) {
	pod.NodeSelector = maps.Clone(spec.NodeSelector)
}

// RestoreJob runs `pgbackrest restore` (args is the whole command line, args[0] being pgbackrest)
// onto the new data PVC pvcName. spec is the cluster's spec as the restored primary will run with
// it: the Job is placed exactly like that primary (placeOnDataNodes). It never retries (a failed
// restore leaves files that a blind retry would trip over) and is not deleted when done, so its log
// can be read.
func RestoreJob(spec *cluster.Spec, id, pvcName string, args []string, opts ...JobOption) *batchv1.Job {
	c := container(spec, ContainerRestore, append([]string(nil), args...))
	c.Resources = requestsRestore
	c.Env = append([]corev1.EnvVar{{Name: "PGDATA", Value: spec.PGData()}}, c.Env...)
	c.VolumeMounts = append([]corev1.VolumeMount{{Name: volData, MountPath: cluster.DataMountPath}}, c.VolumeMounts...)
	volumes := append([]corev1.Volume{
		{Name: volData, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvcName}}},
	}, commonVolumes(spec, cluster.DBConfKey)...)
	clientTLSOnly(volumes)
	pod := podSpec(spec, volumes, c)
	pod.ImagePullSecrets = PullSecrets(spec)
	pod.RestartPolicy = corev1.RestartPolicyNever
	placeOnDataNodes(spec, &pod)

	j := &batchv1.Job{
		TypeMeta:   typeJob,
		ObjectMeta: meta(spec, spec.Names().RestoreJob(id), cluster.RoleRestore),
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: repoClientLabels(spec, cluster.RoleRestore)},
				Spec:       pod,
			},
		},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

// repoClientLabels are the labels of a Job's pods that talk to the repository host: the
// repository host's NetworkPolicy admits them (RepoHostNetworkPolicy).
func repoClientLabels(spec *cluster.Spec, role cluster.Role) map[string]string {
	l := cluster.Labels(spec.Name, role)
	l[cluster.LabelRepoClient] = "true"
	return l
}

func deployment(spec *cluster.Spec, name string, role cluster.Role, pod corev1.PodSpec, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   typeDeployment,
		ObjectMeta: meta(spec, name, role),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			// A crash recovery or a long archive replay must never be reported as a failed rollout:
			// the plugin's own waits decide what is stuck (kube.WaitForDeploymentAvailable).
			ProgressDeadlineSeconds: ptr(int32(ProgressDeadlineSeconds)),
			Selector:                &metav1.LabelSelector{MatchLabels: cluster.Selector(spec.Name, role)},
			// Recreate: the PVCs are ReadWriteOnce and two PostgreSQL on one data directory is corruption.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: cluster.Labels(spec.Name, role), Annotations: annotations},
				Spec:       pod,
			},
		},
	}
}

// pgbackrestServer is the `pgbackrest server` container of the primary (sidecar) and the repository
// host, with the common mounts and env.
func pgbackrestServer(spec *cluster.Spec) corev1.Container {
	c := container(spec, ContainerPGBackRest, []string{"pgbackrest", "server"})
	c.Ports = []corev1.ContainerPort{{Name: PortPGBackRest, ContainerPort: cluster.PGBackRestPort, Protocol: corev1.ProtocolTCP}}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortPGBackRest)}},
		PeriodSeconds: 5, TimeoutSeconds: 3, FailureThreshold: 3, SuccessThreshold: 1,
	}
	return c
}

// container is a container of the cluster's image with the restricted security context and the
// mounts every pgBackRest process needs (config, TLS, writable emptyDirs).
func container(spec *cluster.Spec, name string, command []string) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: spec.PodImage(),
		// Right for a pinned digest (the same bytes everywhere); before the pin, create's first
		// pods take what the node has, and the pin records exactly that.
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command,
		VolumeMounts: []corev1.VolumeMount{
			{Name: volConfig, MountPath: cluster.ConfigDir, ReadOnly: true},
			{Name: volTLS, MountPath: cluster.TLSDir, ReadOnly: true},
			{Name: volTmp, MountPath: "/tmp"},
			{Name: volLog, MountPath: pgbackrest.LogPath},
			{Name: volSpool, MountPath: pgbackrest.SpoolPath},
		},
		SecurityContext: containerSecurityContext(),
	}
}

// withS3Access gives a container what reaching S3 takes: the credentials and the CA bundle, whose
// volume it adds to volumes (nil: another container of the pod added it). Only the repository
// host's container gets them: the primary and restore Jobs reach S3 through it
// (pgbackrest.RenderDBConfig), so no role of PostgreSQL can read the key pair from the server's
// environment (/proc/self/environ, pg_read_server_files) or a mounted file.
func withS3Access(spec *cluster.Spec, c *corev1.Container, volumes *[]corev1.Volume) {
	c.Env = append(c.Env, s3Env(spec)...)
	if !hasS3CA(spec) {
		return
	}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volS3CA, MountPath: cluster.S3CADir, ReadOnly: true})
	if volumes == nil {
		return
	}
	*volumes = append(*volumes, corev1.Volume{Name: volS3CA, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  spec.S3Secret,
		Items:       []corev1.KeyToPath{{Key: cluster.S3SecretKeyCA, Path: cluster.S3SecretKeyCA}},
		DefaultMode: ptr(int32(0o444)), // a CA certificate is public
	}}})
}

// clientTLSOnly limits the TLS volume among volumes to what a client of the repository host needs:
// a restore Job runs no TLS server, so the server key (which would let it pose as the repository
// host or the primary) stays out of it.
func clientTLSOnly(volumes []corev1.Volume) {
	for i := range volumes {
		if volumes[i].Name != volTLS {
			continue
		}
		volumes[i].Secret.Items = []corev1.KeyToPath{
			{Key: certs.KeyCACert, Path: certs.KeyCACert},
			{Key: certs.KeyClientCert, Path: certs.KeyClientCert},
			{Key: certs.KeyClientKey, Path: certs.KeyClientKey},
		}
	}
}

// s3Env passes the S3 credentials from the S3 Secret; they are never written to a file or argv.
func s3Env(spec *cluster.Spec) []corev1.EnvVar {
	if !spec.Has(pgbackrest.S3) {
		return nil
	}
	ref := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: spec.S3Secret},
			Key:                  key,
		}}
	}
	return []corev1.EnvVar{
		{Name: cluster.EnvS3Key, ValueFrom: ref(cluster.S3SecretKeyKey)},
		{Name: cluster.EnvS3KeySecret, ValueFrom: ref(cluster.S3SecretKeyKeySecret)},
	}
}

func hasS3CA(spec *cluster.Spec) bool { return spec.Has(pgbackrest.S3) && spec.S3.HasCA }

// commonVolumes are the config (item confKey as pgbackrest.conf, and the files named by more),
// TLS and emptyDir volumes.
func commonVolumes(spec *cluster.Spec, confKey string, more ...string) []corev1.Volume {
	n := spec.Names()
	items := []corev1.KeyToPath{{Key: confKey, Path: cluster.ConfigFile}}
	for _, k := range more {
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	vols := []corev1.Volume{
		{Name: volConfig, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: n.ConfigMap()},
			Items:                items,
			DefaultMode:          ptr(int32(0o444)),
		}}},
		// The files belong to root, so the pods' uid reads them through its group: the kubelet
		// gives them the pod's fsGroup and adds group read to any mode when there is one (0400
		// would become 0440 anyway), and without an fsGroup a uid that runs with gid 0 (OpenShift's
		// arbitrary uids) reads them as root's group. pgBackRest accepts a key owned by root that
		// its group may read, and refuses any other group or other permission.
		{Name: volTLS, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  n.TLSSecret(),
			DefaultMode: ptr(int32(0o440)),
		}}},
	}
	return append(vols, emptyDir(volTmp), emptyDir(volLog), emptyDir(volSpool))
}

// podSpec meets the "restricted" Pod Security Standard, as the spec's user (podSecurityContext,
// withPasswd). Service links are off: a Service whose
// name starts with "pgbackrest" would otherwise put PGBACKREST_* variables in the environment,
// which pgBackRest reads as options. The pods never call the Kubernetes API, so they get no token.
func podSpec(spec *cluster.Spec, volumes []corev1.Volume, containers ...corev1.Container) corev1.PodSpec {
	for i := range containers {
		withPasswd(spec, &containers[i])
	}
	return corev1.PodSpec{
		Containers:                   containers,
		Volumes:                      volumes,
		EnableServiceLinks:           ptr(false),
		AutomountServiceAccountToken: ptr(false),
		SecurityContext:              podSecurityContext(spec),
	}
}

func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr(true),
	}
}

func ptr[T any](v T) *T { return &v }
