//go:build e2e

package e2e

import (
	"testing"
)

// Scenarios create their clusters with no --image and no --pg-version: the default image of the
// plugin build under test, ghcr.io/kubectl-pgbackrest/postgres:17-<version>, which `make
// lab-images` pushed to the lab registry and containerd pulls by that name through its mirror,
// as a user's node pulls it from ghcr.io. Only the scenarios about --image name one.

// defaultMajor is create's default PostgreSQL major.
const defaultMajor = "17"

// imageMajor is the PostgreSQL major of labImage.
func imageMajor() string { return defaultMajor }

// labImage is an explicit image for the scenarios that test --image: the lab's tag of the recipe's
// PostgreSQL 17 image (PGBR_IMAGE_17), the same content as the default under another name.
func labImage(t *testing.T) string {
	t.Helper()
	return env(t, "PGBR_IMAGE_17")
}

// imageFlags are the create flags that choose the image: none, the default.
func imageFlags(t *testing.T) []string {
	t.Helper()
	return nil
}
