//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCreateRefusedMidRestore (issue 12, item 2): a restore killed right after it recorded itself
// on the cluster ConfigMap leaves the cluster mid-restore; `create` then refuses (exit 2, naming
// the restore and the command that finishes it) and changes nothing, and so does `backup`; the
// same restore command run again finishes it, with every row.
func TestCreateRefusedMidRestore(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "midrestore")
	c := setupCluster(t, ns, "local")
	ns.sql(c, "create table t (id serial primary key)")
	ns.sql(c, "insert into t select from generate_series(1, 100)")
	ns.mustPlugin(10*time.Minute, "backup", c, "--type=full")

	// Kill the restore after its record step: the Lease step is marked passed so the first step
	// newly completed, and killed after, is the record.
	args := []string{"restore", c, "--storage=local", "--yes", "--timeout=8m"}
	boundary := map[string]string{"take lease " + c + "-pgbackrest": "skipped"}
	run := killAfterNewStep(t, ns, boundary, args...)
	if !strings.HasPrefix(run.killedAfter, "record restore ") {
		t.Fatalf("killed after %q, want the record step\nstderr:\n%s", run.killedAfter, run.stderr)
	}
	id := strings.Fields(strings.TrimPrefix(run.killedAfter, "record restore "))[0]

	state := func() string {
		return ns.kubectl(time.Minute, "get", "configmap,deployment,service,pvc,job", "-l", "app.kubernetes.io/instance="+c,
			"-o", "jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion}{\"\\n\"}{end}")
	}
	before := state()
	for _, verb := range [][]string{createArgs(t, c, "local"), {"backup", c, "--type=full"}} {
		r := ns.plugin(5*time.Minute, verb...)
		if r.Code != 2 {
			t.Errorf("%s mid-restore: exit %d, want 2\nstderr: %s", verb[0], r.Code, r.Stderr)
		}
		for _, want := range []string{verb[0] + " of cluster " + c + " refused", "restore " + id, "kubectl pgbackrest restore " + c + " -n " + ns.Name + " --storage=local"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("%s mid-restore: stderr lacks %q:\n%s", verb[0], want, r.Stderr)
			}
		}
	}
	if after := state(); after != before {
		t.Errorf("refused commands changed the cluster:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The same restore command finishes it.
	r := ns.mustPlugin(15*time.Minute, args...)
	if !strings.Contains(r.Stdout, "restored (restore "+id+")") {
		t.Errorf("re-run did not finish restore %s:\n%s", id, r.Stdout)
	}
	if n := ns.sql(c, "select count(*) from t"); n != "100" {
		t.Errorf("after the finished restore: %s rows, want 100", n)
	}
	// No longer mid-restore: create (idempotent) runs again.
	ns.mustPlugin(10*time.Minute, createArgs(t, c, "local")...)
}
