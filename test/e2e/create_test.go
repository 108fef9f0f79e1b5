//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// listResult is what `kubectl pgbackrest list -o json` prints.
type listResult struct {
	Clusters []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Storage   []string `json:"storage"`
		Primary   string   `json:"primary"`
		Created   bool     `json:"created"`
	} `json:"clusters"`
}

// TestCreate creates a cluster of each storage type and proves that WAL reaches every configured
// repository, that a re-run changes nothing, that the storage type is fixed, that list shows the
// cluster and that delete keeps the volumes; then bad input, and a repository that holds another
// database's stanza.
func TestCreate(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		t.Run(strings.ReplaceAll(storage, ",", "-"), func(t *testing.T) { testCreate(t, storage) })
	}
	t.Run("bad-input", testCreateBadInput)
	t.Run("system-id-mismatch", testCreateSystemIDMismatch)
}

// clusterName is unique per namespace: the S3 repository path (/backrestrepo/<cluster>-...) does
// not include the namespace, and the bucket outlives every scenario.
func clusterName(ns *Namespace) string {
	return "pg" + ns.Name[strings.LastIndex(ns.Name, "-")+1:]
}

// s3Configure writes the namespace's S3 Secret with `s3 configure`, the credentials from the
// environment of the plugin's process only.
func s3Configure(t *testing.T, ns *Namespace) {
	t.Helper()
	s3ConfigureEndpoint(t, ns, env(t, "PGBR_S3_ENDPOINT"))
}

