//go:build e2e

package e2e

import (
	"os"
	"testing"
)

// imageMajor is the PostgreSQL major of the env file's PGBR_IMAGE (PGBR_IMAGE_15 in the lab), which
// the scenarios that pass --image run: PGBR_IMAGE_PG_VERSION, else 15. create's default major is
// 17, so a create on that image names its major too.
func imageMajor() string {
	if v := os.Getenv("PGBR_IMAGE_PG_VERSION"); v != "" {
		return v
	}
	return "15"
}

// imageFlags are the create flags of a cluster on PGBR_IMAGE.
func imageFlags(t *testing.T) []string {
	t.Helper()
	return []string{"--image", env(t, "PGBR_IMAGE"), "--pg-version", imageMajor()}
}
