package manifest

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Fixed stand-ins for real key material, so golden files are stable and leaks are easy to spot.
var testCerts = map[string][]byte{
	"ca.crt":     []byte("-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n"),
	"server.crt": []byte("-----BEGIN CERTIFICATE-----\nTEST-SERVER\n-----END CERTIFICATE-----\n"),
	"server.key": []byte("-----BEGIN PRIVATE KEY-----\nTEST-SERVER-KEY\n-----END PRIVATE KEY-----\n"),
	"client.crt": []byte("-----BEGIN CERTIFICATE-----\nTEST-CLIENT\n-----END CERTIFICATE-----\n"),
	"client.key": []byte("-----BEGIN PRIVATE KEY-----\nTEST-CLIENT-KEY\n-----END PRIVATE KEY-----\n"),
}

func testSpec(t *testing.T, storage string) *cluster.Spec {
	t.Helper()
	st, err := pgbackrest.ParseStorageList(storage)
	if err != nil {
		t.Fatal(err)
	}
	s := cluster.New("pg1", "prod")
	s.Storages = st
	s.Image = "kubectl-pgbackrest/postgres:17"
	s.PGDataSize = "5Gi"
	s.RepoSize = "10Gi"
	s.CreatedBy = "v0.0.0-test"
	s.NodeSelector = map[string]string{"disk": "ssd"}
	if s.Has(pgbackrest.S3) {
		s.S3 = cluster.S3{Bucket: "backups", Endpoint: "s3.example.svc", Region: "us-east-1", URIStyle: "path", VerifyTLS: true, HasCA: true}
	}
	if storage == "local" {
		s.StorageClass = "fast"
	}
	if storage == "s3" {
		s.PostgresFrom = []string{"app=web", "10.0.0.0/8"}
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func configs(t *testing.T, s *cluster.Spec) (string, string) {
	t.Helper()
	p := s.ConfigParams()
	db, err := pgbackrest.RenderDBConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := pgbackrest.RenderRepoConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return db, repo
}

func objects(t *testing.T, s *cluster.Spec) []runtime.Object {
	t.Helper()
	db, repo := configs(t, s)
	objs, err := Objects(s, db, repo, testCerts)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func allObjects(t *testing.T, s *cluster.Spec) []runtime.Object {
	objs := objects(t, s)
	return append(objs, RestoreJob(s, "20250102030405", "pg1-20250102030405",
		[]string{"pgbackrest", "--stanza=db", "--repo=1", "restore"}, WithActiveDeadline(3600)))
}

func toYAML(t *testing.T, objs []runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		t.Run(storage, func(t *testing.T) {
			s := testSpec(t, storage)
			got := toYAML(t, allObjects(t, s))
			if again := toYAML(t, allObjects(t, s)); !bytes.Equal(got, again) {
				t.Fatal("builders are not deterministic")
			}
			path := filepath.Join("testdata", strings.ReplaceAll(storage, ",", "-")+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/manifest -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs; if the change is intended, run go test ./pkg/manifest -update\n%s", path, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, wl, gl)
		}
	}
	return ""
}

// podSpecs returns every pod spec among objs, named by their object.
func podSpecs(objs []runtime.Object) map[string]corev1.PodSpec {
	out := map[string]corev1.PodSpec{}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			out["Deployment/"+o.Name] = o.Spec.Template.Spec
		case *batchv1.Job:
			out["Job/"+o.Name] = o.Spec.Template.Spec
		}
	}
	return out
}

// TestRestrictedPSS checks the essentials of the "restricted" Pod Security Standard on every pod.
func TestRestrictedPSS(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		pods := podSpecs(allObjects(t, testSpec(t, storage)))
		if len(pods) != 3 {
			t.Fatalf("%s: %d pod specs, want 3", storage, len(pods))
		}
		for name, p := range pods {
			t.Run(storage+"/"+name, func(t *testing.T) {
				sc := p.SecurityContext
				if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Error("runAsNonRoot is not true")
				}
				if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.FSGroup == nil || *sc.FSGroup != 999 {
					t.Error("runAsUser/fsGroup not 999")
				}
				if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Error("seccompProfile is not RuntimeDefault")
				}
				if p.HostNetwork || p.HostPID || p.HostIPC {
					t.Error("uses host namespaces")
				}
				for _, v := range p.Volumes {
					if v.HostPath != nil {
						t.Errorf("volume %s is a hostPath", v.Name)
					}
				}
				for _, c := range append(slices.Clone(p.InitContainers), p.Containers...) {
					csc := c.SecurityContext
					if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
						t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
					}
					if csc == nil || csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
						t.Errorf("container %s: capabilities do not drop ALL", c.Name)
					}
					if csc != nil && csc.Privileged != nil && *csc.Privileged {
						t.Errorf("container %s is privileged", c.Name)
					}
					if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
						t.Errorf("container %s: root filesystem is writable", c.Name)
					}
					if c.ImagePullPolicy != corev1.PullIfNotPresent {
						t.Errorf("container %s: imagePullPolicy %q", c.Name, c.ImagePullPolicy)
					}
					mounted := map[string]bool{}
					for _, m := range c.VolumeMounts {
						mounted[m.MountPath] = true
					}
					for _, path := range []string{"/tmp", "/var/log/pgbackrest", "/var/spool/pgbackrest", "/etc/pgbackrest", "/etc/pgbackrest/tls"} {
						if !mounted[path] {
							t.Errorf("container %s: nothing mounted at %s", c.Name, path)
						}
					}
				}
			})
		}
	}
}

