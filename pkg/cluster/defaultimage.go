package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// SupportedPGVersions are the PostgreSQL majors the plugin accepts: exactly those it builds an
// image for and tests (manifests/image/Dockerfile: 17 on Debian 13 with pgBackRest 2.55, 15 on
// Debian 12 with pgBackRest 2.45). Accepting another major would promise an image that does not
// exist.
var SupportedPGVersions = []int{15, 17}

// DefaultImageRepository and PluginImageRepository are where the release workflow publishes the images.
const (
	DefaultImageRepository = "ghcr.io/kubectl-pgbackrest/postgres"
	PluginImageRepository  = "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest"
)

// SupportedPGVersionsText is "15 or 17", for error messages and help.
func SupportedPGVersionsText() string {
	parts := make([]string, len(SupportedPGVersions))
	for i, v := range SupportedPGVersions {
		parts[i] = strconv.Itoa(v)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// CheckPGVersion refuses a PostgreSQL major that has no image; flag names the option for the
// message ("--pg-version").
func CheckPGVersion(flag string, major int) error {
	if slices.Contains(SupportedPGVersions, major) {
		return nil
	}
	return fmt.Errorf("invalid %s %d: PostgreSQL %d has no image; use %s", flag, major, major, SupportedPGVersionsText())
}

// DefaultImage is the image every pod of a cluster of PostgreSQL major runs unless --image says
// otherwise: the one the release of this plugin version publishes for that major
// (`ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0`), so that each release has one exact image per
// major and the plugin and the image it creates pods of come from the same commit.
func DefaultImage(major int) string { return ImageFor(major, version.Version) }

// ImageFor is the default image of PostgreSQL major as released with plugin version v.
func ImageFor(major int, v string) string {
	return DefaultImageRepository + ":" + imageTag(strconv.Itoa(major)+"-"+v)
}

// PluginImage is the image of the plugin binary alone, of this version
// (`ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:v0.3.0`), for the Jobs that run the plugin in the
// cluster (schedules, drills).
func PluginImage() string { return PluginImageFor(version.Version) }

// PluginImageFor is the plugin's image of version v.
func PluginImageFor(v string) string { return PluginImageRepository + ":" + imageTag(v) }

// maxTagLen is the longest tag the OCI distribution spec allows.
const maxTagLen = 128

// imageTag makes s a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}): a version such as
// "v0.3.0+dirty" or a hand-stamped one with other characters keeps its letters, digits, '.', '_'
// and '-', and everything else becomes '-'.
func imageTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			b[i] = '-'
			if i == 0 {
				b[i] = '_'
			}
		}
	}
	if len(b) == 0 {
		return "latest"
	}
	if len(b) > maxTagLen {
		b = b[:maxTagLen]
	}
	return string(b)
}
