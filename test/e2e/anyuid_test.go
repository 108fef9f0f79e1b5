//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OpenShift-style ranges of the any-uid scenario's namespace: as a project's annotations say
// them, and what the pods must run as (the first of each).
const (
	anyUIDRange    = "1000680000/10000"
	anyUIDGroups   = "1000690000/10000"
	anyUIDFirst    = "1000680000"
	anyGroupsFirst = "1000690000"
)

// uidRangePolicy is a ValidatingAdmissionPolicy that admits, in the namespaces labelled
// pgbackrest.dev/e2e-uid-range=<namespace>, only pods whose runAsUser (pod or container) lies in
// the namespace's openshift.io/sa.scc.uid-range and whose fsGroup lies in its first supplemental
// group range, and that set runAsUser at all: what OpenShift's restricted-v2 SCC enforces once a
// pod sets its ids. Its refusal reads like the SCC's. Cluster-scoped, so named and selected by the
// namespace: parallel scenarios each have their own.
func uidRangePolicy(name, namespace string) string {
	return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: %[1]s
spec:
  failurePolicy: Fail
  matchConstraints:
    namespaceSelector:
      matchLabels: {pgbackrest.dev/e2e-uid-range: %[2]s}
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  variables:
  - name: uids
    expression: "namespaceObject.metadata.annotations['openshift.io/sa.scc.uid-range'].split('/')"
  - name: uidFirst
    expression: "int(variables.uids[0])"
  - name: uidLast
    expression: "int(variables.uids[0]) + int(variables.uids[1]) - 1"
  - name: groups
    expression: "namespaceObject.metadata.annotations['openshift.io/sa.scc.supplemental-groups'].split(',')[0].split('/')"
  - name: groupFirst
    expression: "int(variables.groups[0])"
  - name: groupLast
    expression: "int(variables.groups[0]) + int(variables.groups[1]) - 1"
  - name: hasUID
    expression: "has(object.spec.securityContext) && has(object.spec.securityContext.runAsUser)"
  - name: hasFSGroup
    expression: "has(object.spec.securityContext) && has(object.spec.securityContext.fsGroup)"
  validations:
  - expression: "variables.hasUID && object.spec.securityContext.runAsUser >= variables.uidFirst && object.spec.securityContext.runAsUser <= variables.uidLast"
    messageExpression: "'.spec.securityContext.runAsUser: Invalid value: ' + (variables.hasUID ? string(object.spec.securityContext.runAsUser) : 'none') + ': must be in the ranges: [' + string(variables.uidFirst) + ', ' + string(variables.uidLast) + ']'"
  - expression: "object.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.runAsUser) || (c.securityContext.runAsUser >= variables.uidFirst && c.securityContext.runAsUser <= variables.uidLast))"
    messageExpression: "'.spec.containers[*].securityContext.runAsUser: must be in the ranges: [' + string(variables.uidFirst) + ', ' + string(variables.uidLast) + ']'"
  - expression: "variables.hasFSGroup && object.spec.securityContext.fsGroup >= variables.groupFirst && object.spec.securityContext.fsGroup <= variables.groupLast"
    messageExpression: "'.spec.securityContext.fsGroup: Invalid value: ' + (variables.hasFSGroup ? string(object.spec.securityContext.fsGroup) : 'none') + ': must be in the ranges: [' + string(variables.groupFirst) + ', ' + string(variables.groupLast) + ']'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: %[1]s
spec:
  policyName: %[1]s
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {pgbackrest.dev/e2e-uid-range: %[2]s}
`, name, namespace)
}

// probePod is a pod of the namespace that runs as uid with fsGroup, sent as a server dry run.
func probePod(uid, fsGroup string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: uid-probe
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: %s
    fsGroup: %s
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: c
    image: %s
    command: ["true"]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`, uid, fsGroup, "ghcr.io/kubectl-pgbackrest/postgres:17-lab")
}