// TestNoSecretLiterals checks that no credential or key reaches a pod as a literal: S3 credentials
// only through secretKeyRef, TLS material only through the Secret volume.
func TestNoSecretLiterals(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		s := testSpec(t, storage)
		objs := allObjects(t, s)
		for name, p := range podSpecs(objs) {
			for _, c := range p.Containers {
				var s3Vars []string
				for _, e := range c.Env {
					for _, v := range testCerts {
						if strings.Contains(e.Value, strings.TrimSpace(string(v))) {
							t.Errorf("%s/%s: env %s holds TLS material", name, c.Name, e.Name)
						}
					}
					if strings.HasPrefix(e.Name, "PGBACKREST_") {
						s3Vars = append(s3Vars, e.Name)
						if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != s.S3Secret {
							t.Errorf("%s/%s: env %s is not a secretKeyRef to %s", name, c.Name, e.Name, s.S3Secret)
						}
					}
				}
				// Only the repository host has the S3 key pair: the primary and restore Jobs reach S3
				// through it.
				want := []string(nil)
				if s.Has(pgbackrest.S3) && name == "Deployment/"+s.Names().RepoHost() {
					want = []string{"PGBACKREST_REPO2_S3_KEY", "PGBACKREST_REPO2_S3_KEY_SECRET"}
				}
				if !slices.Equal(s3Vars, want) {
					t.Errorf("%s/%s: pgBackRest env %v, want %v", name, c.Name, s3Vars, want)
				}
				for _, arg := range append(slices.Clone(c.Command), c.Args...) {
					if strings.Contains(arg, "KEY") || strings.Contains(arg, "key-secret") {
						t.Errorf("%s/%s: argument %q looks like a credential", name, c.Name, arg)
					}
				}
			}
		}
		// The ConfigMap holds no TLS material either.
		cm := objs[0].(*corev1.ConfigMap)
		for k, v := range cm.Data {
			for _, secret := range testCerts {
				if strings.Contains(v, strings.TrimSpace(string(secret))) {
					t.Errorf("%s: ConfigMap key %s holds TLS material", storage, k)
				}
			}
		}
	}
}

