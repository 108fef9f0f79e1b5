//go:build e2e

package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRestorePITRAfterPITR (issue 12, items 5 and 9): batches 1 to 3 are written on timeline 1
// with a time taken between 2 and 3 (A) and one after 3 (B), after which the database is quiet.
// A point-in-time restore to A starts timeline 2, which takes batch 4. Then:
//   - a restore to B without --target-timeline is refused (exit 2): B is on timeline 1 after
//     timeline 2 branched off, where following the newest timeline would silently stop at A;
//   - a restore to a restore point that does not exist fails as soon as PostgreSQL gives up,
//     naming the target and the --abandon command, instead of waiting out its timeout;
//   - that --abandon command, to B on timeline 1, restores exactly batches 1 to 3: the first
//     timeline as it was at B, a time with no commit of the user's after it (item 5: only the
//     commit the plugin writes before switching WAL).
func TestRestorePITRAfterPITR(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "pitr2")
	c := setupCluster(t, ns, "local")
	batches := func() string {
		t.Helper()
		return ns.sql(c, "select coalesce(string_agg(batch || ':' || n, ' ' order by batch), '') from (select batch, count(*) n from t group by batch) b")
	}
	insert := func(batch int) {
		t.Helper()
		ns.sql(c, "insert into t (batch) select "+strconv.Itoa(batch)+" from generate_series(1, 100)")
	}
	now := func() string {
		t.Helper()
		return ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	}
	restore := func(args ...string) result {
		t.Helper()
		start := time.Now()
		r := ns.plugin(15*time.Minute, append([]string{"restore", c, "--yes", "--timeout=8m"}, args...)...)
		t.Logf("restore %s: exit %d after %.1fs\nstdout: %sstderr:\n%s", strings.Join(args, " "), r.Code, time.Since(start).Seconds(), r.Stdout, r.Stderr)
		return r
	}

	ns.sql(c, "create table t (id serial primary key, batch int)")
	insert(1)
	ns.mustPlugin(10*time.Minute, "backup", c, "--type=full")
	insert(2)
	time.Sleep(1500 * time.Millisecond)
	tsA := now()
	time.Sleep(1500 * time.Millisecond)
	insert(3)
	time.Sleep(1500 * time.Millisecond)
	tsB := now() // nothing of the user's is written on timeline 1 after this
	t.Logf("A = %s, B = %s", tsA, tsB)

	if r := restore("--target-time=" + tsA); r.Code != 0 {
		t.Fatalf("restore to A: exit %d", r.Code)
	}
	if got := batches(); got != "1:100 2:100" {
		t.Fatalf("after the restore to A: batches %q, want 1:100 2:100", got)
	}
	insert(4) // on timeline 2

	// B on timeline 1 is shadowed by timeline 2.
	r := restore("--target-time=" + tsB)
	if r.Code != 2 || !strings.Contains(r.Stderr, "timeline 1 took the writes") || !strings.Contains(r.Stderr, "--target-timeline=1") {
		t.Errorf("restore to B without --target-timeline: exit %d, want 2 naming timeline 1 and --target-timeline=1", r.Code)
	}
	dry := ns.mustPlugin(2*time.Minute, "restore", c, "--target-time="+tsB, "--target-timeline=1", "--dry-run=client")
	if out := dry.Stdout + dry.Stderr; !strings.Contains(out, "timelines:") || !strings.Contains(out, "2: branched from 1 at") ||
		!strings.Contains(out, "1: the cluster's first") || !strings.Contains(out, "--set=") {
		t.Errorf("the plan does not show the timelines and the chosen set:\n%s", out)
	}
	if got := batches(); got != "1:100 2:100 4:100" {
		t.Fatalf("refused restores changed the data: batches %q", got)
	}
	if t.Failed() {
		return
	}

	// A restore point that was never created: PostgreSQL replays everything and gives up.
	start := time.Now()
	r = restore("--target-name=nosuch")
	took := time.Since(start)
	if r.Code == 0 {
		t.Fatalf("a restore to --target-name=nosuch succeeded")
	}
	for _, want := range []string{"cannot reach its target", "--target-name=nosuch", "recovery ended before configured recovery target was reached",
		"kubectl pgbackrest restore " + c + " -n " + ns.Name + " --abandon"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the failed restore's error lacks %q", want)
		}
	}
	if strings.Contains(r.Stderr, "timed out") || took > 6*time.Minute {
		t.Errorf("the unreachable target was not detected before the timeout (%s)", took.Round(time.Second))
	}

	// The command it names, to B on timeline 1.
	if r := restore("--abandon", "--target-time="+tsB, "--target-timeline=1"); r.Code != 0 {
		t.Fatalf("restore --abandon to B on timeline 1: exit %d", r.Code)
	}
	if got := batches(); got != "1:100 2:100 3:100" {
		t.Fatalf("after the restore to B on timeline 1: batches %q, want 1:100 2:100 3:100", got)
	}
}
