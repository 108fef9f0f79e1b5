//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// setupCluster creates a cluster in ns with storage ("local", "s3" or "local,s3") the way a user
// would: `s3 configure` first when storage includes s3, then `create`, which returns once the
// cluster is ready. It returns the cluster's name (unique, see clusterName); a passing scenario's S3
// repository is removed afterwards.
func setupCluster(t *testing.T, ns *Namespace, storage string, extra ...string) string {
	t.Helper()
	c := clusterName(ns)
	if strings.Contains(storage, "s3") {
		s3Configure(t, ns)
		removeS3Repo(t, c)
	}
	start := time.Now()
	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, storage), extra...)...)
	t.Logf("create --storage=%s took %.1fs", storage, time.Since(start).Seconds())
	return c
}

// sql runs one statement with psql in the cluster's primary and returns its unaligned output.
func (ns *Namespace) sql(cluster, stmt string) string {
	ns.t.Helper()
	return strings.TrimSpace(ns.kubectl(time.Minute, "exec", "deploy/"+cluster, "-c", "postgres", "--",
		"psql", "-h", "/var/run/postgresql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", stmt))
}