func TestObjectsOrderAndMeta(t *testing.T) {
	for _, tt := range []struct {
		storage string
		want    []string
	}{
		{"local", []string{"ConfigMap/pg1-pgbackrest", "Secret/pg1-pgbackrest-tls", "PersistentVolumeClaim/pg1",
			"PersistentVolumeClaim/pg1-pgbr-repo", "Service/pg1", "Service/pg1-backrest-shared-repo",
			"NetworkPolicy/pg1-backrest-shared-repo", "NetworkPolicy/pg1",
			"Deployment/pg1-backrest-shared-repo", "Deployment/pg1"}},
		{"s3", []string{"ConfigMap/pg1-pgbackrest", "Secret/pg1-pgbackrest-tls", "PersistentVolumeClaim/pg1",
			"Service/pg1", "Service/pg1-backrest-shared-repo", "NetworkPolicy/pg1-backrest-shared-repo", "NetworkPolicy/pg1",
			"Deployment/pg1-backrest-shared-repo", "Deployment/pg1"}},
	} {
		s := testSpec(t, tt.storage)
		var got []string
		for _, o := range objects(t, s) {
			m := o.(metav1.Object)
			kind := o.GetObjectKind().GroupVersionKind()
			if kind.Kind == "" || kind.Version == "" {
				t.Errorf("%s: no TypeMeta", m.GetName())
			}
			if m.GetNamespace() != "prod" {
				t.Errorf("%s/%s: namespace %q", kind.Kind, m.GetName(), m.GetNamespace())
			}
			l := m.GetLabels()
			if l[cluster.LabelManagedBy] != "kubectl-pgbackrest" || l[cluster.LabelInstance] != "pg1" ||
				l[cluster.LabelName] != "pgbackrest" || l[cluster.LabelRole] == "" {
				t.Errorf("%s/%s: labels %v", kind.Kind, m.GetName(), l)
			}
			got = append(got, kind.Kind+"/"+m.GetName())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: objects\n got %v\nwant %v", tt.storage, got, tt.want)
		}
	}
}

