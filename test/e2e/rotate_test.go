//go:build e2e

package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRotateCerts (issue 13, item 5): rotate-certs issues a new CA and certificates and rolls
// both pods onto them while WAL segments are switched every second; WAL archived across the
// rotation (batch 2 before it, 5 during it, 3 after) is restorable; a backup and pgBackRest's check work with the new certificates; a point-in-time
// restore (from the full backup taken with the old certificates, through WAL archived with both)
// returns exactly the data of its target; a dry run afterwards changes nothing.
func TestRotateCerts(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "rotate")
	c := setupCluster(t, ns, "local")
	secret := c + "-pgbackrest-tls"
	ca := func() string {
		t.Helper()
		return ns.kubectl(time.Minute, "get", "secret", secret, "-o", `jsonpath={.data.ca\.crt}`)
	}
	pod := func(role string) string {
		t.Helper()
		return ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role="+role,
			"-o", "jsonpath={.items[*].metadata.uid}")
	}
	insert := func(batch int) {
		t.Helper()
		ns.sql(c, "insert into t (batch) select "+strconv.Itoa(batch)+" from generate_series(1, 100)")
	}
	batches := func() string {
		t.Helper()
		return ns.sql(c, "select coalesce(string_agg(batch || ':' || n, ' ' order by batch), '') from (select batch, count(*) n from t group by batch) b")
	}

	ns.sql(c, "create table t (id serial primary key, batch int)")
	insert(1)
	ns.mustPlugin(10*time.Minute, "backup", c, "--type=full")
	insert(2)
	oldCA, oldPrimary, oldRepo := ca(), pod("primary"), pod("repo")

	// WAL to archive throughout the rotation: a row of batch 5 and a segment switch every second
	// (refused while the primary restarts). Those committed must come back from the restore.
	stop, looped := make(chan struct{}), make(chan int)
	go func() {
		ok := 0
		for {
			select {
			case <-stop:
				looped <- ok
				return
			case <-time.After(time.Second):
			}
			r := run(t, "", 20*time.Second, "kubectl", "-n", ns.Name, "exec", "deploy/"+c, "-c", "postgres", "--",
				"psql", "-h", "/var/run/postgresql", "-U", "postgres", "-Atc", "insert into t (batch) values (5); select pg_switch_wal()")
			if r.Code == 0 {
				ok++
			}
		}
	}()
	start := time.Now()
	r := ns.plugin(20*time.Minute, "rotate-certs", c, "--timeout=15m")
	close(stop)
	switched := <-looped
	if r.Code != 0 {
		t.Fatalf("rotate-certs: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if switched == 0 {
		t.Error("no segment was switched during the rotation: archive-push was not exercised")
	}
	t.Logf("segments switched during the rotation: %d; pg_stat_archiver (archived, failed): %s", switched,
		ns.sql(c, "select archived_count || ', ' || failed_count from pg_stat_archiver"))
	t.Logf("rotate-certs took %.1fs\nstdout: %sstderr:\n%s", time.Since(start).Seconds(), r.Stdout, r.Stderr)
	if !strings.Contains(r.Stdout, "certificates rotated") || !strings.Contains(r.Stdout, "WAL archiving checked") {
		t.Errorf("rotate-certs stdout %q lacks the verdict", r.Stdout)
	}
	if ca() == oldCA {
		t.Error("the Secret's CA did not change")
	}
	if p := pod("primary"); p == oldPrimary || p == "" {
		t.Errorf("the primary pod was not rolled (%s)", p)
	}
	if p := pod("repo"); p == oldRepo || p == "" {
		t.Errorf("the repository host pod was not rolled (%s)", p)
	}
	if phase := ns.kubectl(time.Minute, "get", "secret", secret, "-o", `jsonpath={.metadata.annotations.pgbackrest\.dev/tls-rotation}`); phase != "done" {
		t.Errorf("rotation phase %q, want done", phase)
	}
	if l := ns.kubectl(time.Minute, "get", "secret", secret, "-o", `jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}`); l != "kubectl-pgbackrest" {
		t.Errorf("the Secret lost its managed-by label: %q", l)
	}
	// What the pods use is the new CA: the repository host's pgBackRest server presents a
	// certificate the Secret's ca.crt (mounted in the primary) verifies, from the primary.
	verify := ns.kubectl(time.Minute, "exec", "deploy/"+c, "-c", "postgres", "--", "sh", "-c",
		"openssl s_client -connect "+c+"-backrest-shared-repo:8432 -CAfile /etc/pgbackrest/tls/ca.crt "+
			"-cert /etc/pgbackrest/tls/client.crt -key /etc/pgbackrest/tls/client.key </dev/null 2>&1 | grep 'Verify return code'")
	if !strings.Contains(verify, "Verify return code: 0") {
		t.Errorf("the repository host's certificate does not verify with the Secret's CA: %s", verify)
	}
	if t.Failed() {
		return
	}

	insert(3)
	time.Sleep(1500 * time.Millisecond)
	tsA := ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	time.Sleep(1500 * time.Millisecond)
	insert(4)
	ns.mustPlugin(5*time.Minute, "check", c)
	ns.mustPlugin(10*time.Minute, "backup", c)
	info := ns.mustPlugin(2*time.Minute, "info", c)
	t.Logf("info after the rotation:\n%s%s", info.Stdout, info.Stderr)
	if strings.Contains(info.Stderr, "warning:") {
		t.Errorf("info warns after a rotation: %s", info.Stderr)
	}

	// The restore Job is made after the rotation; the full backup it starts from was taken before.
	want := strings.Replace(batches(), " 4:100", "", 1) // all but batch 4, written after A
	ns.mustPlugin(15*time.Minute, "restore", c, "--yes", "--timeout=8m", "--target-time="+tsA)
	if got := batches(); got != want || !strings.HasPrefix(got, "1:100 2:100 3:100 5:") {
		t.Fatalf("after the restore to A: batches %q, want %q (5: the rows written during the rotation)", got, want)
	}

	before := ca()
	dry := ns.mustPlugin(2*time.Minute, "rotate-certs", c, "--dry-run=client")
	if !strings.Contains(dry.Stdout, "would be issued") || !strings.Contains(dry.Stdout, "REDACTED") || strings.Contains(dry.Stdout, "BEGIN") {
		t.Errorf("dry run output:\n%s", dry.Stdout)
	}
	if ca() != before {
		t.Error("a dry run changed the Secret")
	}
}
