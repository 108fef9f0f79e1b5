//go:build e2e

package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestS3KeyOnlyInRepoHost: in a local,s3 cluster the S3 key pair is in no place the PostgreSQL
// pod can read (the environment of either container, the postmaster's /proc/<pid>/environ read
// from a shell and from SQL with pg_read_binary_file, every file under /etc/pgbackrest) nor referenced
// by its pod spec, while the repository host has it; and with that, archiving to S3, a backup to
// S3 and a point-in-time restore from S3 work (the primary and the restore Job reach S3 through the
// repository host). After the restore, the new primary is as clean, and the restore Job mounted
// the client certificate only, not the server key, and no S3 key.
func TestS3KeyOnlyInRepoHost(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "s3key")
	c := setupCluster(t, ns, "local,s3")
	key, secret := env(t, "PGBR_S3_KEY"), env(t, "PGBR_S3_KEY_SECRET")
	// leaks says where text holds the key or the secret, without printing either.
	leaks := func(where, text string) {
		t.Helper()
		if strings.Contains(text, key) {
			t.Errorf("%s holds the S3 access key id", where)
		}
		if strings.Contains(text, secret) {
			t.Errorf("%s holds the S3 secret access key", where)
		}
	}
	// want fails unless text holds marker: the place was read, so finding no key there means something.
	// It does not print text, which may hold the key pair or TLS keys.
	want := func(where, text, marker string) {
		t.Helper()
		if !strings.Contains(text, marker) {
			t.Errorf("%s lacks %q (%d bytes read): the check read nothing useful", where, marker, len(text))
		}
	}
	exec := func(target, container, script string) string {
		t.Helper()
		return ns.kubectl(time.Minute, "exec", target, "-c", container, "--", "sh", "-c", script)
	}
	const readAll = `find -L /etc/pgbackrest -type f | while read -r f; do echo "== $f"; cat "$f" 2>&1; done; true`
	checkPrimary := func(when string) {
		t.Helper()
		primary := "deploy/" + c
		for _, container := range []string{"postgres", "pgbackrest"} {
			out := exec(primary, container, "env")
			want(when+": env of "+container, out, "PATH=")
			leaks(when+": env of the primary's "+container+" container", out)
			out = exec(primary, container, readAll)
			want(when+": files of "+container, out, "repo2-host="+c+"-backrest-shared-repo")
			leaks(when+": a file under /etc/pgbackrest in the primary's "+container+" container", out)
		}
		out := exec(primary, "postgres", `tr '\0' '\n' </proc/"$(head -n1 "$PGDATA/postmaster.pid")"/environ`)
		want(when+": postmaster environ", out, "PGDATA=")
		leaks(when+": the postmaster's /proc/<pid>/environ", out)
		// What the issue names: a role with pg_read_server_files reading the server's environment. The
		// postmaster's: a backend's own /proc/self/environ holds its process title, which PostgreSQL
		// writes over the original environment.
		out = ns.sql(c, "select encode(pg_read_binary_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\\n', 1) || '/environ'), 'escape')")
		want(when+": pg_read_binary_file of the postmaster's environ", out, "PGDATA=")
		leaks(when+": pg_read_binary_file of the postmaster's /proc/<pid>/environ", out)
		refs := ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=primary", "-o",
			"jsonpath={.items[*].spec.containers[*].env[*].valueFrom.secretKeyRef.name} {.items[*].spec.volumes[*].secret.secretName}")
		if strings.Contains(refs, "pgbackrest-s3") {
			t.Errorf("%s: the primary's pod spec references the S3 Secret: %s", when, refs)
		}
	}

	// The repository host has the key pair: the one place it lives, and proof that leaks can find it.
	repoEnv := exec("deploy/"+c+"-backrest-shared-repo", "pgbackrest", "env")
	if !strings.Contains(repoEnv, "PGBACKREST_REPO2_S3_KEY="+key) || !strings.Contains(repoEnv, "PGBACKREST_REPO2_S3_KEY_SECRET="+secret) {
		t.Error("the repository host's environment lacks the S3 key pair")
	}
	checkPrimary("after create")
	if t.Failed() {
		return
	}

	count := func() int {
		t.Helper()
		n, err := strconv.Atoi(ns.sql(c, "select count(*) from t"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	insert := func(batch int) {
		t.Helper()
		ns.sql(c, "insert into t (batch) select "+strconv.Itoa(batch)+" from generate_series(1, 1000)")
	}

	// Archiving to S3: a segment switched now reaches the bucket, and check passes for both.
	ns.sql(c, "create table t (id serial primary key, batch int)")
	insert(1)
	seg := ns.sql(c, "select pg_walfile_name(pg_switch_wal())")
	waitFor(t, 2*time.Minute, "segment "+seg+" in the S3 repository", func() bool {
		m, _ := filepath.Glob(filepath.Join(s3RepoDir(t, c), "archive", "db", imageMajor()+"-1", seg[:16], seg+"-*"))
		return len(m) > 0
	})
	ns.mustPlugin(5*time.Minute, "check", c)

	// A backup to S3, then a point in time between two batches, restored from S3.
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage=s3", "--type=full")
	insert(2)
	time.Sleep(1500 * time.Millisecond)
	ts := ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	time.Sleep(1500 * time.Millisecond)
	insert(3)
	r := ns.mustPlugin(15*time.Minute, "restore", c, "--storage=s3", "--target-time="+ts, "--yes", "--timeout=8m")
	t.Logf("restore from s3 to %s\nstdout: %sstderr:\n%s", ts, r.Stdout, r.Stderr)
	if n := count(); n != 2000 {
		t.Fatalf("after restoring from s3 to %s: %d rows, want 2000 (batches 1 and 2)", ts, n)
	}
	checkPrimary("after the restore")

	// The restore Job: the CA and the client certificate and key of the TLS Secret, no S3 key.
	jobs := ns.kubectl(time.Minute, "get", "jobs", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=restore", "-o",
		`jsonpath={range .items[*]}{.metadata.name}: items={.spec.template.spec.volumes[?(@.name=="tls")].secret.items[*].key} `+
			`secrets={.spec.template.spec.volumes[*].secret.secretName} env={.spec.template.spec.containers[*].env[*].name}{"\n"}{end}`)
	t.Logf("restore Jobs:\n%s", jobs)
	lines := strings.Split(strings.TrimSpace(jobs), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "items=ca.crt client.crt client.key secrets="+c+"-pgbackrest-tls env=PGDATA") ||
		strings.Contains(jobs, "server.key") || strings.Contains(jobs, "S3") {
		t.Errorf("restore Job mounts or gets more than the client certificate:\n%s", jobs)
	}

	// Still archiving to S3 on the new timeline.
	insert(4)
	seg = ns.sql(c, "select pg_walfile_name(pg_switch_wal())")
	waitFor(t, 2*time.Minute, "segment "+seg+" in the S3 repository", func() bool {
		m, _ := filepath.Glob(filepath.Join(s3RepoDir(t, c), "archive", "db", imageMajor()+"-1", seg[:16], seg+"-*"))
		return len(m) > 0
	})
}
