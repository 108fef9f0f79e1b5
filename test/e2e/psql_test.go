//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// checkPSQL runs `psql` the ways a script does: a query after --, SQL piped into stdin, and a
// failing script whose exit status (psql's 3 for ON_ERROR_STOP) must reach the caller.
func checkPSQL(t *testing.T, ns *Namespace, c string) {
	t.Helper()
	q := ns.plugin(time.Minute, "psql", c, "--", "-At", "-c", "select 6*7")
	if q.Code != 0 || strings.TrimSpace(q.Stdout) != "42" {
		t.Errorf("psql -c: exit %d, want 0 and 42\nstdout:\n%s\nstderr:\n%s", q.Code, q.Stdout, q.Stderr)
	}
	piped := run(t, "create table psql_piped (v text);\ninsert into psql_piped values ('from stdin');\nselect v from psql_piped;\n",
		time.Minute, "kubectl", "pgbackrest", "-n", ns.Name, "psql", c, "--", "-At", "-v", "ON_ERROR_STOP=1")
	if piped.Code != 0 || !strings.Contains(piped.Stdout, "from stdin") {
		t.Errorf("psql with SQL on stdin: exit %d, want 0 and the row back\nstdout:\n%s\nstderr:\n%s", piped.Code, piped.Stdout, piped.Stderr)
	}
	failed := run(t, "select 1/0;\nselect 'not reached';\n",
		time.Minute, "kubectl", "pgbackrest", "-n", ns.Name, "psql", c, "--", "-At", "-v", "ON_ERROR_STOP=1")
	if failed.Code != 3 || !strings.Contains(failed.Stderr, "division by zero") || strings.Contains(failed.Stdout, "not reached") ||
		!strings.Contains(failed.Stderr, "exited with status 3") {
		t.Errorf("psql script stopped on error: exit %d, want psql's 3 with its error\nstdout:\n%s\nstderr:\n%s", failed.Code, failed.Stdout, failed.Stderr)
	}
	bad := ns.plugin(time.Minute, "psql", c, "extra")
	if bad.Code != 2 || !strings.Contains(bad.Stderr, "after --") {
		t.Errorf("psql with two positional arguments: exit %d, want 2 pointing at --\n%s", bad.Code, bad.Stderr)
	}
}
