//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

type expireOut struct {
	DryRun       bool `json:"dryRun"`
	Repositories []struct {
		Storage     string   `json:"storage"`
		Expire      []string `json:"expire"`
		Keep        []string `json:"keep"`
		WindowAfter *struct {
			FromBackup string `json:"fromBackup"`
		} `json:"windowAfter"`
	} `json:"repositories"`
	Expired map[string][]string `json:"expired"`
}

// TestExpire: retention set at create is rendered for pgBackRest and kept by backups; expire
// --dry-run announces what goes and the window after, expire removes exactly that, and bad input
// changes nothing.
func TestExpire(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "expire")
	c := clusterName(ns)

	// Bad retention: refused before anything is created.
	for _, tc := range []struct{ flag, want string }{
		{"--retention-full=0", `invalid --retention-full "0"`},
		{"--retention-full=s3=2", "has no s3 repository"},
		{"--retention-full-type=days", "--retention-full-type"},
	} {
		r := ns.plugin(time.Minute, append(createArgs(t, c, "local"), tc.flag)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("create %s: exit %d, want 2 and %q in:\n%s", tc.flag, r.Code, tc.want, r.Stderr)
		}
	}
	if out := ns.kubectl(time.Minute, "get", "configmaps,deployments,pvc", "-l", "app.kubernetes.io/instance="+c, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("bad retention created objects:\n%s", out)
	}

	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local"), "--retention-full=3", "--retention-diff=2")...)
	conf := ns.kubectl(time.Minute, "exec", "deploy/"+c+"-backrest-shared-repo", "-c", "pgbackrest", "--", "cat", "/etc/pgbackrest/pgbackrest.conf")
	for _, want := range []string{"repo1-retention-full=3", "repo1-retention-diff=2"} {
		if !strings.Contains(conf, want) {
			t.Errorf("repository host's pgbackrest.conf lacks %s:\n%s", want, conf)
		}
	}
	ns.sql(c, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
	for range 3 {
		ns.mustPlugin(5*time.Minute, "backup", c, "--type=full")
	}
	ns.mustPlugin(5*time.Minute, "backup", c, "--type=incr")
	labels := func() []string {
		var info infoSummary
		if err := json.Unmarshal([]byte(ns.mustPlugin(time.Minute, "info", c, "-o", "json").Stdout), &info); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range info.Repositories[0].Backups {
			out = append(out, b.Label)
		}
		return out
	}
	before := labels()
	if len(before) != 4 {
		t.Fatalf("want 3 fulls and an incr kept under --retention-full=3, info lists %v", before)
	}
	plan := func(args ...string) expireOut {
		t.Helper()
		var p expireOut
		r := ns.mustPlugin(5*time.Minute, append([]string{"expire", c, "-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
			t.Fatalf("expire -o json: %v\n%s", err, r.Stdout)
		}
		if len(p.Repositories) != 1 || p.Repositories[0].Storage != "local" {
			t.Fatalf("want one plan for local, got %+v", p)
		}
		return p
	}

	// The retention in force keeps everything.
	if p := plan("--dry-run"); len(p.Repositories[0].Expire) != 0 || len(p.Repositories[0].Keep) != 4 {
		t.Fatalf("dry run under the retention in force: %+v", p.Repositories[0])
	}
	// --set of the newest full announces it and the incr that builds on it.
	if p := plan("--dry-run", "--set", before[2]); !slices.Equal(p.Repositories[0].Expire, before[2:]) {
		t.Fatalf("dry run of --set %s announces %v, want %v", before[2], p.Repositories[0].Expire, before[2:])
	}
	if got := labels(); !slices.Equal(got, before) {
		t.Fatalf("dry runs changed the repository: %v → %v", before, got)
	}
	// The oldest full goes, exactly it, and the window starts at the next.
	announced := plan("--dry-run", "--set", before[0])
	if !slices.Equal(announced.Repositories[0].Expire, before[:1]) || announced.Repositories[0].WindowAfter == nil ||
		announced.Repositories[0].WindowAfter.FromBackup != before[1] {
		t.Fatalf("dry run of --set %s: %+v", before[0], announced.Repositories[0])
	}
	done := plan("--set", before[0])
	if !slices.Equal(done.Expired["local"], before[:1]) {
		t.Fatalf("expire reports %v expired, announced %v", done.Expired["local"], before[:1])
	}
	if got := labels(); !slices.Equal(got, before[1:]) {
		t.Fatalf("after expire --set %s info lists %v, want %v", before[0], got, before[1:])
	}

	// A lowered retention: the dry run names exactly the oldest full, expire removes exactly it.
	left := before[1:] // F2, F3, I3
	ns.mustPlugin(5*time.Minute, "update", c, "--retention-full=1")
	announced = plan("--dry-run")
	if !slices.Equal(announced.Repositories[0].Expire, left[:1]) || !slices.Equal(announced.Repositories[0].Keep, left[1:]) {
		t.Fatalf("dry run under --retention-full=1 announces %+v, want %v to go", announced.Repositories[0], left[:1])
	}
	done = plan()
	if !slices.Equal(done.Expired["local"], left[:1]) {
		t.Fatalf("expire reports %v expired, announced %v", done.Expired["local"], left[:1])
	}
	if got := labels(); !slices.Equal(got, left[1:]) {
		t.Fatalf("after expire info lists %v, want %v", got, left[1:])
	}
	// The only full is never expired: refused in our words, nothing removed.
	if r := ns.plugin(time.Minute, "expire", c, "--set", left[1]); r.Code != 2 || !strings.Contains(r.Stderr, "no full backup would remain") {
		t.Errorf("expire --set of the only full: exit %d, want 2 and why in:\n%s", r.Code, r.Stderr)
	}
	before = left // what the checks below expect left is before[1:]

	// Bad input: exit 2, nothing removed.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "20200101-000000F"}, "no such backup set"},
		{[]string{"--set", "latest"}, "invalid --set"},
		{[]string{"--storage", "s3"}, "has no s3 repository"},
	} {
		r := ns.plugin(time.Minute, append([]string{"expire", c}, tc.args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("expire %s: exit %d, want 2 and %q in:\n%s", strings.Join(tc.args, " "), r.Code, tc.want, r.Stderr)
		}
	}
	if got := labels(); !slices.Equal(got, before[1:]) {
		t.Fatalf("refused expires changed the repository: %v", got)
	}
}