func TestPrimaryDeployment(t *testing.T) {
	s := testSpec(t, "local,s3")
	s.DataPVC = "pg1-20250102030405"
	d := PrimaryDeployment(s)
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	p := d.Spec.Template.Spec
	if p.Volumes[0].PersistentVolumeClaim.ClaimName != "pg1-20250102030405" {
		t.Errorf("data volume %+v, want the live PVC", p.Volumes[0])
	}
	if p.NodeSelector["disk"] != "ssd" {
		t.Errorf("nodeSelector %v", p.NodeSelector)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the template", k, v)
		}
	}
	pg, sidecar := p.Containers[0], p.Containers[1]
	script := pg.Command[2]
	for _, want := range []string{
		"if [ ! -s /pgdata/pg17/PG_VERSION ]",
		"initdb -D /pgdata/pg17 --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --data-checksums",
		"exec postgres -D /pgdata/pg17",
		"-c 'archive_command=sh /etc/pgbackrest/archive-push.sh %p %f'",
		"exec 9>>/pgdata/.postmaster.fence\nif ! flock -n 9; then", "-c max_wal_size=640MB",
		"-c archive_mode=on", "-c unix_socket_directories=/var/run/postgresql", "-c wal_level=replica",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("postgres script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "archive_timeout") {
		t.Error("archive_timeout is set")
	}
	if pg.LivenessProbe != nil || sidecar.LivenessProbe != nil {
		t.Error("a liveness probe could kill a long recovery")
	}
	if sidecar.Command[0] != "pgbackrest" || sidecar.Command[1] != "server" || sidecar.Ports[0].ContainerPort != 8432 {
		t.Errorf("sidecar %v %v", sidecar.Command, sidecar.Ports)
	}
	mounts := func(c corev1.Container) map[string]string {
		m := map[string]string{}
		for _, vm := range c.VolumeMounts {
			m[vm.MountPath] = vm.Name
		}
		return m
	}
	for _, c := range []corev1.Container{pg, sidecar} {
		m := mounts(c)
		for path, vol := range map[string]string{"/pgdata": "pgdata", "/var/run/postgresql": "socket",
			"/etc/pgbackrest/tls": "tls", "/etc/pgbackrest": "config"} {
			if m[path] != vol {
				t.Errorf("container %s: %s mounts %q, want %q", c.Name, path, m[path], vol)
			}
		}
		if vol, ok := m["/etc/pgbackrest/s3"]; ok {
			t.Errorf("container %s mounts %s at /etc/pgbackrest/s3: the primary reaches S3 through the repository host", c.Name, vol)
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range p.Volumes {
		vols[v.Name] = v
	}
	if cm := vols["config"].ConfigMap; cm == nil || cm.Name != "pg1-pgbackrest" || cm.Items[0].Key != "db.conf" || cm.Items[0].Path != "pgbackrest.conf" {
		t.Errorf("config volume %+v", vols["config"])
	}
	if sec := vols["tls"].Secret; sec == nil || sec.SecretName != "pg1-pgbackrest-tls" || *sec.DefaultMode != 0o440 {
		t.Errorf("tls volume %+v", vols["tls"])
	}
	if sec := vols["tls"].Secret; sec != nil && sec.Items != nil {
		t.Errorf("tls volume items %v: the primary's sidecar serves TLS and needs the whole Secret", sec.Items)
	}
	for _, v := range p.Volumes {
		if v.Secret != nil && v.Secret.SecretName == s.S3Secret {
			t.Errorf("volume %s mounts the S3 Secret in the primary", v.Name)
		}
	}
}

// The repository host is the one pod that reaches S3 itself: it alone has the S3 Secret's CA
// bundle (and its credentials, TestNoSecretLiterals).
func TestRepoHostS3Access(t *testing.T) {
	for _, storage := range []string{"s3", "local,s3"} {
		s := testSpec(t, storage)
		_, repo := configs(t, s)
		p := RepoHostDeployment(s, repo).Spec.Template.Spec
		var mounted string
		for _, vm := range p.Containers[0].VolumeMounts {
			if vm.MountPath == "/etc/pgbackrest/s3" {
				mounted = vm.Name
			}
		}
		var ca *corev1.SecretVolumeSource
		for _, v := range p.Volumes {
			if v.Name == "s3-ca" {
				ca = v.Secret
			}
		}
		if mounted != "s3-ca" || ca == nil || ca.SecretName != "pgbackrest-s3" || len(ca.Items) != 1 || ca.Items[0].Key != "aws-s3-ca.crt" || *ca.DefaultMode != 0o444 {
			t.Errorf("%s: s3-ca mounted as %q, volume %+v", storage, mounted, ca)
		}

		s.S3.HasCA = false
		for _, v := range RepoHostDeployment(s, repo).Spec.Template.Spec.Volumes {
			if v.Name == "s3-ca" {
				t.Errorf("%s: s3-ca volume without a CA", storage)
			}
		}
	}
}

// A restore Job is a client of the repository host only: it mounts the CA and the client
// certificate and key, never the server key.
func TestRestoreJobMountsClientCertificateOnly(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		s := testSpec(t, storage)
		j := RestoreJob(s, "20250102030405", "pg1-20250102030405", []string{"pgbackrest", "restore"})
		var items []string
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Secret == nil {
				continue
			}
			if v.Secret.SecretName != s.Names().TLSSecret() {
				t.Errorf("%s: the Job mounts Secret %s", storage, v.Secret.SecretName)
				continue
			}
			for _, it := range v.Secret.Items {
				items = append(items, it.Key+"="+it.Path)
			}
		}
		if want := []string{"ca.crt=ca.crt", "client.crt=client.crt", "client.key=client.key"}; !slices.Equal(items, want) {
			t.Errorf("%s: TLS items %v, want %v", storage, items, want)
		}
	}
}

func TestRepoHostDeployment(t *testing.T) {
	s := testSpec(t, "local")
	_, repo := configs(t, s)
	d := RepoHostDeployment(s, repo)
	p := d.Spec.Template.Spec
	if len(p.Containers) != 1 || p.Containers[0].Name != "pgbackrest" {
		t.Fatalf("containers %v", p.Containers)
	}
	if p.Volumes[0].PersistentVolumeClaim == nil || p.Volumes[0].PersistentVolumeClaim.ClaimName != "pg1-pgbr-repo" ||
		p.Containers[0].VolumeMounts[0].MountPath != "/pgbackrest" {
		t.Errorf("repo PVC not mounted at /pgbackrest: %+v", p.Volumes[0])
	}
	if p.NodeSelector != nil {
		t.Errorf("the repository host follows the primary's node selector: %v", p.NodeSelector)
	}
	h := d.Spec.Template.Annotations[cluster.AnnotationConfigHash]
	if h != ConfigHash(repo) || h == ConfigHash(repo+"x") {
		t.Errorf("config hash %q", h)
	}
	if RepoHostDeployment(s, repo+"# changed\n").Spec.Template.Annotations[cluster.AnnotationConfigHash] == h {
		t.Error("a config change does not change the pod template")
	}
	s3 := testSpec(t, "s3")
	for _, v := range RepoHostDeployment(s3, repo).Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("s3-only repository host mounts PVC %s", v.PersistentVolumeClaim.ClaimName)
		}
	}
}

