//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestExitCodes runs the built binary and checks the exit statuses of docs/exit-codes.md: 0
// success, 2 bad usage (nothing changed), 3 timed out while the work goes on in the cluster. The
// mapping of errors to statuses is unit-tested in pkg/exitcode; this proves main applies it.
func TestExitCodes(t *testing.T) {
	ns := newNamespace(t, "exitcode")
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"version"}, 0},
		{"help", []string{"--help"}, 0},
		{"unknown flag", []string{"--nosuchflag"}, 2},
		{"unknown command", []string{"nosuchcommand"}, 2},
		{"invalid cluster name", []string{"create", "BAD_NAME!"}, 2},
		{"unknown cluster", []string{"backup", "nosuchcluster", "-n", ns.Name}, 2},
		{"bad enum", []string{"backup", "nosuchcluster", "--type=weekly", "-n", ns.Name}, 2},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			r := run(t, "", time.Minute, "kubectl", append([]string{"pgbackrest"}, tc.args...)...)
			if r.Code != tc.want {
				t.Errorf("kubectl pgbackrest %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s",
					strings.Join(tc.args, " "), r.Code, tc.want, r.Stdout, r.Stderr)
			}
		})
	}
	// Nothing may have been created by the usage errors above.
	out := ns.kubectl(time.Minute, "get", "configmaps,deployments,services,pvc,secrets", "-o", "name")
	if left := strings.TrimSpace(strings.ReplaceAll(out, "configmap/kube-root-ca.crt", "")); left != "" {
		t.Errorf("usage errors changed the namespace:\n%s", left)
	}

	t.Run("timeout", func(t *testing.T) {
		c := clusterName(ns)
		start := time.Now()
		r := ns.plugin(2*time.Minute, "create", c, "--storage=local",
			"--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout=1s")
		t.Logf("create --timeout=1s took %.1fs", time.Since(start).Seconds())
		defer ns.mustPlugin(5*time.Minute, "delete", c, "--delete-data", "--yes")
		if r.Code != 3 {
			t.Fatalf("create --timeout=1s: exit %d, want 3\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "timed out") && !strings.Contains(r.Stderr, "timeout") {
			t.Errorf("a timeout should say so; stderr:\n%s", r.Stderr)
		}
	})
}