// TestAnyUID runs the workflow in a namespace that carries OpenShift's uid and supplemental group
// annotations and admits pods of those ranges only (uidRangePolicy, standing in for the
// restricted-v2 SCC): create with local and s3 (--run-as-user auto takes the range's first uid
// and group), a backup to both, info, and a restore from s3; every pod runs as the range's uid
// with a passwd entry from nss_wrapper (psql's peer authentication as postgres proves the name),
// and the restored data directory belongs to it. The policy refuses the image's 999, and create
// refuses an explicit uid outside the range before it writes anything.
func TestAnyUID(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "anyuid")
	must(t, time.Minute, "kubectl", "annotate", "namespace", ns.Name,
		"openshift.io/sa.scc.uid-range="+anyUIDRange, "openshift.io/sa.scc.supplemental-groups="+anyUIDGroups)
	must(t, time.Minute, "kubectl", "label", "namespace", ns.Name, "pgbackrest.dev/e2e-uid-range="+ns.Name)
	policy := "e2e-uid-range-" + ns.Name
	r := run(t, uidRangePolicy(policy, ns.Name), time.Minute, "kubectl", "apply", "-f", "-")
	if r.Code != 0 {
		t.Fatalf("applying the policy: %s%s", r.Stdout, r.Stderr)
	}
	t.Cleanup(func() {
		run(t, "", time.Minute, "kubectl", "delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found")
	})

	// The policy works: the image's 999 is refused (once the API server has loaded the policy),
	// the range's ids are admitted.
	waitFor(t, time.Minute, "the policy to refuse a pod of uid 999", func() bool {
		r := run(t, probePod("999", "999"), time.Minute, "kubectl", "-n", ns.Name, "apply", "--dry-run=server", "-f", "-")
		return r.Code != 0 && strings.Contains(r.Stderr, "runAsUser: Invalid value: 999: must be in the ranges: [1000680000, 1000689999]")
	})
	if r := run(t, probePod(anyUIDFirst, "999"), time.Minute, "kubectl", "-n", ns.Name, "apply", "--dry-run=server", "-f", "-"); r.Code == 0 ||
		!strings.Contains(r.Stderr, "fsGroup: Invalid value: 999") {
		t.Fatalf("the policy admits fsGroup 999: exit %d %s", r.Code, r.Stderr)
	}
	if r := run(t, probePod(anyUIDFirst, anyGroupsFirst), time.Minute, "kubectl", "-n", ns.Name, "apply", "--dry-run=server", "-f", "-"); r.Code != 0 {
		t.Fatalf("the policy refuses the range's own ids: %s", r.Stderr)
	}

	c := clusterName(ns)
	// A uid outside the range: refused before anything is written, naming the flag and the range.
	bad := ns.plugin(time.Minute, "create", c, "--storage=local", "--run-as-user", "999", "--pgdata-size", "1Gi", "--repo-size", "1Gi")
	if bad.Code != 2 || !strings.Contains(bad.Stderr, "--run-as-user 999 is outside the uid range 1000680000-1000689999") {
		t.Fatalf("create --run-as-user 999: exit %d\n%s", bad.Code, bad.Stderr)
	}
	if out := ns.kubectl(time.Minute, "get", "configmaps,deployments,pvc", "-o", "name", "-l", "app.kubernetes.io/instance="+c); out != "" {
		t.Fatalf("the refused create left objects: %s", out)
	}

	s3Configure(t, ns)
	removeS3Repo(t, c)
	start := time.Now()
	cr := ns.mustPlugin(10*time.Minute, "create", c, "--storage=local,s3", "--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "8m")
	t.Logf("create in the uid range took %.1fs\n%s", time.Since(start).Seconds(), cr.Stderr)

	// Every container runs as the range's uid, gid 0 and the fsGroup, named postgres.
	repo := "deploy/" + c + "-backrest-shared-repo"
	for _, target := range []struct{ pod, container string }{{"deploy/" + c, "postgres"}, {"deploy/" + c, "pgbackrest"}, {repo, "pgbackrest"}} {
		id := strings.TrimSpace(ns.kubectl(time.Minute, "exec", target.pod, "-c", target.container, "--", "id"))
		want := "uid=" + anyUIDFirst + "(postgres) gid=0(root) groups=0(root)," + anyGroupsFirst + "("
		if !strings.HasPrefix(id, want) {
			t.Errorf("%s/%s: id = %q, want %q...", target.pod, target.container, id, want)
		}
	}
	if owner := ns.kubectl(time.Minute, "exec", "deploy/"+c, "-c", "postgres", "--", "stat", "-c", "%u %a", "/pgdata/pg17"); strings.TrimSpace(owner) != anyUIDFirst+" 700" {
		t.Errorf("PGDATA owner and mode %q, want %s 700", owner, anyUIDFirst)
	}
	// initdb named the superuser after the passwd entry, and peer authentication maps it.
	if u := ns.sql(c, "select current_user || ' ' || (select rolname from pg_roles where oid = 10)"); u != "postgres postgres" {
		t.Errorf("current user and bootstrap superuser %q, want postgres postgres", u)
	}

	ns.sql(c, "create table t (id serial primary key, batch int)")
	ns.sql(c, "insert into t (batch) select 1 from generate_series(1, 1000)")
	var b backupResult
	if err := json.Unmarshal([]byte(ns.mustPlugin(10*time.Minute, "backup", c, "--storage=local,s3", "--type=full", "-o", "json").Stdout), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Backups) != 2 {
		t.Fatalf("backup to both: %+v", b.Backups)
	}
	var info infoSummary
	infoOut := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout
	if err := json.Unmarshal([]byte(infoOut), &info); err != nil {
		t.Fatalf("info -o json: %v\n%s", err, infoOut)
	}
	if len(info.Repositories) != 2 {
		t.Fatalf("info: %s", infoOut)
	}
	ns.mustPlugin(3*time.Minute, "check", c)

	ns.sql(c, "insert into t (batch) select 2 from generate_series(1, 1000)")
	start = time.Now()
	ns.mustPlugin(15*time.Minute, "restore", c, "--storage=s3", "--yes", "--timeout=8m")
	t.Logf("restore from s3 in the uid range took %.1fs", time.Since(start).Seconds())
	if n, err := strconv.Atoi(ns.sql(c, "select count(*) from t")); err != nil || n != 2000 {
		t.Fatalf("after restoring to the end of the archive: %d rows (%v), want 2000", n, err)
	}

	// The restore Job ran as the same uid (the policy admitted it), and what it wrote is that uid's.
	job := strings.Fields(ns.kubectl(time.Minute, "get", "pods", "-l", "pgbackrest.dev/role=restore", "-o",
		"jsonpath={.items[*].spec.securityContext.runAsUser} {.items[*].spec.securityContext.fsGroup} {.items[*].status.phase}"))
	if len(job) != 3 || job[0] != anyUIDFirst || job[1] != anyGroupsFirst || job[2] != "Succeeded" {
		t.Errorf("restore Job pod: runAsUser, fsGroup, phase = %q", job)
	}
	if owner := ns.kubectl(time.Minute, "exec", "deploy/"+c, "-c", "postgres", "--", "stat", "-c", "%u", "/pgdata/pg17", "/pgdata/pg17/PG_VERSION"); strings.Fields(owner)[0] != anyUIDFirst ||
		strings.Fields(owner)[1] != anyUIDFirst {
		t.Errorf("restored PGDATA owners %q, want %s", owner, anyUIDFirst)
	}
	ns.sql(c, "insert into t (batch) select 3") // writable, archiving on the new timeline
	ns.mustPlugin(3*time.Minute, "check", c)
}