func TestPVCs(t *testing.T) {
	local := testSpec(t, "local")
	p := DataPVC(local, "pg1-x")
	if p.Name != "pg1-x" || p.Spec.StorageClassName == nil || *p.Spec.StorageClassName != "fast" ||
		p.Spec.Resources.Requests.Storage().String() != "5Gi" || p.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("data PVC %+v", p)
	}
	if r := RepoPVC(local); r.Name != "pg1-pgbr-repo" || r.Spec.Resources.Requests.Storage().String() != "10Gi" || r.Labels[cluster.LabelRole] != "repo" {
		t.Errorf("repo PVC %+v", r)
	}
	if p := DataPVC(testSpec(t, "s3"), "pg1"); p.Spec.StorageClassName != nil {
		t.Errorf("storageClassName %q set without a StorageClass", *p.Spec.StorageClassName)
	}
}

func TestServices(t *testing.T) {
	s := testSpec(t, "local")
	pri, repo := PrimaryService(s), RepoHostService(s)
	if len(pri.Spec.Ports) != 2 || pri.Spec.Ports[0].Port != 5432 || pri.Spec.Ports[1].Port != 8432 || pri.Spec.Ports[1].Name != "pgbackrest" {
		t.Errorf("primary ports %+v", pri.Spec.Ports)
	}
	if len(repo.Spec.Ports) != 1 || repo.Spec.Ports[0].Port != 8432 {
		t.Errorf("repo ports %+v", repo.Spec.Ports)
	}
	if pri.Spec.Selector[cluster.LabelRole] != "primary" || repo.Spec.Selector[cluster.LabelRole] != "repo" ||
		pri.Spec.Selector[cluster.LabelInstance] != "pg1" {
		t.Errorf("selectors %v %v", pri.Spec.Selector, repo.Spec.Selector)
	}
	pd, rd := PrimaryDeployment(s), RepoHostDeployment(s, "")
	for k, v := range pri.Spec.Selector {
		if pd.Spec.Template.Labels[k] != v {
			t.Error("the primary Service does not select the primary pod")
		}
	}
	for k, v := range repo.Spec.Selector {
		if rd.Spec.Template.Labels[k] != v {
			t.Error("the repository Service does not select the repository pod")
		}
	}
}

func TestRestoreJob(t *testing.T) {
	s := testSpec(t, "s3")
	args := []string{"pgbackrest", "--stanza=db", "restore"}
	j := RestoreJob(s, "20250102030405", "pg1-20250102030405", args)
	args[0] = "mutated"
	if j.Name != "pg1-restore-20250102030405" || *j.Spec.BackoffLimit != 0 || j.Spec.TTLSecondsAfterFinished != nil ||
		j.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("job %+v", j.Spec)
	}
	p := j.Spec.Template.Spec
	if p.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", p.RestartPolicy)
	}
	c := p.Containers[0]
	if c.Name != "restore" || !slices.Equal(c.Command, []string{"pgbackrest", "--stanza=db", "restore"}) {
		t.Errorf("container %s %v", c.Name, c.Command)
	}
	if p.Volumes[0].PersistentVolumeClaim.ClaimName != "pg1-20250102030405" || c.VolumeMounts[0].MountPath != "/pgdata" {
		t.Error("new PVC not mounted at /pgdata")
	}
	if j.Labels[cluster.LabelRole] != "restore" || j.Spec.Template.Labels[cluster.LabelRole] != "restore" {
		t.Error("restore role label missing")
	}
	j = RestoreJob(s, "1", "p", args, WithActiveDeadline(60))
	if *j.Spec.ActiveDeadlineSeconds != 60 {
		t.Errorf("options not applied: %+v", j.Spec)
	}
}

// scheduling is every field of a pod spec that decides where it may run.
type scheduling struct {
	NodeSelector              map[string]string
	NodeName                  string
	Affinity                  *corev1.Affinity
	Tolerations               []corev1.Toleration
	TopologySpreadConstraints []corev1.TopologySpreadConstraint
	SchedulerName             string
	PriorityClassName         string
}

