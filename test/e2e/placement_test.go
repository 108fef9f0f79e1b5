//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRestoreJobPlacedLikePrimary (issue 12, item 3): the local cluster's StorageClass binds on
// first use (WaitForFirstConsumer), as every cloud default does, so the restore Job decides where
// the new data volume lives. A cluster created with --node-label for a label only the node has:
// a restore without --node-label runs its Job with that node selector, exactly the new primary's,
// and completes with every row. restore --node-label is repeatable: two labels given both place
// the Job and the primary.
func TestRestoreJobPlacedLikePrimary(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "place")
	node := strings.TrimSpace(must(t, time.Minute, "kubectl", "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"))
	label := fmt.Sprintf("e2e-place-%d", time.Now().UnixNano()%1_000_000)
	must(t, time.Minute, "kubectl", "label", "node", node, label+"=yes")
	t.Cleanup(func() { run(t, "", time.Minute, "kubectl", "label", "node", node, label+"-") })

	c := clusterName(ns)
	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local"), "--node-label", label+"=yes")...)
	want := map[string]string{label: "yes"}
	if got := nodeSelector(t, ns, "deployment", c); !maps.Equal(got, want) {
		t.Fatalf("primary nodeSelector %v after create --node-label, want %v", got, want)
	}
	if got := nodeSelector(t, ns, "deployment", c+"-backrest-shared-repo"); len(got) != 0 {
		t.Errorf("repository host nodeSelector %v: it is not placed by --node-label", got)
	}
	ns.sql(c, "create table t (id serial primary key)")
	ns.sql(c, "insert into t select from generate_series(1, 100)")
	ns.mustPlugin(10*time.Minute, "backup", c, "--type=full")
	ns.sql(c, "insert into t select from generate_series(1, 23)")

	// Two --node-label flags: both reach the Job and the primary (dry run, nothing changes).
	two := map[string]string{label: "yes", "kubernetes.io/hostname": node}
	dry := ns.mustPlugin(2*time.Minute, "restore", c, "--dry-run=client", "--node-label", label+"=yes", "--node-label", "kubernetes.io/hostname="+node)
	if want := "placement:    the restore Job and the new primary on nodes labelled " + label + "=yes, kubernetes.io/hostname=" + node; !strings.Contains(dry.Stdout, want) {
		t.Errorf("--dry-run plan lacks %q:\n%s", want, dry.Stdout)
	}
	for _, kind := range []string{"Job", "Deployment"} {
		if got := dryRunNodeSelector(t, dry.Stdout, kind); !maps.Equal(got, two) {
			t.Errorf("--dry-run %s nodeSelector %v, want %v (both --node-label flags)", kind, got, two)
		}
	}

	r := ns.mustPlugin(15*time.Minute, "restore", c, "--yes", "--timeout=8m")
	m := regexp.MustCompile(`restored \(restore (\d{14})\)`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("restore did not say it restored:\n%s", r.Stdout)
	}
	// The Job is kept after it succeeded (its log is read afterwards).
	job := c + "-restore-" + m[1]
	if got := nodeSelector(t, ns, "job", job); !maps.Equal(got, want) {
		t.Errorf("restore Job %s nodeSelector %v, want the cluster's %v", job, got, want)
	}
	if got := nodeSelector(t, ns, "deployment", c); !maps.Equal(got, want) {
		t.Errorf("new primary nodeSelector %v, want %v", got, want)
	}
	if n := ns.sql(c, "select count(*) from t"); n != "123" {
		t.Errorf("after the restore: %s rows, want 123", n)
	}
}

// nodeSelector reads the pod template's nodeSelector of a Deployment or Job.
func nodeSelector(t *testing.T, ns *Namespace, kind, name string) map[string]string {
	t.Helper()
	out := ns.kubectl(time.Minute, "get", kind, name, "-o", "jsonpath={.spec.template.spec.nodeSelector}")
	sel := map[string]string{}
	if strings.TrimSpace(out) == "" {
		return sel
	}
	if err := json.Unmarshal([]byte(out), &sel); err != nil {
		t.Fatalf("%s %s nodeSelector %q: %v", kind, name, out, err)
	}
	return sel
}

// dryRunNodeSelector finds the pod template nodeSelector of the object of kind in restore's
// --dry-run=client output (YAML documents; keys of a nodeSelector are indented under it).
func dryRunNodeSelector(t *testing.T, out, kind string) map[string]string {
	t.Helper()
	for _, doc := range strings.Split(out, "\n---") {
		if !regexp.MustCompile(`(?m)^kind: ` + kind + `$`).MatchString(doc) {
			continue
		}
		sel := map[string]string{}
		lines := strings.Split(doc, "\n")
		for i, l := range lines {
			if strings.TrimSpace(l) != "nodeSelector:" {
				continue
			}
			indent := len(l) - len(strings.TrimLeft(l, " "))
			for _, kv := range lines[i+1:] {
				if len(kv)-len(strings.TrimLeft(kv, " ")) <= indent {
					break
				}
				k, v, _ := strings.Cut(strings.TrimSpace(kv), ": ")
				sel[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
			}
		}
		return sel
	}
	t.Fatalf("no %s in the --dry-run output:\n%s", kind, out)
	return nil
}
