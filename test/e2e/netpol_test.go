//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNetworkPolicies proves the NetworkPolicies create ships, on the local cluster whose netpol
// daemon enforces them (test/cluster/probe.sh checks that it does): a pod without the cluster's
// labels cannot connect to either pgBackRest TLS server, while archiving (create's check) and a
// backup still cross both, and PostgreSQL stays open. With --postgres-from, 5432 admits only the
// pods it names, and the narrowing survives a re-run of create that has to rebuild the policy.
func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, "netpol")
		c := setupCluster(t, ns, "local")
		outsider := ns.plainPod("outsider", "")
		repo := c + "-backrest-shared-repo"

		// The pod network works for this pod: PostgreSQL answers it through the primary's Service.
		ns.mustReach(outsider, c, 5432)
		ns.mustNotReach(outsider, repo, 8432)
		ns.mustNotReach(outsider, c, 8432)

		// The repository host still reaches the primary's 8432 (backup), and the primary the
		// repository host's (the WAL archived at the end of the backup).
		ns.mustPlugin(5*time.Minute, "backup", c, "--type=full")
	})
	t.Run("postgres-from", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, "netpol-pgfrom")
		c := clusterName(ns)
		ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local"), "--postgres-from", "app=psql-client")...)
		allowed := ns.plainPod("allowed", "app: psql-client")
		outsider := ns.plainPod("outsider", "")

		ns.mustReach(allowed, c, 5432)
		ns.mustNotReach(outsider, c, 5432)
		// Being admitted to PostgreSQL does not open the TLS server.
		ns.mustNotReach(allowed, c, 8432)

		// The narrowing is in the spec: a re-run of create rebuilds a deleted policy with it.
		ns.kubectl(time.Minute, "delete", "networkpolicy", c)
		ns.mustPlugin(5*time.Minute, createArgs(t, c, "local")...)
		ns.kubectl(time.Minute, "get", "networkpolicy", c)
		ns.mustNotReach(outsider, c, 5432)
		ns.mustReach(allowed, c, 5432)

		ns.mustPlugin(3*time.Minute, "delete", c)
		if left := ns.kubectl(time.Minute, "get", "networkpolicies", "-o", "name"); strings.TrimSpace(left) != "" {
			t.Errorf("delete left NetworkPolicies behind:\n%s", left)
		}
	})
}

// plainPod starts a pod of the image that only sleeps, with the given labels (a YAML flow mapping
// body, "" for none), and returns its name once it runs.
func (ns *Namespace) plainPod(name, labels string) string {
	ns.t.Helper()
	ns.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:%s
      terminationGracePeriodSeconds: 1
      containers:
      - name: client
        image: %s
        imagePullPolicy: IfNotPresent%s
        command: [sleep, "3600"]
`, name, labels, restrictedPod, labImage(ns.t), restrictedContainer))
	ns.kubectl(2*time.Minute, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=90s")
	return name
}

// connectScript resolves $1 (a Service of the namespace) and tries to connect to port $2 for at
// most $3 seconds, one 3-second attempt after another; it prints "connected", "no connection"
// or "cannot resolve".
const connectScript = `getent hosts "$1" >/dev/null || { echo "cannot resolve $1"; exit 0; }
deadline=$(($(date +%s) + $3))
while :; do
  nc -z -w 3 "$1" "$2" 2>/dev/null && { echo connected; exit 0; }
  [ "$(date +%s)" -ge "$deadline" ] && { echo "no connection"; exit 0; }
  sleep 1
done`

func (ns *Namespace) connect(pod, service string, port, seconds int) string {
	ns.t.Helper()
	return strings.TrimSpace(ns.kubectl(time.Minute, "exec", pod, "--", "sh", "-c", connectScript, "connect",
		service, fmt.Sprint(port), fmt.Sprint(seconds)))
}

// mustReach retries for 30 s, as a client does while a new pod's address reaches the policy
// enforcer and the Service's endpoints.
func (ns *Namespace) mustReach(pod, service string, port int) {
	ns.t.Helper()
	if got := ns.connect(pod, service, port, 30); got != "connected" {
		ns.t.Errorf("pod %s to %s:%d: %s, want a connection", pod, service, port, got)
	}
}

// mustNotReach makes one attempt: the pod resolves the Service, and its connection times out.
func (ns *Namespace) mustNotReach(pod, service string, port int) {
	ns.t.Helper()
	if got := ns.connect(pod, service, port, 0); got != "no connection" {
		ns.t.Errorf("pod %s to %s:%d: %s, want no connection (a NetworkPolicy keeps it out)", pod, service, port, got)
	}
}
