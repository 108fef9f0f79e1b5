//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// updateResult is the part of `update -o json` the scenario reads.
type updateResult struct {
	From struct {
		PinnedImage string `json:"pinnedImage"`
		PGBackRest  string `json:"pgbackrest"`
	} `json:"from"`
	To struct {
		Image       string `json:"image"`
		PinnedImage string `json:"pinnedImage"`
		PGMajor     int    `json:"pgMajor"`
		PGBackRest  string `json:"pgbackrest"`
	} `json:"to"`
	PGBackRestChanged bool     `json:"pgbackrestChanged"`
	Rolled            []string `json:"rolled"`
	Changed           bool     `json:"changed"`
	Checked           bool     `json:"checked"`
}

// pushMinorImage pushes the lab's image of the default major again with one more label: the same
// PostgreSQL and pgBackRest, another config and so another digest, as a rebuilt minor release
// would be (a mere copy in another manifest format keeps the config, and containerd, which keys
// images by config, may then report the first manifest's digest for both). It returns the new
// tag's name as the nodes pull it (through the mirror of the default image's registry).
func pushMinorImage(t *testing.T) string {
	t.Helper()
	lab := labImage(t)
	tag := lab[strings.LastIndex(lab, ":")+1:] + "-relabel"
	reg := env(t, "PGBR_REGISTRY") + "/kubectl-pgbackrest/postgres:"
	auth, certs := env(t, "PGBR_REGISTRY_AUTH_FILE"), env(t, "PGBR_REGISTRY_CERT_DIR")
	name := fmt.Sprintf("e2e-relabel-%d", os.Getpid())
	bud := func(args ...string) string {
		return strings.TrimSpace(must(t, 5*time.Minute, "buildah", append([]string{"--storage-driver", "vfs"}, args...)...))
	}
	bud("from", "-q", "--name", name, "--cert-dir", certs, "--authfile", auth, "docker://"+reg+lab[strings.LastIndex(lab, ":")+1:])
	t.Cleanup(func() { run(t, "", time.Minute, "buildah", "--storage-driver", "vfs", "rm", name) })
	bud("config", "--label", "dev.kubectl-pgbackrest.e2e="+name, name)
	bud("commit", "-q", "--omit-history", name, name)
	t.Cleanup(func() { run(t, "", time.Minute, "buildah", "--storage-driver", "vfs", "rmi", name) })
	bud("push", "-q", "--cert-dir", certs, "--authfile", auth, name, "docker://"+reg+tag)
	return lab[:strings.LastIndex(lab, ":")+1] + tag
}

// podNames are the cluster's pods, to tell whether anything restarted.
func (ns *Namespace) podNames(c string) string {
	ns.t.Helper()
	return ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role in (primary,repo)",
		"-o", "jsonpath={.items[*].metadata.name}")
}

// TestUpdateImage is the minor-upgrade path: refusals first (another PostgreSQL major, an image
// that cannot be pulled), each changing nothing; then an image with the same versions and another
// digest: both pods roll, check passes, the spec has the new digest, the data is intact and
// archiving goes on; a re-run changes nothing.
func TestUpdateImage(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "update")
	c := setupCluster(t, ns, "local")
	ns.sql(c, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the update')")
	_, pinned := ns.pinnedImage(c)
	pods := ns.podNames(c)

	// Another PostgreSQL major: refused before anything changes, with the way to get there.
	other := env(t, "PGBR_IMAGE_15")
	if imageMajor() == "15" {
		other = env(t, "PGBR_IMAGE_17")
	}
	r := ns.plugin(5*time.Minute, "update", c, "--image", other)
	if r.Code != 2 || !strings.Contains(r.Stderr, "create NEW --from "+c) || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Errorf("update to another major: exit %d, want 2 with the clone pointer\n%s", r.Code, r.Stderr)
	}
	// An image that cannot be pulled: fails in seconds, with the registry's reason.
	start := time.Now()
	r = ns.plugin(3*time.Minute, "update", c, "--image", env(t, "PGBR_REGISTRY")+"/kubectl-pgbackrest/postgres:no-such-tag")
	if took := time.Since(start); r.Code != 2 || !strings.Contains(r.Stderr, "cannot pull") || took > 60*time.Second {
		t.Errorf("update to an unpullable image: exit %d after %s, want 2 within a minute saying it cannot pull\n%s", r.Code, took, r.Stderr)
	}
	if _, now := ns.pinnedImage(c); now != pinned || ns.podNames(c) != pods {
		t.Fatalf("a refused update changed the cluster: pinned %s → %s, pods %q → %q", pinned, now, pods, ns.podNames(c))
	}

	minor := pushMinorImage(t)
	plan := ns.mustPlugin(time.Minute, "update", c, "--image", minor, "--dry-run=client")
	if !strings.Contains(plan.Stdout, "probe image "+minor) || !strings.Contains(plan.Stdout, "roll Deployment "+c+" (primary") {
		t.Errorf("plan:\n%s", plan.Stdout)
	}
	r = ns.mustPlugin(10*time.Minute, "update", c, "--image", minor, "-o", "json")
	var res updateResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("update -o json: %v\n%s", err, r.Stdout)
	}
	repo := minor[:strings.LastIndex(minor, ":")]
	if res.From.PinnedImage != pinned || !strings.HasPrefix(res.To.PinnedImage, repo+"@sha256:") || res.To.PinnedImage == pinned ||
		res.PGBackRestChanged || len(res.Rolled) != 2 || !res.Checked || !res.Changed {
		t.Errorf("update result: %+v (from %s)\nstderr:\n%s", res, pinned, r.Stderr)
	}
	if asked, now := ns.pinnedImage(c); asked != minor || now != res.To.PinnedImage {
		t.Errorf("list: image %s pinned %s, want %s at %s", asked, now, minor, res.To.PinnedImage)
	}
	specs, ids := ns.podImages(c)
	for _, s := range specs {
		for _, f := range strings.Fields(s) {
			if !strings.HasSuffix(f, "="+res.To.PinnedImage) {
				t.Errorf("pod container %s, want %s", f, res.To.PinnedImage)
			}
		}
	}
	for _, id := range ids {
		if !strings.HasSuffix(id, res.To.PinnedImage[len(repo):]) {
			t.Errorf("container imageID %s, want %s", id, res.To.PinnedImage)
		}
	}
	if got := ns.sql(c, "SELECT v FROM kept"); got != "before the update" {
		t.Errorf("data after the update: %q", got)
	}
	ns.sql(c, "INSERT INTO kept VALUES ('after')")
	ns.mustPlugin(3*time.Minute, "check", c) // archiving goes on

	r = ns.mustPlugin(5*time.Minute, "update", c, "--image", minor)
	if !strings.Contains(r.Stdout, "nothing changed") {
		t.Errorf("re-run: %s\n%s", r.Stdout, r.Stderr)
	}
}
