//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// pinnedList is the part of `list -o json` about images.
type pinnedList struct {
	Clusters []struct {
		Name        string `json:"name"`
		Image       string `json:"image"`
		PinnedImage string `json:"pinnedImage"`
	} `json:"clusters"`
}

// pinnedImage is what `list -o json` says cluster c's pods run.
func (ns *Namespace) pinnedImage(c string) (image, pinned string) {
	ns.t.Helper()
	var l pinnedList
	if err := json.Unmarshal([]byte(ns.mustPlugin(time.Minute, "list", "-o", "json").Stdout), &l); err != nil {
		ns.t.Fatal(err)
	}
	for _, cl := range l.Clusters {
		if cl.Name == c {
			return cl.Image, cl.PinnedImage
		}
	}
	ns.t.Fatalf("list lacks cluster %s", c)
	return "", ""
}

// podImages are "container=image pullSecrets" of every running pod of cluster c, and their imageIDs.
func (ns *Namespace) podImages(c string) (specs, ids []string) {
	ns.t.Helper()
	out := ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role in (primary,repo)", "--field-selector=status.phase=Running",
		"-o", `jsonpath={range .items[*]}{range .spec.containers[*]}{.name}={.image}{" "}{end}{.spec.imagePullSecrets[*].name}{"\n"}{end}`)
	ids = strings.Fields(ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role in (primary,repo)", "--field-selector=status.phase=Running",
		"-o", `jsonpath={.items[*].status.containerStatuses[*].imageID}`))
	return strings.Split(strings.TrimSpace(out), "\n"), ids
}

// writePullSecret makes Secret regcred from the lab registry's credentials.
func writePullSecret(t *testing.T, ns *Namespace) {
	t.Helper()
	auth := env(t, "PGBR_REGISTRY_AUTH_FILE")
	if _, err := os.Stat(auth); err != nil {
		t.Fatalf("registry credentials: %v", err)
	}
	ns.kubectl(time.Minute, "create", "secret", "generic", "regcred", "--type=kubernetes.io/dockerconfigjson",
		"--from-file=.dockerconfigjson="+auth)
}

// TestPinAndPullSecret creates a cluster from the lab's registry that needs credentials
// (--image-pull-secret) and proves that every pod ends up on the digest of the image the first pod
// pulled, joined to the repository asked for, with the pull Secret; list shows the pin.
func TestPinAndPullSecret(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "pin")
	writePullSecret(t, ns)
	c := clusterName(ns)
	repo := env(t, "PGBR_REGISTRY") + "/kubectl-pgbackrest/postgres"
	lab := labImage(t)
	image := repo + lab[strings.LastIndex(lab, ":"):]
	ns.mustPlugin(10*time.Minute, "create", c, "--storage=local", "--image", image, "--image-pull-secret", "regcred",
		"--pg-version", imageMajor(), "--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "8m")

	asked, pinned := ns.pinnedImage(c)
	if asked != image || !strings.HasPrefix(pinned, repo+"@sha256:") || len(pinned) != len(repo)+len("@sha256:")+64 {
		t.Fatalf("list: image %q pinned %q, want %s and %s@sha256:<digest>", asked, pinned, image, repo)
	}
	digest := pinned[len(repo)+1:]
	specs, ids := ns.podImages(c)
	if len(specs) != 2 {
		t.Fatalf("running pods: %q, want the primary and the repository host", specs)
	}
	for _, s := range specs {
		for _, f := range strings.Fields(s) {
			if strings.Contains(f, "=") && !strings.HasSuffix(f, "="+pinned) {
				t.Errorf("pod container %s, want %s", f, pinned)
			}
		}
		if !strings.HasSuffix(s, " regcred") {
			t.Errorf("pod %q lacks imagePullSecrets regcred", s)
		}
	}
	for _, id := range ids {
		if !strings.HasSuffix(id, "@"+digest) {
			t.Errorf("container imageID %s, want digest %s", id, digest)
		}
	}
	// A re-run changes nothing: the pin is done.
	if r := ns.mustPlugin(5*time.Minute, "create", c, "--storage=local"); !strings.Contains(r.Stdout, "nothing changed") {
		t.Errorf("re-run: %s", r.Stdout)
	}
	if r := ns.mustPlugin(time.Minute, "list", "-o", "wide"); !strings.Contains(r.Stdout, digest[:len("sha256:")+12]) {
		t.Errorf("list -o wide lacks the digest:\n%s", r.Stdout)
	}
}
