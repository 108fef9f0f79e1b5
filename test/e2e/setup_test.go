//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// s3Secret writes the namespace's S3 Secret (`pgbackrest-s3`) for the local S3 server with kubectl,
// as a user may instead of `kubectl pgbackrest s3 configure`.
func s3Secret(t *testing.T, ns *Namespace) {
	t.Helper()
	ns.kubectl(time.Minute, "create", "secret", "generic", "pgbackrest-s3",
		"--from-literal=bucket="+env(t, "PGBR_S3_BUCKET"),
		"--from-literal=endpoint="+env(t, "PGBR_S3_ENDPOINT"),
		"--from-literal=region="+env(t, "PGBR_S3_REGION"),
		"--from-literal=uri-style=path",
		"--from-literal=verify-tls=true",
		"--from-literal=key="+env(t, "PGBR_S3_KEY"),
		"--from-literal=key-secret="+env(t, "PGBR_S3_KEY_SECRET"),
		"--from-file=aws-s3-ca.crt="+env(t, "PGBR_S3_CA"))
}

// setupCluster creates cluster "pg" in ns with storage ("local", "s3" or "local,s3"), the S3
// Secret first when storage includes s3, and waits until `create` says it is ready. It returns the
// cluster's name.
func setupCluster(t *testing.T, ns *Namespace, storage string) string {
	t.Helper()
	const name = "pg"
	if strings.Contains(storage, "s3") {
		s3Secret(t, ns)
	}
	ns.mustPlugin(10*time.Minute, "create", name, "--storage="+storage, "--image="+env(t, "PGBR_IMAGE"),
		"--pgdata-size=1Gi", "--repo-size=1Gi", "--timeout=8m")
	return name
}

// sql runs one statement with psql in the cluster's primary and returns its unaligned output.
func (ns *Namespace) sql(cluster, stmt string) string {
	ns.t.Helper()
	return strings.TrimSpace(ns.kubectl(time.Minute, "exec", "deploy/"+cluster, "-c", "postgres", "--",
		"psql", "-h", "/var/run/postgresql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", stmt))
}
