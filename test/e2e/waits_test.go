//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestWaits proves that a wait which cannot end by itself stops early with exit 1 and its cause,
// and that the corrected command then completes: an image that does not exist; a StorageClass
// that does not exist, found up front with the admin's rights and, as a user of the Role (which
// cannot read StorageClasses), by the wait from the PV controller's events; pods refused at
// creation (a ResourceQuota, as Pod Security or an SCC would refuse them).
func TestWaits(t *testing.T) {
	t.Run("no-such-image", testWaitsNoSuchImage)
	t.Run("no-such-storage-class", testWaitsNoSuchStorageClass)
	t.Run("no-such-storage-class-as-role", testWaitsNoSuchStorageClassAsRole)
	t.Run("refused-by-quota", testWaitsRefusedByQuota)
}

// failsFast is the bound the issue sets: "well under a minute".
const failsFast = 60 * time.Second

// mustFailFast checks r: exit 1 within failsFast, stderr naming every want.
func mustFailFast(t *testing.T, r result, took time.Duration, want ...string) {
	t.Helper()
	if r.Code != 1 || took > failsFast {
		t.Fatalf("exit %d after %s, want exit 1 within %s\nstdout:\n%s\nstderr:\n%s", r.Code, took.Round(time.Second), failsFast, r.Stdout, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
	t.Logf("failed as it should in %s:\n%s", took.Round(100*time.Millisecond), r.Stderr)
}

func timed(f func() result) (result, time.Duration) {
	start := time.Now()
	r := f()
	return r, time.Since(start)
}

func testWaitsNoSuchImage(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "waits-image")
	c := clusterName(ns)
	const bad = "localhost/nosuch/image:1"
	// --timeout is well above the bound, so exit 1 in time can only come from the explanation.
	args := []string{"create", c, "--storage=local", "--pg-version", imageMajor(), "--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "5m"}
	r, took := timed(func() result { return ns.plugin(6*time.Minute, append(args, "--image", bad)...) })
	mustFailFast(t, r, took, "cannot pull image", bad, "--image IMAGE")
	if strings.Contains(r.Stderr, "re-run the same command to resume") {
		t.Errorf("stderr says a re-run of the same command would help:\n%s", r.Stderr)
	}
	// One progress line per change, not per poll: the line once, then the error.
	if n := strings.Count(r.Stderr, "cannot pull image"); n > 2 {
		t.Errorf("%d lines say the pull failed; want one per change:\n%s", n, r.Stderr)
	}

	// A create that never finished takes the --image given now.
	good := labImage(t)
	r = ns.mustPlugin(10*time.Minute, append(args, "--image", good, "--timeout", "8m")...)
	if !strings.Contains(r.Stdout, "created (resumed)") {
		t.Errorf("corrected re-run: stdout %q, want a resumed create", r.Stdout)
	}
	// Pinned to the digest of what the first pod pulled, in the repository asked for.
	img := ns.kubectl(time.Minute, "get", "deployment", c, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if repo := good[:strings.LastIndex(good, ":")]; !strings.HasPrefix(img, repo+"@sha256:") {
		t.Errorf("primary runs %q, want %s@sha256:<digest>", img, repo)
	}
}

func testWaitsNoSuchStorageClass(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "waits-sc")
	c := clusterName(ns)
	args := append(append([]string{"create", c, "--storage=local"}, imageFlags(t)...), "--pgdata-size", "1Gi", "--repo-size", "1Gi")
	r, took := timed(func() result {
		return ns.plugin(6*time.Minute, append(args, "--storage-class", "nosuch", "--timeout", "5m")...)
	})
	mustFailFast(t, r, took, "nosuch", "kubectl get storageclass")
	if left := ns.kubectl(time.Minute, "get", "configmaps,pvc,deployments", "-l", "app.kubernetes.io/instance="+c, "-o", "name"); left != "" {
		t.Errorf("a refused create left objects behind:\n%s", left)
	}
	ns.mustPlugin(10*time.Minute, append(args, "--timeout", "8m")...)
}

// As a user of the Role, the up-front check cannot read the StorageClass: the wait finds the
// cause in the PV controller's ProvisioningFailed event, and the fix is the delete it names.
func testWaitsNoSuchStorageClassAsRole(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "waits-sc-role")
	kc := ns.roleUser()
	c := clusterName(ns)
	args := append(append([]string{"--kubeconfig", kc, "create", c, "--storage=local"}, imageFlags(t)...), "--pgdata-size", "1Gi", "--repo-size", "1Gi")
	r, took := timed(func() result {
		return ns.plugin(6*time.Minute, append(args, "--storage-class", "nosuch", "--timeout", "5m")...)
	})
	mustFailFast(t, r, took, `StorageClass "nosuch" does not exist`, "kubectl pgbackrest delete "+c)
	ns.mustPlugin(3*time.Minute, "--kubeconfig", kc, "delete", c, "--delete-data", "--yes", "--timeout", "2m")
	ns.mustPlugin(10*time.Minute, append(args, "--timeout", "8m")...)
}

func testWaitsRefusedByQuota(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "waits-quota")
	ns.apply(`apiVersion: v1
kind: ResourceQuota
metadata:
  name: no-pods
spec:
  hard:
    pods: "0"
`)
	c := clusterName(ns)
	args := append(append([]string{"create", c, "--storage=local"}, imageFlags(t)...), "--pgdata-size", "1Gi", "--repo-size", "1Gi")
	r, took := timed(func() result { return ns.plugin(6*time.Minute, append(args, "--timeout", "5m")...) })
	mustFailFast(t, r, took, "cannot create its pod", "exceeded quota", "ResourceQuota")
	// Every refusal names another pod: still one progress line, and the error.
	if n := strings.Count(r.Stderr, "cannot create its pod"); n > 2 {
		t.Errorf("%d lines say the pod cannot be created; want one per change:\n%s", n, r.Stderr)
	}
	ns.kubectl(time.Minute, "delete", "resourcequota", "no-pods")
	ns.mustPlugin(10*time.Minute, append(args, "--timeout", "8m")...)
}
