//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRestore runs the restore workflow on real data in a local,s3 cluster: rows written in
// batches with a timestamp taken between them, a full backup to both repositories, then
// (a) a point-in-time restore from s3 to a time between two batches (exact row count),
// (b) a restore from local to the end of the archive (every row, including those written just
// before the restore), (c) a restore whose plugin process is killed with SIGKILL after several
// steps and re-run each time, (d) a restore that pauses at its target (read-only), then
// `promote` (writable), and (e) every replaced data PVC is still there, labelled retired.
func TestRestore(t *testing.T) {
	ns := newNamespace(t, "restore")
	c := setupCluster(t, ns, "local,s3")
	count := func() int {
		t.Helper()
		n, err := strconv.Atoi(ns.sql(c, "select count(*) from t"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	insert := func(batch, rows int) {
		t.Helper()
		ns.sql(c, "insert into t (batch) select "+strconv.Itoa(batch)+" from generate_series(1, "+strconv.Itoa(rows)+")")
	}
	now := func() string {
		t.Helper()
		return ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	}

	ns.sql(c, "create table t (id serial primary key, batch int)")
	insert(1, 1000)
	start := time.Now()
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage=local,s3", "--type=full")
	t.Logf("backup of both repositories took %.1fs", time.Since(start).Seconds())
	insert(2, 1000)
	time.Sleep(1500 * time.Millisecond)
	ts2 := now() // after batch 2 committed, before batch 3
	time.Sleep(1500 * time.Millisecond)
	insert(3, 1000)
	t.Logf("target time between batches 2 and 3: %s", ts2)

	// Bad input: usage errors (exit 2), nothing changed. (Not a subtest: ns.mustPlugin fails the
	// test that made the namespace.)
	{
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"restore", c, "--storage=local,s3", "--yes"}, "pick --storage=local or --storage=s3"},
			{[]string{"restore", c, "--target-time=2026-01-01 00:00:00", "--yes"}, "no time zone"},
			{[]string{"restore", c, "--target-time=" + ts2, "--target-lsn=0/3000000", "--yes"}, "cannot be combined"},
			{[]string{"restore", c, "--target-time=2000-01-01 00:00:00+00", "--yes"}, "recoverable window"},
			{[]string{"restore", c, "--set=20000101-000000F", "--yes"}, "no such backup"},
			{[]string{"restore", "nosuchcluster", "--yes"}, "not found"},
			{[]string{"restore", c}, "pass --yes"},
			{[]string{"restore", c, "--options=--stanza=x", "--yes"}, "--stanza"},
		} {
			r := ns.plugin(2*time.Minute, tc.args...)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("%s: exit %d, want 2 with %q\nstderr: %s", strings.Join(tc.args, " "), r.Code, tc.want, r.Stderr)
			}
		}
		dry := ns.mustPlugin(2*time.Minute, "restore", c, "--storage=s3", "--target-time="+ts2, "--dry-run=client")
		for _, want := range []string{"kind: Job", "kind: Deployment", "kind: PersistentVolumeClaim", "--type=time", "# Steps:"} {
			if !strings.Contains(dry.Stdout, want) {
				t.Errorf("dry-run output lacks %q:\n%s", want, dry.Stdout)
			}
		}
		if n := count(); n != 3000 {
			t.Fatalf("bad input changed the data: %d rows", n)
		}
	}
	if t.Failed() {
		return
	}

	restore := func(args ...string) result {
		t.Helper()
		start := time.Now()
		r := ns.mustPlugin(15*time.Minute, append([]string{"restore", c, "--yes", "--timeout=8m"}, args...)...)
		t.Logf("restore %s took %.1fs\nstdout: %sstderr:\n%s", strings.Join(args, " "), time.Since(start).Seconds(), r.Stdout, r.Stderr)
		return r
	}

	// (a) point in time, from s3.
	restore("--storage=s3", "--target-time="+ts2)
	if n := count(); n != 2000 {
		t.Fatalf("(a) after restoring to %s: %d rows, want 2000 (batches 1 and 2)", ts2, n)
	}
	insert(4, 500) // writable, on the new timeline

	// (b) end of the archive, from local: every row, including batch 4 written just before.
	restore("--storage=local")
	if n := count(); n != 2500 {
		t.Fatalf("(b) after restoring to the end of the archive: %d rows, want 2500", n)
	}
	insert(5, 500)

	// (c) SIGKILL the plugin after several steps in turn; each re-run resumes the same restore.
	args := []string{"restore", c, "--storage=s3", "--yes", "--timeout=8m"}
	for _, marker := range []string{"✓ allocate data PVC", "started (attempt", "✓ restore from s3", "✓ create primary Deployment"} {
		out := killAt(t, ns, marker, args...)
		t.Logf("killed after %q:\n%s", marker, out)
	}
	r := restore("--storage=s3")
	if !strings.Contains(r.Stderr, "resuming restore") && !strings.Contains(r.Stdout, "nothing to do") {
		t.Errorf("(c) the re-run did not resume the killed restore:\n%s", r.Stderr)
	}
	if n := count(); n != 3000 {
		t.Fatalf("(c) after the killed and resumed restore: %d rows, want 3000", n)
	}

	// (d) pause at the target: read-only until promote. The target lies on timeline 1, which the
	// restores above left: follow the backup's own timeline.
	r = restore("--storage=s3", "--target-time="+ts2, "--target-action=pause", "--target-timeline=current")
	if !strings.Contains(r.Stdout, "recovery is paused") || !strings.Contains(r.Stdout, "kubectl pgbackrest promote "+c) {
		t.Errorf("(d) restore output does not say recovery paused and how to promote:\n%s", r.Stdout)
	}
	if n := count(); n != 2000 {
		t.Fatalf("(d) paused at %s: %d rows, want 2000", ts2, n)
	}
	if ro := ns.sql(c, "select pg_is_in_recovery()"); ro != "t" {
		t.Fatalf("(d) paused database: pg_is_in_recovery() = %q, want t", ro)
	}
	w := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "exec", "deploy/"+c, "-c", "postgres", "--",
		"psql", "-h", "/var/run/postgresql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", "insert into t (batch) values (6)")
	if w.Code == 0 || !strings.Contains(w.Stderr, "read-only") {
		t.Fatalf("(d) a write to the paused database: exit %d, want a read-only error\n%s", w.Code, w.Stderr)
	}
	p := ns.mustPlugin(10*time.Minute, "promote", c)
	t.Logf("promote: %s%s", p.Stdout, p.Stderr)
	insert(6, 1)
	if n := count(); n != 2001 {
		t.Fatalf("(d) after promote and one insert: %d rows, want 2001", n)
	}

	// (e) every replaced data PVC is still there, labelled retired; cleanup deletes only those.
	pvcs := strings.Fields(ns.kubectl(time.Minute, "get", "pvc", "-o", "name",
		"-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=primary"))
	if len(pvcs) != 5 { // the first + one per restore (a, b, c, d)
		t.Errorf("(e) data PVCs %v, want 5", pvcs)
	}
	var retired struct {
		PVCs []struct {
			Name string `json:"name"`
		} `json:"pvcs"`
	}
	out := ns.mustPlugin(time.Minute, "retired", c, "-o", "json").Stdout
	if err := json.Unmarshal([]byte(out), &retired); err != nil {
		t.Fatalf("retired -o json: %v\n%s", err, out)
	}
	if len(retired.PVCs) != 4 || retired.PVCs[0].Name != c {
		t.Errorf("(e) retired PVCs %+v, want 4 starting with %s", retired.PVCs, c)
	}
	t.Logf("retired:\n%s", ns.mustPlugin(time.Minute, "retired", c).Stdout)
	live := strings.TrimSpace(ns.kubectl(time.Minute, "get", "deploy", c, "-o", "jsonpath={.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}"))
	if r := ns.plugin(time.Minute, "cleanup", c, "--pvc", live, "--yes"); r.Code != 2 {
		t.Errorf("cleanup of the live PVC %s: exit %d, want 2\n%s", live, r.Code, r.Stderr)
	}
	ns.mustPlugin(2*time.Minute, "cleanup", c, "--pvc", c, "--yes")
	waitFor(t, time.Minute, "PVC "+c+" to be deleted", func() bool {
		return run(t, "", time.Minute, "kubectl", "-n", ns.Name, "get", "pvc", c).Code != 0
	})
}

// killAt runs `kubectl pgbackrest -n NS ARGS` and kills the plugin with SIGKILL as soon as its
// stderr contains marker. kubectl runs the plugin with exec, so the process started is the plugin.
func killAt(t *testing.T, ns *Namespace, marker string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl-pgbackrest", append([]string{"-n", ns.Name}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), marker) {
				once.Do(func() { close(found) })
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-found:
		_ = cmd.Process.Kill()
		<-done
	case err := <-done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the plugin ended (%v) before printing %q:\n%s", err, marker, out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String()
}
