// Package backup runs pgBackRest's backup, info and check for a cluster made by kubectl-pgbackrest:
// it execs them in the repository host pod, streams and parses their output and turns it into
// typed results. It is callable without cobra: pkg/cmd/backup, info and check only parse flags,
// call it and print.
package backup

import (
	"fmt"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// BackupStorages resolves backup's --storage (already parsed; nil when not given) against the
// cluster: by default the cluster's storage when it has exactly one, else local. A storage the
// cluster was not created with is a usage error naming --storage.
func BackupStorages(spec *cluster.Spec, flag []pgbackrest.Storage) ([]pgbackrest.Storage, error) {
	if len(flag) == 0 {
		if len(spec.Storages) == 1 {
			return []pgbackrest.Storage{spec.Storages[0]}, nil
		}
		return []pgbackrest.Storage{pgbackrest.Local}, nil
	}
	return checkStorages(spec, flag)
}

// RepoStorages resolves --storage for info and check, which look at every repository by default.
// It returns the repository key to pass to pgBackRest (0: all) and the storages that covers.
func RepoStorages(spec *cluster.Spec, flag []pgbackrest.Storage) (int, []pgbackrest.Storage, error) {
	if len(flag) == 0 {
		return 0, spec.Storages, nil
	}
	st, err := checkStorages(spec, flag)
	if err != nil {
		return 0, nil, err
	}
	if len(st) == len(spec.Storages) {
		return 0, st, nil
	}
	return pgbackrest.RepoKey(st[0]), st, nil
}

func checkStorages(spec *cluster.Spec, flag []pgbackrest.Storage) ([]pgbackrest.Storage, error) {
	for _, s := range flag {
		if !spec.Has(s) {
			return nil, exitcode.Usage(fmt.Errorf("--storage %s: cluster %s has no %s repository; its storage is %s, chosen at create",
				s, spec.Name, s, storageList(spec.Storages)))
		}
	}
	return flag, nil
}

// RepoName is how a repository is named to users: "local (repo1)".
func RepoName(s pgbackrest.Storage) string {
	return fmt.Sprintf("%s (repo%d)", s, pgbackrest.RepoKey(s))
}

func storageList(st []pgbackrest.Storage) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

// repoNames joins RepoName of each storage: "local (repo1) and s3 (repo2)".
func repoNames(st []pgbackrest.Storage) string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = RepoName(s)
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
