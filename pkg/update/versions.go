package update

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// ImageFacts is what the probe learned of an image.
type ImageFacts struct {
	// Image is the reference asked for; Digest the one the probe's node pulled ("sha256:…").
	Image, Digest string
	// PGMajor is 0 when the image has no PostgreSQL the probe could find.
	PGMajor int `json:"pgMajor"`
	// PGBackRest is pgBackRest's version ("2.55.1"), "" when the image has none.
	PGBackRest string `json:"pgbackrest"`
}

var (
	pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.\d+)?`)
	brVersionRE = regexp.MustCompile(`^pgBackRest (\d+(?:\.\d+)*)`)
)

// ParseProbe reads ProbeScript's key=value lines.
func ParseProbe(msg string) (pgMajor int, pgbackrestVersion string, err error) {
	kv := map[string]string{}
	for l := range strings.SplitSeq(msg, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	if _, ok := kv["pgbackrest"]; !ok {
		return 0, "", fmt.Errorf("unexpected probe output %q", msg)
	}
	if n, err := strconv.Atoi(kv["pg_major"]); err == nil {
		pgMajor = n
	} else if m := pgVersionRE.FindStringSubmatch(kv["postgres"]); m != nil {
		pgMajor, _ = strconv.Atoi(m[1])
	}
	return pgMajor, ParsePGBackRestVersion(kv["pgbackrest"]), nil
}

// ParsePGBackRestVersion takes the version out of `pgbackrest version` ("pgBackRest 2.55.1"), or "".
func ParsePGBackRestVersion(out string) string {
	if m := brVersionRE.FindStringSubmatch(strings.TrimSpace(out)); m != nil {
		return m[1]
	}
	return ""
}

// compareVersions orders dotted versions numerically ("2.9" < "2.45" < "2.55.1").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func major(v string) string { return strings.SplitN(v, ".", 2)[0] }

// RepositoryVersion is the newest pgBackRest version that wrote a backup of the stanza, in any
// repository ("" when there is no backup): a pgBackRest older than that may not read them.
func RepositoryVersion(stanzas []pgbackrest.Stanza) string {
	newest := ""
	for _, st := range stanzas {
		for _, b := range st.Backup {
			if v := b.Backrest.Version; v != "" && (newest == "" || compareVersions(v, newest) > 0) {
				newest = v
			}
		}
	}
	return newest
}

// ErrRefused is wrapped by every refusal of an image: nothing was changed.
var ErrRefused = errors.New("image refused")

// Current is what the cluster runs now.
type Current struct {
	PGMajor int
	// PGBackRest is the repository host's pgBackRest version.
	PGBackRest string
	// PrimaryPGBackRest is the primary's (its sidecar's); "" when it could not be read. It differs
	// from PGBackRest only while a version change is half rolled (a re-run after Ctrl-C).
	PrimaryPGBackRest string
	// Repository is the newest pgBackRest version that wrote a backup (RepositoryVersion).
	Repository string
}

// Decide checks the new image against the cluster: the same PostgreSQL major (another needs a
// new cluster), a pgBackRest of the same major that is no older than what wrote the backups. It
// says whether pgBackRest's version changes, which decides how the pods are rolled.
func Decide(cluster string, cur Current, next ImageFacts) (pgbackrestChanges bool, err error) {
	refuse := func(format string, args ...any) (bool, error) {
		return false, fmt.Errorf("%w: update --image %s of cluster %s: %s; nothing was changed", ErrRefused, next.Image, cluster, fmt.Sprintf(format, args...))
	}
	switch {
	case next.PGMajor == 0:
		return refuse("the image has no PostgreSQL that the probe could find (neither PG_MAJOR nor `postgres --version`; see docs/image.md)")
	case next.PGMajor != cur.PGMajor:
		return refuse("it has PostgreSQL %d and the cluster runs PostgreSQL %d; update changes only the minor version. "+
			"A major upgrade is a new cluster restored from this one's repository (`kubectl pgbackrest create NEW --from %s`, a later release); "+
			"give an image with PostgreSQL %d", next.PGMajor, cur.PGMajor, cluster, cur.PGMajor)
	case next.PGBackRest == "":
		return refuse("it has no pgBackRest (`pgbackrest version` failed); every pod needs it (docs/image.md)")
	case cur.PGBackRest != "" && major(next.PGBackRest) != major(cur.PGBackRest):
		return refuse("it has pgBackRest %s and the cluster runs pgBackRest %s: another major version of pgBackRest may not read the repository",
			next.PGBackRest, cur.PGBackRest)
	case cur.Repository != "" && compareVersions(next.PGBackRest, cur.Repository) < 0:
		return refuse("it has pgBackRest %s, older than the %s that wrote the repository's newest backups; give an image with pgBackRest %s or later",
			next.PGBackRest, cur.Repository, cur.Repository)
	}
	return cur.PGBackRest != next.PGBackRest || (cur.PrimaryPGBackRest != "" && cur.PrimaryPGBackRest != next.PGBackRest), nil
}
