//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRestore runs the restore workflow on real data in a local,s3 cluster: rows written in
// batches with a timestamp taken between them, a full backup to both repositories, then
// (a) a point-in-time restore from s3 to a time between two batches (exact row count),
// (b) a restore from s3 to the end of the archive (every row, including those written just
// before the restore), (c) a restore from local whose plugin process is killed with SIGKILL after
// each step in turn and re-run each time, (d) a restore that pauses at its target (read-only),
// then `promote` (writable), (f) a restore whose Job fails in pgBackRest, then the corrected
// re-run, (g) a restore right after a backup with no write in between, and (e) every replaced
// data PVC is still there, labelled retired.
func TestRestore(t *testing.T) {
	ns := newNamespace(t, "restore")
	// --cpu and --memory live in the spec: every restore's new primary gets them (checked below).
	c := setupCluster(t, ns, "local,s3", "--cpu", "150m", "--memory", "300Mi:1Gi")
	resources := func(when, memory string) {
		t.Helper()
		got := ns.kubectl(time.Minute, "get", "deploy", c, "-o",
			`jsonpath={.spec.template.spec.containers[?(@.name=="postgres")].resources}`)
		var r struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		}
		if err := json.Unmarshal([]byte(got), &r); err != nil || r.Requests["cpu"] != "150m" || r.Requests["memory"] != memory ||
			r.Limits["memory"] != "1Gi" || r.Limits["cpu"] != "" {
			t.Errorf("%s: postgres container resources %s (%v), want requests cpu 150m memory %s, limit memory 1Gi", when, got, err, memory)
		}
	}
	resources("after create", "300Mi")
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
	resources("after a point-in-time restore", "300Mi")
	// update --memory rolls the primary onto the new request (the CPU and the limit kept as given).
	up := ns.mustPlugin(5*time.Minute, "update", c, "--memory", "400Mi:1Gi")
	if !strings.Contains(up.Stdout, "memory 300Mi (limit 1Gi) → cpu 150m, memory 400Mi (limit 1Gi)") {
		t.Errorf("update --memory said:\n%s", up.Stdout)
	}
	resources("after update --memory", "400Mi")
	insert(4, 500) // writable, on the new timeline

	// (b) end of the archive, from s3: every row, including batch 4 written just before. (s3, so
	// that (c), from local, is not "nothing to do" after this one: the same finished restore is only
	// repeated with --again.)
	restore("--storage=s3")
	if n := count(); n != 2500 {
		t.Fatalf("(b) after restoring to the end of the archive: %d rows, want 2500", n)
	}
	resources("after the restore that followed update --memory", "400Mi")
	insert(5, 500)

	// (c) SIGKILL the plugin after each step in turn, from local (the fastest repository): every
	// run is killed right after the first step it newly completes that no earlier run was killed
	// after; the same command is re-run until one run completes.
	oldPVC := strings.TrimSpace(ns.kubectl(time.Minute, "get", "deploy", c, "-o", "jsonpath={.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}"))
	args := []string{"restore", c, "--storage=local", "--yes", "--timeout=8m"}
	start = time.Now()
	boundary := map[string]string{} // step name -> "killed" or "skipped" (completed after the kill, before the process died)
	var killedAt []string
	var last stepRun
	for runs := 1; ; runs++ {
		if runs > 40 {
			t.Fatalf("(c) the restore did not complete after %d runs", runs)
		}
		last = killAfterNewStep(t, ns, boundary, args...)
		if last.killedAfter == "" {
			break
		}
		killedAt = append(killedAt, last.killedAfter)
		t.Logf("(c) run %d killed after %q (%.1fs so far)", runs, last.killedAfter, time.Since(start).Seconds())
	}
	if last.code != 0 {
		t.Fatalf("(c) the last re-run: exit %d\nstdout:\n%s\nstderr:\n%s", last.code, last.stdout, last.stderr)
	}
	var skipped []string
	for name, how := range boundary {
		if how == "skipped" {
			skipped = append(skipped, name)
		}
	}
	t.Logf("(c) %d SIGKILLs, one after each of %d step boundaries (%d skipped: completed in the same instant as the killed one: %q); "+
		"%d runs, %.1fs in all\nlast run stdout: %sstderr:\n%s",
		len(killedAt), len(boundary), len(skipped), skipped, len(killedAt)+1, time.Since(start).Seconds(), last.stdout, last.stderr)
	if len(killedAt) < 10 {
		t.Errorf("(c) only %d kill points (%q), want one after (nearly) every step", len(killedAt), killedAt)
	}
	for _, step := range []string{"allocate data PVC", "switch WAL", "delete primary Deployment", "restore from local", "create primary Deployment", "out of recovery", "label the replaced data PVC retired"} {
		found := false
		for name := range boundary {
			found = found || strings.Contains(name, step)
		}
		if !found {
			t.Errorf("(c) no run got past step %q: boundaries %q", step, killedAt)
		}
	}
	if n := count(); n != 3000 {
		t.Fatalf("(c) after the killed and resumed restore: %d rows, want 3000", n)
	}
	if !retiredHas(t, ns, c, oldPVC) {
		t.Errorf("(c) `retired` does not list the replaced PVC %s", oldPVC)
	}

	// (d) pause at the target: read-only until promote. The target lies on timeline 1, which the
	// restores above left: follow the backup's own timeline.
	r := restore("--storage=s3", "--target-time="+ts2, "--target-action=pause", "--target-timeline=current")
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

	// (f) a restore Job that fails: pgBackRest accepts the options at preflight but the restore
	// itself rejects a database to include that does not exist. The error shows the Job's log and
	// what to run next; the old PVC is kept as it was; the corrected re-run (same target, without
	// the bad option) resumes the same restore and completes.
	livePVC := strings.TrimSpace(ns.kubectl(time.Minute, "get", "deploy", c, "-o", "jsonpath={.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}"))
	start = time.Now()
	bad := ns.plugin(15*time.Minute, "restore", c, "--storage=local", "--yes", "--timeout=8m", "--options=--db-include=nosuchdb")
	t.Logf("(f) failing restore took %.1fs (exit %d)\nstdout: %sstderr:\n%s", time.Since(start).Seconds(), bad.Code, bad.Stdout, bad.Stderr)
	if bad.Code == 0 {
		t.Fatalf("(f) a restore with --db-include=nosuchdb succeeded")
	}
	for _, want := range []string{"Last lines of its log", "nosuchdb", "does not exist", "The old data PVC " + livePVC + " is untouched", "re-run"} {
		if !strings.Contains(bad.Stderr, want) {
			t.Errorf("(f) the failed restore's error lacks %q", want)
		}
	}
	if n := strings.Count(bad.Stderr, "Last lines of its log"); n != 1 {
		t.Errorf("(f) the failed restore's error is printed %d times, want once", n)
	}
	if phase := ns.kubectl(time.Minute, "get", "pvc", livePVC, "-o", "jsonpath={.status.phase}|{.metadata.labels.pgbackrest\\.dev/retired-at}|{.metadata.deletionTimestamp}"); phase != "Bound||" {
		t.Errorf("(f) the old data PVC %s after the failed Job: phase|retired-at|deletion = %q, want Bound||", livePVC, phase)
	}
	if t.Failed() {
		return
	}
	r = restore("--storage=local")
	if !strings.Contains(r.Stderr, "resuming restore") || !strings.Contains(r.Stderr, "deleting the failed Job") {
		t.Errorf("(f) the corrected re-run did not resume the failed restore:\n%s", r.Stderr)
	}
	if n := count(); n != 2001 {
		t.Fatalf("(f) after the corrected re-run: %d rows, want 2001", n)
	}
	if !retiredHas(t, ns, c, livePVC) {
		t.Errorf("(f) `retired` does not list the replaced PVC %s", livePVC)
	}

	// (g) a full backup, then at once a restore: nothing is written in between, so the last file
	// archived is the backup's history file and pg_switch_wal() has nothing to switch (a restore
	// used to wait for a newer segment until it gave up). From s3: the same target as (f)'s would
	// be taken for a re-run of the restore just finished.
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage=s3", "--type=full")
	r = restore("--storage=s3")
	if !strings.Contains(r.Stderr, "switch WAL on the old primary and wait until it is archived (") {
		t.Errorf("(g) the restore did not wait for the old primary's WAL:\n%s", r.Stderr)
	}
	if n := count(); n != 2001 {
		t.Fatalf("(g) restore right after a backup: %d rows, want 2001", n)
	}

	// (e) every replaced data PVC is still there, labelled retired; cleanup deletes only those.
	pvcs := strings.Fields(ns.kubectl(time.Minute, "get", "pvc", "-o", "name",
		"-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=primary"))
	if len(pvcs) != 7 { // the first + one per restore (a, b, c, d, f, g)
		t.Errorf("(e) data PVCs %v, want 7", pvcs)
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
	if len(retired.PVCs) != 6 || retired.PVCs[0].Name != c {
		t.Errorf("(e) retired PVCs %+v, want 6 starting with %s", retired.PVCs, c)
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

// retiredHas says `kubectl pgbackrest retired CLUSTER -o json` lists pvc.
func retiredHas(t *testing.T, ns *Namespace, cluster, pvc string) bool {
	t.Helper()
	var retired struct {
		PVCs []struct {
			Name string `json:"name"`
		} `json:"pvcs"`
	}
	out := ns.mustPlugin(time.Minute, "retired", cluster, "-o", "json").Stdout
	if err := json.Unmarshal([]byte(out), &retired); err != nil {
		t.Fatalf("retired -o json: %v\n%s", err, out)
	}
	for _, p := range retired.PVCs {
		if p.Name == pvc {
			return true
		}
	}
	return false
}

// stepRun is one run of the plugin under killAfterNewStep.
type stepRun struct {
	stdout, stderr string
	code           int
	// killedAfter is the step after which the run was killed ("" when it ended by itself).
	killedAfter string
}

var (
	ansi     = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	stepDone = regexp.MustCompile(`^✓ (.*) \(([0-9][^()]*)\)$`) // "✓ name (1.2s)", not "(already done)"
)

// killAfterNewStep runs `kubectl pgbackrest -n NS ARGS` and kills it with SIGKILL as soon as it
// reports on stderr a step newly completed (not "already done") that is not in boundary yet; that
// step goes in boundary as "killed", and any step reported completed after it, before the process
// died, as "skipped". kubectl runs the plugin with exec, so the process started is the plugin.
func killAfterNewStep(t *testing.T, ns *Namespace, boundary map[string]string, args ...string) stepRun {
	t.Helper()
	return killAfter(t, ns, boundary, func(string) bool { return true }, args...)
}

// killAfterStep is killAfterNewStep for the first step newly completed whose name starts with prefix.
func killAfterStep(t *testing.T, ns *Namespace, prefix string, args ...string) stepRun {
	t.Helper()
	return killAfter(t, ns, map[string]string{}, func(step string) bool { return strings.HasPrefix(step, prefix) }, args...)
}

// killAfter kills the plugin after the first step newly completed that match accepts.
func killAfter(t *testing.T, ns *Namespace, boundary map[string]string, match func(step string) bool, args ...string) stepRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl-pgbackrest", append([]string{"-n", ns.Name}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res stepRun
	var out strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := ansi.ReplaceAllString(sc.Text(), "")
		out.WriteString(line + "\n")
		m := stepDone.FindStringSubmatch(line)
		if m == nil || boundary[m[1]] != "" || (res.killedAfter == "" && !match(m[1])) {
			continue
		}
		if res.killedAfter == "" {
			res.killedAfter = m[1]
			boundary[m[1]] = "killed"
			_ = cmd.Process.Kill()
		} else {
			boundary[m[1]] = "skipped"
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		res.code = -1
	}
	res.stdout, res.stderr = stdout.String(), out.String()
	return res
}
