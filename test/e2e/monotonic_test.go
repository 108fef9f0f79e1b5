//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRestoreProgressIsMonotonic (issue 12, items 1 and 7): a restore killed right after its Job
// step, whose Job is then deleted (a TTL policy, someone tidying up), is finished by the same
// command without a new restore Job, with every row. Run again after it finished, the same command
// says there is nothing to do and changes nothing; with another --node-label it is refused naming
// the flag; --again would restore again.
func TestRestoreProgressIsMonotonic(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "monotonic")
	c := setupCluster(t, ns, "local")
	ns.sql(c, "create table t (id serial primary key)")
	ns.sql(c, "insert into t select from generate_series(1, 100)")
	ns.mustPlugin(10*time.Minute, "backup", c, "--type=full")

	args := []string{"restore", c, "--storage=local", "--yes", "--timeout=8m"}
	run := killAfterStep(t, ns, "restore from local", args...)
	if run.killedAfter == "" {
		t.Fatalf("the restore was not killed after its Job step (exit %d)\nstderr:\n%s", run.code, run.stderr)
	}
	jobs := strings.Fields(ns.kubectl(time.Minute, "get", "jobs", "-l", "app.kubernetes.io/instance="+c, "-o", "name"))
	if len(jobs) != 1 {
		t.Fatalf("restore Jobs after the Job step: %q, want one", jobs)
	}
	ns.kubectl(2*time.Minute, "delete", jobs[0], "--wait=true")

	r := ns.mustPlugin(15*time.Minute, args...)
	if strings.Contains(r.Stderr, "restore Job ") && strings.Contains(r.Stderr, " started (attempt") {
		t.Errorf("the re-run started a new restore Job after the Job step had completed:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "✓ "+run.killedAfter+" (already done)") {
		t.Errorf("the re-run did not report the Job step %q as already done:\n%s", run.killedAfter, r.Stderr)
	}
	if left := ns.kubectl(time.Minute, "get", "jobs", "-l", "app.kubernetes.io/instance="+c, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("restore Jobs after the re-run: %q, want none", left)
	}
	if n := ns.sql(c, "select count(*) from t"); n != "100" {
		t.Fatalf("after the resumed restore: %s rows, want 100", n)
	}

	state := func() string {
		return ns.kubectl(time.Minute, "get", "configmap,deployment,pvc,job", "-l", "app.kubernetes.io/instance="+c,
			"-o", "jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion}{\"\\n\"}{end}")
	}
	before := state()
	same := ns.mustPlugin(2*time.Minute, args...)
	if !strings.Contains(same.Stdout, "nothing to do") || !strings.Contains(same.Stdout, "--again") {
		t.Errorf("the same command after the restore finished:\n%s%s", same.Stdout, same.Stderr)
	}
	other := ns.plugin(2*time.Minute, append(args, "--node-label=kubernetes.io/os=linux")...)
	if other.Code != 2 || !strings.Contains(other.Stderr, "--node-label (was none, now kubernetes.io/os=linux)") ||
		!strings.Contains(other.Stderr, "--again") {
		t.Errorf("the same target with another --node-label: exit %d, want 2 naming the flag and --again\n%s", other.Code, other.Stderr)
	}
	if after := state(); after != before {
		t.Errorf("the repeated commands changed the cluster:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
