//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRBAC proves manifests/rbac/role.yaml is enough: every command runs as a ServiceAccount bound
// to exactly that Role (the local cluster enforces RBAC), so a permission the plugin needs and the
// Role lacks fails this test. Then a Role without pods/exec: check must say what was refused and
// point to docs/rbac.md.
func TestRBAC(t *testing.T) {
	ns := newNamespace(t, "rbac")
	kc := ns.roleUser()
	as := func(timeout time.Duration, args ...string) result {
		t.Helper()
		return ns.mustPlugin(timeout, append([]string{"--kubeconfig", kc}, args...)...)
	}

	// The admin's kubeconfig is not used below: the SA can do nothing outside its namespace.
	if r := run(t, "", time.Minute, "kubectl", "--kubeconfig", kc, "get", "pods", "-n", "kube-system"); r.Code == 0 {
		t.Fatalf("the ServiceAccount's kubeconfig reads kube-system: the test would prove nothing")
	}

	// s3 configure writes a Secret with Server-Side Apply; s3 show reads it back.
	r := runEnv(t, []string{"AWS_ACCESS_KEY_ID=" + env(t, "PGBR_S3_KEY"), "AWS_SECRET_ACCESS_KEY=" + env(t, "PGBR_S3_KEY_SECRET")},
		"", time.Minute, "kubectl", "pgbackrest", "-n", ns.Name, "--kubeconfig", kc, "s3", "configure",
		"--bucket", env(t, "PGBR_S3_BUCKET"), "--endpoint", env(t, "PGBR_S3_ENDPOINT"), "--region", env(t, "PGBR_S3_REGION"),
		"--uri-style", "path", "--ca-bundle", env(t, "PGBR_S3_CA"), "--key-from-env")
	if r.Code != 0 {
		t.Fatalf("s3 configure as the ServiceAccount: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	as(time.Minute, "s3", "show")

	c := clusterName(ns)
	steps := []struct {
		timeout time.Duration
		args    []string
	}{
		// --encrypt: the passphrase Secret is created with the Role too.
		{10 * time.Minute, []string{"create", c, "--storage=local", "--encrypt", "--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "8m"}},
		{10 * time.Minute, []string{"backup", c, "--type=full", "--timeout", "8m"}},
		{2 * time.Minute, []string{"info", c}},
		{2 * time.Minute, []string{"check", c}},
		{10 * time.Minute, []string{"rotate-certs", c, "--timeout", "8m"}},
		{time.Minute, []string{"list"}},
		{time.Minute, []string{"retired", c}},
		// The schedules' Role is granted by a user of role.yaml (it holds every permission in it).
		{time.Minute, []string{"schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "0 1 * * 0"}},
		{time.Minute, []string{"schedule", "list", c}},
		{time.Minute, []string{"schedule", "suspend", c, "--type", "full", "--storage", "local"}},
		{time.Minute, []string{"schedule", "delete", c, "--type", "full", "--storage", "local"}},
	}
	for _, s := range steps {
		start := time.Now()
		as(s.timeout, s.args...)
		t.Logf("%s as the ServiceAccount took %.1fs", s.args[0], time.Since(start).Seconds())
	}

	t.Run("without-pods-exec", func(t *testing.T) {
		// Everything check needs except pods/exec.
		ns.apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: no-exec
rules:
- apiGroups: [""]
  resources: [configmaps, pods]
  verbs: [get, list, watch]
`)
		ns.kubectl(time.Minute, "create", "serviceaccount", "observer")
		ns.kubectl(time.Minute, "create", "rolebinding", "observer", "--role=no-exec", "--serviceaccount="+ns.Name+":observer")
		okc := saKubeconfig(t, ns, "observer")
		r := ns.plugin(2*time.Minute, "--kubeconfig", okc, "check", c)
		if r.Code != 1 {
			t.Errorf("check without pods/exec: exit %d, want 1\nstderr:\n%s", r.Code, r.Stderr)
		}
		for _, want := range []string{"create pods/exec", "namespace " + ns.Name, "docs/rbac.md"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("check without pods/exec: stderr lacks %q:\n%s", want, r.Stderr)
			}
		}
	})

	start := time.Now()
	as(5*time.Minute, "delete", c, "--delete-data", "--yes")
	t.Logf("delete as the ServiceAccount took %.1fs", time.Since(start).Seconds())
	// delete does not wait for the volumes to go (their pods stop first); give them two minutes.
	var left string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		if left = strings.TrimSpace(ns.kubectl(time.Minute, "get", "deployments,pvc,services", "-o", "name")); left == "" {
			break
		}
	}
	if left != "" {
		t.Errorf("delete --delete-data left:\n%s", left)
	}
}

// saKubeconfig writes a kubeconfig for ServiceAccount sa of ns: the current cluster's server and
// CA, and a token valid for an hour.
func saKubeconfig(t *testing.T, ns *Namespace, sa string) string {
	t.Helper()
	view := func(path string) string {
		return strings.TrimSpace(must(t, time.Minute, "kubectl", "config", "view", "--raw", "--minify", "-o", "jsonpath={"+path+"}"))
	}
	server := view(".clusters[0].cluster.server")
	ca := view(".clusters[0].cluster.certificate-authority-data")
	if ca == "" {
		file := view(".clusters[0].cluster.certificate-authority")
		if file == "" {
			t.Fatal("the current kubeconfig has no CA for its cluster")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ca = base64.StdEncoding.EncodeToString(b)
	}
	token := strings.TrimSpace(ns.kubectl(time.Minute, "create", "token", sa, "--duration=1h"))
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: %s
  context:
    cluster: local
    user: %s
    namespace: %s
current-context: %s
`, server, ca, sa, token, sa, sa, ns.Name, sa)
	path := filepath.Join(t.TempDir(), sa+".kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// roleUser binds the Role users are told to apply (manifests/rbac/role.yaml) to a ServiceAccount
// "dba" of the namespace and returns a kubeconfig that acts as it.
func (ns *Namespace) roleUser() string {
	ns.t.Helper()
	role, err := os.ReadFile(filepath.Join("..", "..", "manifests", "rbac", "role.yaml"))
	if err != nil {
		ns.t.Fatal(err)
	}
	ns.apply(string(role))
	ns.kubectl(time.Minute, "create", "serviceaccount", "dba")
	ns.kubectl(time.Minute, "create", "rolebinding", "dba", "--role=kubectl-pgbackrest", "--serviceaccount="+ns.Name+":dba")
	return saKubeconfig(ns.t, ns, "dba")
}