func schedulingOf(p corev1.PodSpec) scheduling {
	return scheduling{p.NodeSelector, p.NodeName, p.Affinity, p.Tolerations, p.TopologySpreadConstraints, p.SchedulerName, p.PriorityClassName}
}

// TestRestoreJobPlacedLikePrimary: with a WaitForFirstConsumer class the restore Job decides where
// the new data volume is provisioned, so it must be placed exactly like the primary that mounts it.
func TestRestoreJobPlacedLikePrimary(t *testing.T) {
	for _, sel := range []map[string]string{nil, {"disk": "ssd"}, {"topology.kubernetes.io/zone": "eu-1a", "disk": "ssd"}} {
		t.Run(fmt.Sprint(sel), func(t *testing.T) {
			s := testSpec(t, "local")
			s.NodeSelector = sel
			job := schedulingOf(RestoreJob(s, "1", "p", []string{"pgbackrest"}).Spec.Template.Spec)
			primary := schedulingOf(PrimaryDeployment(s).Spec.Template.Spec)
			if !reflect.DeepEqual(job, primary) {
				t.Errorf("restore Job placed %+v, primary %+v", job, primary)
			}
			if !maps.Equal(job.NodeSelector, sel) {
				t.Errorf("restore Job nodeSelector %v, want the spec's %v", job.NodeSelector, sel)
			}
			if sel != nil {
				s.NodeSelector["mutated"] = "x"
				if _, ok := job.NodeSelector["mutated"]; ok {
					t.Error("the Job shares the spec's node selector map")
				}
			}
		})
	}
}

func TestConfigMapAndSecret(t *testing.T) {
	s := testSpec(t, "local")
	cm, err := ConfigMap(s, "DB", "REPO")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["db.conf"] != "DB" || cm.Data["repo.conf"] != "REPO" || cm.Labels[cluster.LabelCluster] != "true" || cm.Labels[cluster.LabelRole] != "config" {
		t.Errorf("ConfigMap %+v", cm)
	}
	back, err := cluster.Parse(cm.Data["spec.json"], cm.Namespace)
	if err != nil || back.Name != "pg1" || back.DataPVC != "pg1" {
		t.Errorf("spec.json does not round-trip: %+v, %v", back, err)
	}
	sec := TLSSecret(s, testCerts)
	if sec.Name != "pg1-pgbackrest-tls" || len(sec.Data) != 5 || sec.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret %+v", sec)
	}
	sec.Data["ca.crt"] = nil
	if testCerts["ca.crt"] == nil {
		t.Error("TLSSecret shares the caller's map")
	}
}

// An encrypted cluster's primary and restore Job reach S3 through the repository host like any
// other: neither the key pair, the S3 CA nor the passphrase is in them.
func TestEncryptedNoS3KeyOrPassphraseOutsideRepoHost(t *testing.T) {
	s := testSpec(t, "local,s3")
	s.Cipher = pgbackrest.CipherAES256CBC
	for name, p := range podSpecs(allObjects(t, s)) {
		repoHost := name == "Deployment/pg1-backrest-shared-repo"
		for _, c := range p.Containers {
			var keys, pass int
			for _, e := range c.Env {
				switch {
				case e.Name == "PGBACKREST_REPO2_S3_KEY" || e.Name == "PGBACKREST_REPO2_S3_KEY_SECRET":
					keys++
				case strings.HasSuffix(e.Name, "_CIPHER_PASS"):
					pass++
				}
			}
			if want := map[bool]int{true: 2, false: 0}[repoHost]; keys != want || pass != want {
				t.Errorf("%s/%s: %d S3 key and %d passphrase variables, want %d of each", name, c.Name, keys, pass, want)
			}
		}
		for _, v := range p.Volumes {
			if v.Name == "s3-ca" && !repoHost {
				t.Errorf("%s mounts the S3 CA", name)
			}
		}
	}
	db, _ := configs(t, s)
	if strings.Contains(db, "repo2-type=s3") || !strings.Contains(db, "\nrepo2-host=") || strings.Contains(db, "cipher") {
		t.Errorf("encrypted db.conf does not reach S3 through the repository host:\n%s", db)
	}
}
