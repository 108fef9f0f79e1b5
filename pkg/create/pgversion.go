package create

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// ErrPGVersionFixed is wrapped by the error for a create whose --pg-version differs from the
// existing cluster's.
var ErrPGVersionFixed = errors.New("the PostgreSQL major is fixed at create")

// checkPGVersionFixed refuses an explicit --pg-version other than the stored one. The major names
// the data directory, the archive and the image of every pod: changing it under a cluster, even
// one whose create has not finished (its primary may have run initdb already), would put one
// major's files where the other's are expected. Without --pg-version the stored major is kept
// whatever the default is, so clusters created with 15 stay 15.
func checkPGVersionFixed(stored *cluster.Spec, cm *corev1.ConfigMap, cfg Config) error {
	if !cfg.PGVersionExplicit || cfg.PGVersion == 0 || cfg.PGVersion == stored.PGVersion {
		return nil
	}
	fix := "a major upgrade is not done by create"
	if cm.Annotations[AnnotationCreatedAt] == "" {
		fix = fmt.Sprintf("its create has not finished: to start over with PostgreSQL %d, remove it first with "+
			"`kubectl pgbackrest delete %s --delete-data -n %s`", cfg.PGVersion, stored.Name, stored.Namespace)
	}
	return exitcode.Usage(fmt.Errorf("%w: cluster %s runs PostgreSQL %d, not %d; keep --pg-version %d (or leave it out), or create another cluster (%s)",
		ErrPGVersionFixed, stored.Name, stored.PGVersion, cfg.PGVersion, stored.PGVersion, fix))
}
