//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// foreignManifest is another application's objects that have the names of cluster "orders": its
// Service and Deployment (no replicas: it needs no pods to make the point), and a TLS Secret
// planted under the name the cluster's pods would trust.
const foreignManifest = `apiVersion: v1
kind: Service
metadata:
  name: orders
  labels: {app: orders}
spec:
  selector: {app: orders}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  labels: {app: orders}
spec:
  replicas: 0
  selector:
    matchLabels: {app: orders}
  template:
    metadata:
      labels: {app: orders}
    spec:
      containers: [{name: web, image: orders.invalid/web:1}]
---
apiVersion: v1
kind: Secret
metadata:
  name: orders-pgbackrest-tls
stringData:
  ca.crt: planted
`

// foreignState is what must not change: each object's resourceVersion, the Service's selector,
// the Deployment's selector and the Secret's data.
func foreignState(ns *Namespace) string {
	ns.t.Helper()
	return ns.kubectl(time.Minute, "get", "service/orders", "deployment/orders", "secret/orders-pgbackrest-tls", "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name} rv={.metadata.resourceVersion} selector={.spec.selector} data={.data}{"\n"}{end}`)
}

// TestOwnership: a foreign Service and Deployment of a cluster's names, and a pre-planted TLS
// Secret, survive `create` and `delete` unchanged. create refuses (exit 2) before it writes
// anything, naming each one; delete of a name without a cluster refuses, and with --force deletes
// nothing foreign. No PostgreSQL runs: create refuses before its first write.
func TestOwnership(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "owner")
	img := labImage(t)
	ns.apply(foreignManifest)
	before := foreignState(ns)
	t.Logf("foreign objects:\n%s", before)

	r := ns.plugin(2*time.Minute, "create", "orders", "--image", img, "--pg-version", imageMajor(), "--timeout", "1m")
	if r.Code != 2 {
		t.Errorf("create over foreign objects: exit %d, want 2\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		"cannot create cluster orders in namespace " + ns.Name + ": 3 object(s) of its names are not its own",
		"deployment/orders exists and is not managed by kubectl-pgbackrest (label app.kubernetes.io/managed-by=kubectl-pgbackrest missing)",
		"service/orders exists and is not managed by kubectl-pgbackrest",
		"secret/orders-pgbackrest-tls exists and is not managed by kubectl-pgbackrest",
		"choose another cluster name",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("create's refusal lacks %q:\n%s", want, r.Stderr)
		}
	}
	if objs := strings.TrimSpace(ns.kubectl(time.Minute, "get", "configmaps,pvc,services,deployments,secrets", "-o", "name",
		"-l", "app.kubernetes.io/managed-by=kubectl-pgbackrest")); objs != "" {
		t.Errorf("the refused create wrote: %s", objs)
	}
	if after := foreignState(ns); after != before {
		t.Errorf("create changed the foreign objects:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	r = ns.plugin(time.Minute, "delete", "orders")
	if r.Code != 2 || !strings.Contains(r.Stderr, "cluster orders has no ConfigMap orders-pgbackrest") ||
		!strings.Contains(r.Stderr, "service/orders (not cluster orders's: label app.kubernetes.io/managed-by=kubectl-pgbackrest missing): never deleted") ||
		!strings.Contains(r.Stderr, "deployment/orders (not cluster orders's") {
		t.Errorf("delete without a cluster: exit %d, want 2 naming the foreign objects\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = ns.plugin(time.Minute, "delete", "orders", "--force", "--delete-data", "--yes")
	if r.Code != 0 || strings.Contains(r.Stdout, " deleted") ||
		!strings.Contains(r.Stdout, "service/orders (not cluster orders's: label app.kubernetes.io/managed-by=kubectl-pgbackrest missing) kept") ||
		!strings.Contains(r.Stdout, "secret/orders-pgbackrest-tls (not cluster orders's") {
		t.Errorf("delete --force: exit %d, want 0, nothing deleted, the foreign objects listed as kept\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if after := foreignState(ns); after != before {
		t.Errorf("delete changed the foreign objects:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
