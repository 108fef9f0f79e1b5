package cluster

import (
	"regexp"
	"strings"
	"testing"
)

// tagRE is the OCI distribution spec's tag grammar.
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func TestImageFor(t *testing.T) {
	cases := []struct {
		major      int
		version    string
		want, plug string
	}{
		{17, "v0.3.0", "ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:v0.3.0"},
		{15, "v0.3.0", "ghcr.io/kubectl-pgbackrest/postgres:15-v0.3.0", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:v0.3.0"},
		// make build stamps `git describe --tags --always --dirty`.
		{17, "96d802c", "ghcr.io/kubectl-pgbackrest/postgres:17-96d802c", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:96d802c"},
		{17, "v0.3.0-4-g96d802c-dirty", "ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0-4-g96d802c-dirty", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:v0.3.0-4-g96d802c-dirty"},
		{17, "dev", "ghcr.io/kubectl-pgbackrest/postgres:17-dev", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:dev"},
		// Semantic versions' build metadata and anything else a tag cannot hold.
		{17, "v0.3.0+dirty", "ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0-dirty", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:v0.3.0-dirty"},
		{15, "1.0/rc 1:x", "ghcr.io/kubectl-pgbackrest/postgres:15-1.0-rc-1-x", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:1.0-rc-1-x"},
		{17, ".hidden", "ghcr.io/kubectl-pgbackrest/postgres:17-.hidden", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:_hidden"},
		{17, "", "ghcr.io/kubectl-pgbackrest/postgres:17-", "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:latest"},
	}
	for _, c := range cases {
		if got := ImageFor(c.major, c.version); got != c.want {
			t.Errorf("ImageFor(%d, %q) = %s, want %s", c.major, c.version, got, c.want)
		}
		if got := PluginImageFor(c.version); got != c.plug {
			t.Errorf("PluginImageFor(%q) = %s, want %s", c.version, got, c.plug)
		}
		for _, ref := range []string{ImageFor(c.major, c.version), PluginImageFor(c.version)} {
			if tag := ref[strings.LastIndex(ref, ":")+1:]; !tagRE.MatchString(tag) {
				t.Errorf("%s: tag %q is not a valid tag", ref, tag)
			}
		}
	}
	long := ImageFor(17, strings.Repeat("a", 300))
	if tag := long[strings.LastIndex(long, ":")+1:]; len(tag) != 128 || !tagRE.MatchString(tag) {
		t.Errorf("a long version gives tag of %d characters", len(tag))
	}
	// The unstamped build (go test, go run) is "dev".
	if DefaultImage(17) != "ghcr.io/kubectl-pgbackrest/postgres:17-dev" || PluginImage() != "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:dev" {
		t.Errorf("DefaultImage(17) = %s, PluginImage() = %s", DefaultImage(17), PluginImage())
	}
}

func TestCheckPGVersion(t *testing.T) {
	for _, v := range []int{15, 17} {
		if err := CheckPGVersion("--pg-version", v); err != nil {
			t.Errorf("%d: %v", v, err)
		}
	}
	for _, v := range []int{0, 13, 14, 16, 18, 170} {
		err := CheckPGVersion("--pg-version", v)
		if err == nil || !strings.Contains(err.Error(), "--pg-version") || !strings.HasSuffix(err.Error(), "use 15 or 17") {
			t.Errorf("%d: %v", v, err)
		}
	}
}