// s3ConfigureEndpoint is s3Configure with another S3 endpoint (an S3 server of the test's own).
func s3ConfigureEndpoint(t *testing.T, ns *Namespace, endpoint string) {
	t.Helper()
	r := runEnv(t, []string{"AWS_ACCESS_KEY_ID=" + env(t, "PGBR_S3_KEY"), "AWS_SECRET_ACCESS_KEY=" + env(t, "PGBR_S3_KEY_SECRET")},
		"", time.Minute, "kubectl", "pgbackrest", "-n", ns.Name, "s3", "configure",
		"--bucket", env(t, "PGBR_S3_BUCKET"), "--endpoint", endpoint, "--region", env(t, "PGBR_S3_REGION"),
		"--uri-style", "path", "--ca-bundle", env(t, "PGBR_S3_CA"), "--key-from-env")
	if r.Code != 0 {
		t.Fatalf("s3 configure: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// s3RepoDir is where the S3 server keeps cluster c's repository (versitygw stores objects as files).
func s3RepoDir(t *testing.T, c string) string {
	return filepath.Join(env(t, "PGBR_S3_DATA_DIR"), env(t, "PGBR_S3_BUCKET"), "backrestrepo", c+"-backrest-shared-repo")
}

// removeS3Repo deletes cluster c's S3 repository after a passing scenario, so the bucket does not
// grow run after run (and a later cluster of that name starts clean).
func removeS3Repo(t *testing.T, c string) {
	dir := s3RepoDir(t, c)
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
}

func createArgs(t *testing.T, c, storage string) []string {
	return append(append([]string{"create", c, "--storage=" + storage}, imageFlags(t)...),
		"--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "8m")
}

func testCreate(t *testing.T, storage string) {
	ns := newNamespace(t, "create-"+strings.ReplaceAll(storage, ",", ""))
	c := clusterName(ns)
	storages := strings.Split(storage, ",")
	if slices.Contains(storages, "s3") {
		s3Configure(t, ns)
		removeS3Repo(t, c)
	}

	start := time.Now()
	r := ns.mustPlugin(10*time.Minute, createArgs(t, c, storage)...)
	t.Logf("create --storage=%s took %.1fs\nstdout: %sstderr:\n%s", storage, time.Since(start).Seconds(), r.Stdout, r.Stderr)
	if !strings.Contains(r.Stdout, "cluster "+c+" created") {
		t.Errorf("create stdout: %s", r.Stdout)
	}
	for _, step := range []string{"stanza-create", "check", "mark created"} {
		if !strings.Contains(r.Stderr, "✓ "+step) {
			t.Errorf("create stderr lacks step %q", step)
		}
	}

	repo := "deploy/" + c + "-backrest-shared-repo"
	ns.kubectl(3*time.Minute, "exec", repo, "-c", "pgbackrest", "--", "pgbackrest", "--stanza=db", "check")

	// A WAL segment switched now must reach every repository.
	ns.sql(c, "create table e2e_switch (i int); insert into e2e_switch values (1)")
	seg := ns.sql(c, "select pg_walfile_name(pg_switch_wal())")
	if len(seg) != 24 {
		t.Fatalf("pg_walfile_name = %q", seg)
	}
	t.Logf("switched WAL segment %s", seg)
	for _, st := range storages {
		waitFor(t, 2*time.Minute, "segment "+seg+" in the "+st+" repository", func() bool {
			switch st {
			case "local":
				r := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "exec", repo, "-c", "pgbackrest", "--",
					"ls", "/pgbackrest/repo1/archive/db/"+imageMajor()+"-1/"+seg[:16]+"/")
				return r.Code == 0 && strings.Contains(r.Stdout, seg+"-")
			default:
				m, _ := filepath.Glob(filepath.Join(s3RepoDir(t, c), "archive", "db", imageMajor()+"-1", seg[:16], seg+"-*"))
				return len(m) > 0
			}
		})
	}

	// The same create again: nothing changes.
	r = ns.mustPlugin(5*time.Minute, createArgs(t, c, storage)...)
	if !strings.Contains(r.Stdout, "nothing changed") || strings.Contains(r.Stderr, "…") {
		t.Errorf("re-run of create:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	}

	// Another storage: refused, exit 2.
	other := "s3"
	if storage != "local" {
		other = "local"
	}
	r = ns.plugin(time.Minute, createArgs(t, c, other)...)
	if r.Code != 2 || !strings.Contains(r.Stderr, "the storage type is fixed at create: cluster "+c+" has "+storage) {
		t.Errorf("create --storage=%s on a %s cluster: exit %d\n%s", other, storage, r.Code, r.Stderr)
	}

	r = ns.mustPlugin(time.Minute, "list", "-o", "json")
	var l listResult
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, r.Stdout)
	}
	if len(l.Clusters) != 1 || l.Clusters[0].Name != c || strings.Join(l.Clusters[0].Storage, ",") != storage ||
		l.Clusters[0].Primary != "ready" || !l.Clusters[0].Created {
		t.Errorf("list -o json: %s", r.Stdout)
	}
	r = ns.mustPlugin(time.Minute, "list")
	t.Logf("list:\n%s", r.Stdout)

	start = time.Now()
	r = ns.mustPlugin(5*time.Minute, "delete", c)
	t.Logf("delete took %.1fs:\n%s%s", time.Since(start).Seconds(), r.Stdout, r.Stderr)
	if d := strings.TrimSpace(ns.kubectl(time.Minute, "get", "deployments,services,configmaps,secrets", "-l",
		"app.kubernetes.io/instance="+c, "-o", "name")); d != "" {
		t.Errorf("left after delete: %s", d)
	}
	pvcs := strings.Fields(ns.kubectl(time.Minute, "get", "pvc", "-o", "name"))
	want := []string{"persistentvolumeclaim/" + c}
	if slices.Contains(storages, "local") {
		want = append(want, "persistentvolumeclaim/"+c+"-pgbr-repo")
	}
	if !slices.Equal(pvcs, want) {
		t.Errorf("PVCs after delete: %q, want %q", pvcs, want)
	}
	for _, p := range want {
		if !strings.Contains(r.Stdout, p+" (") || !strings.Contains(r.Stdout, "kept") {
			t.Errorf("delete does not say it kept %s", p)
		}
	}
	if slices.Contains(storages, "s3") {
		ns.kubectl(time.Minute, "get", "secret", "pgbackrest-s3")
	}
}

func testCreateBadInput(t *testing.T) {
	ns := newNamespace(t, "create-bad")
	img := labImage(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"invalid name", []string{"create", "Bad_Name", "--image", img}, "invalid cluster NAME"},
		{"name too long", []string{"create", strings.Repeat("a", 41), "--image", img}, "at most 40"},
		{"unknown storage", []string{"create", "pg", "--storage=gcs", "--image", img}, "--storage"},
		{"s3 without Secret", []string{"create", "pg", "--storage=s3", "--image", img}, "kubectl pgbackrest s3 configure"},
		{"malformed node label", []string{"create", "pg", "--node-label", "disk", "--image", img}, "--node-label"},
		{"malformed size", []string{"create", "pg", "--pgdata-size", "10GB", "--image", img}, "--pgdata-size"},
		{"malformed repo size", []string{"create", "pg", "--repo-size", "-1Gi", "--image", img}, "--repo-size"},
		{"bad output", []string{"create", "pg", "-o", "table", "--image", img}, "-o/--output"},
		{"malformed memory", []string{"create", "pg", "--memory", "1x", "--image", img}, `invalid --memory "1x"`},
		{"cpu limit below request", []string{"create", "pg", "--cpu", "2:1", "--image", img}, "invalid --cpu"},
	}
	for _, c := range cases {
		r := ns.plugin(time.Minute, c.args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%s: exit %d, want 2 and %q in:\n%s", c.name, r.Code, c.want, r.Stderr)
		}
	}
	if cms := strings.Fields(ns.kubectl(time.Minute, "get", "cm", "-o", "name")); !slices.Equal(cms, []string{"configmap/kube-root-ca.crt"}) {
		t.Errorf("bad input created ConfigMaps: %q", cms)
	}
	if objs := strings.TrimSpace(ns.kubectl(time.Minute, "get", "deployments,services,pvc,secrets", "-o", "name")); objs != "" {
		t.Errorf("bad input created objects: %s", objs)
	}
}

// testCreateSystemIDMismatch deletes an s3 cluster with its data and creates it again: the new
// database has another system-id than the stanza left in S3, and create must say so clearly.
func testCreateSystemIDMismatch(t *testing.T) {
	ns := newNamespace(t, "create-sysid")
	c := clusterName(ns)
	s3Configure(t, ns)
	removeS3Repo(t, c)
	ns.mustPlugin(10*time.Minute, createArgs(t, c, "s3")...)

	// delete --delete-data needs --yes without a terminal.
	r := ns.plugin(time.Minute, "delete", c, "--delete-data")
	if r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Errorf("delete --delete-data without --yes: exit %d\n%s", r.Code, r.Stderr)
	}
	ns.mustPlugin(5*time.Minute, "delete", c, "--delete-data", "--yes")
	if pvcs := strings.TrimSpace(ns.kubectl(time.Minute, "get", "pvc", "-o", "name")); pvcs != "" {
		t.Errorf("PVCs after delete --delete-data: %s", pvcs)
	}

	r = ns.plugin(10*time.Minute, createArgs(t, c, "s3")...)
	t.Logf("create again: exit %d\n%s", r.Code, r.Stderr)
	path := fmt.Sprintf("path /backrestrepo/%s-backrest-shared-repo", c)
	for _, want := range []string{"repo2", "bucket " + env(t, "PGBR_S3_BUCKET"), path, "another cluster name", "restore from those backups"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("mismatch error lacks %q", want)
		}
	}
	if r.Code == 0 {
		t.Error("create over another database's stanza succeeded")
	}
	ns.mustPlugin(5*time.Minute, "delete", c, "--delete-data", "--yes")
}

// waitFor polls cond every 2 s until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Second)
	}
}
