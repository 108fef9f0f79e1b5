//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
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

// TestUpdateRetention: update --retention-full lowers a local repository's retention; it rolls
// the repository host alone (the primary is the same pod), says which full the next expire
// removes, removes none itself, and the next full backup's own expire applies it. Bad input is
// refused with exit 2 and changes nothing.
func TestUpdateRetention(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "upret")
	c := clusterName(ns)
	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local"), "--retention-full=3")...)
	ns.sql(c, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
	for range 3 {
		ns.mustPlugin(5*time.Minute, "backup", c, "--type=full")
	}
	fulls := func() []string {
		t.Helper()
		var info infoSummary
		if err := json.Unmarshal([]byte(ns.mustPlugin(time.Minute, "info", c, "-o", "json").Stdout), &info); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range info.Repositories[0].Backups {
			if b.Type == "full" {
				out = append(out, b.Label)
			}
		}
		return out
	}
	before := fulls()
	if len(before) != 3 {
		t.Fatalf("want 3 fulls under --retention-full=3, info lists %v", before)
	}
	uid := func(role string) string {
		return strings.TrimSpace(ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role="+role,
			"--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.uid}"))
	}
	repoConf := func() string {
		return ns.kubectl(time.Minute, "exec", "deploy/"+c+"-backrest-shared-repo", "-c", "pgbackrest", "--", "cat", "/etc/pgbackrest/pgbackrest.conf")
	}
	primary, repo := uid("primary"), uid("repo")

	// Bad input: exit 2, nothing changed.
	for _, tc := range []struct{ flag, want string }{
		{"--retention-full=0", `invalid --retention-full "0"`},
		{"--retention-full=s3=2", "has no s3 repository"},
	} {
		if r := ns.plugin(time.Minute, "update", c, tc.flag); r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("update %s: exit %d, want 2 and %q in:\n%s", tc.flag, r.Code, tc.want, r.Stderr)
		}
	}
	// The dry run says what would go and writes nothing.
	dry := ns.mustPlugin(2*time.Minute, "update", c, "--retention-full=2", "--dry-run=client")
	if !strings.Contains(dry.Stdout, "local: retention full=3 → full=2") || !strings.Contains(dry.Stdout, "removes "+before[0]) {
		t.Errorf("dry run does not announce %s:\n%s", before[0], dry.Stdout)
	}
	if conf := repoConf(); !strings.Contains(conf, "repo1-retention-full=3\n") || uid("repo") != repo {
		t.Fatalf("refusals or the dry run changed the repository host:\n%s", conf)
	}

	start := time.Now()
	r := ns.mustPlugin(10*time.Minute, "update", c, "--retention-full=2")
	t.Logf("update --retention-full=2 took %s:\n%s", time.Since(start).Round(time.Second), r.Stdout)
	want := "local: the next expire (after the next backup to local, or `kubectl pgbackrest expire " + c + "`) removes " + before[0] + ";"
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("update says:\n%s\nwant %q", r.Stdout, want)
	}
	if got := uid("primary"); got != primary {
		t.Errorf("the primary restarted: pod %s → %s", primary, got)
	}
	repoAfter := uid("repo")
	if repoAfter == repo || strings.Contains(repoAfter, " ") {
		t.Errorf("the repository host was not rolled onto one new pod: %s → %s", repo, repoAfter)
	}
	if conf := repoConf(); !strings.Contains(conf, "repo1-retention-full=2\n") {
		t.Errorf("repository host's pgbackrest.conf lacks repo1-retention-full=2:\n%s", conf)
	}
	if got := fulls(); !slices.Equal(got, before) {
		t.Fatalf("update expired backups: %v → %v", before, got)
	}

	// The same update again changes nothing and still says what goes.
	var res struct {
		Changed    bool `json:"changed"`
		Retention  map[string]struct{ From, To struct{ Full int } }
		NextExpire []struct {
			Storage string   `json:"storage"`
			Expire  []string `json:"expire"`
		} `json:"nextExpire"`
	}
	again := ns.mustPlugin(5*time.Minute, "update", c, "--retention-full=2", "-o", "json")
	if err := json.Unmarshal([]byte(again.Stdout), &res); err != nil {
		t.Fatalf("update -o json: %v\n%s", err, again.Stdout)
	}
	if res.Changed || res.Retention["local"].From.Full != 2 || res.Retention["local"].To.Full != 2 ||
		len(res.NextExpire) != 1 || !slices.Equal(res.NextExpire[0].Expire, before[:1]) {
		t.Errorf("re-run: %s", again.Stdout)
	}
	if uid("repo") != repoAfter || uid("primary") != primary {
		t.Errorf("the re-run restarted pods")
	}

	// The next full backup's expire applies the new retention: the two newest fulls stay.
	ns.mustPlugin(5*time.Minute, "backup", c, "--type=full")
	after := fulls()
	if len(after) != 2 || after[0] != before[2] {
		t.Errorf("after one more full backup info lists %v, want %s and the new one", after, before[2])
	}
}
