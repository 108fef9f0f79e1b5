package create

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// RepositoryMismatchError says a repository already holds stanza "db" of another PostgreSQL
// system: typically the backups of a deleted cluster of the same name. pgBackRest's own message
// (2.45 error 028, "backup and archive info files exist but do not match the database") names
// neither the repository nor a way out; this one does.
type RepositoryMismatchError struct {
	Cluster, Namespace string
	// Repo is the pgBackRest repository key (1 local, 2 s3); 0 when pgBackRest did not say.
	Repo int
	// Locations describe the repositories concerned, for people.
	Locations []string
	// PGBackRest is pgBackRest's error line.
	PGBackRest string
}

func (e *RepositoryMismatchError) Error() string {
	repo := "the repository"
	if e.Repo != 0 {
		repo = "repository repo" + strconv.Itoa(e.Repo)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) already holds stanza %q of another database: its system-id differs from the new "+
		"cluster's, typically because it keeps the backups of an earlier cluster named %s. Nothing in the repository was changed.\n",
		repo, strings.Join(e.Locations, "; "), pgbackrest.DefaultStanza, e.Cluster)
	b.WriteString("Choose one:\n")
	fmt.Fprintf(&b, "  - another cluster name: remove this attempt with `kubectl pgbackrest delete %s --delete-data -n %s`, "+
		"then `kubectl pgbackrest create NEWNAME ...`\n", e.Cluster, e.Namespace)
	storage := ""
	if st := pgbackrest.StorageForRepoKey(e.Repo); st != "" {
		storage = " --storage=" + string(st)
	}
	// --force: the new database's WAL can never be archived into a repository of another system-id,
	// so without it the restore refuses (restore's otherDatabase); that WAL holds nothing yet.
	fmt.Fprintf(&b, "  - restore from those backups: `kubectl pgbackrest restore %s%s --force -n %s` (the database then has the "+
		"repository's system-id; --force gives up the new, empty database's WAL, which that repository refuses), "+
		"then re-run this create to finish", e.Cluster, storage, e.Namespace)
	if e.PGBackRest != "" {
		b.WriteString("\npgBackRest said: " + e.PGBackRest)
	}
	return b.String()
}

var (
	// stanza-create, 2.45 src/command/check/common.c checkStanzaInfoPg (error 028, FileInvalidError).
	reInfoMismatch = regexp.MustCompile(`backup and archive info files exist but do not match the database`)
	// archive-push and check, 2.45 src/command/archive/push/push.c (error 044, ArchiveMismatchError):
	// "PostgreSQL version 15, system-id 1 do not match repo1 stanza version 15, system-id 2".
	reSystemIDMismatch = regexp.MustCompile(`system-id \d+ do not match (?:repo(\d+) )?stanza version`)
	// stanza-create logs each repository before working on it.
	reStanzaCreateRepo = regexp.MustCompile(`stanza-create for stanza '[^']*' on repo(\d+)`)
	reErrorLine        = regexp.MustCompile(`ERROR: \[\d+\]: .*`)
)

// Mismatch reads pgBackRest's output for a system-id mismatch; nil when there is none.
func Mismatch(spec *cluster.Spec, output string) *RepositoryMismatchError {
	repo := 0
	switch {
	case reInfoMismatch.MatchString(output):
		if m := reStanzaCreateRepo.FindAllStringSubmatch(output, -1); len(m) > 0 {
			repo, _ = strconv.Atoi(m[len(m)-1][1])
		}
	case reSystemIDMismatch.MatchString(output):
		if m := reSystemIDMismatch.FindStringSubmatch(output); m[1] != "" {
			repo, _ = strconv.Atoi(m[1])
		}
	default:
		return nil
	}
	e := &RepositoryMismatchError{Cluster: spec.Name, Namespace: spec.Namespace, Repo: repo,
		PGBackRest: reErrorLine.FindString(output)}
	for _, st := range spec.Storages {
		if repo == 0 || pgbackrest.RepoKey(st) == repo {
			e.Locations = append(e.Locations, Location(spec, st))
		}
	}
	return e
}

// Location describes where the repository of storage st lives.
func Location(spec *cluster.Spec, st pgbackrest.Storage) string {
	switch st {
	case pgbackrest.Local:
		return fmt.Sprintf("local: %s on PVC %s", pgbackrest.LocalRepoPath, spec.Names().RepoPVC())
	case pgbackrest.S3:
		return fmt.Sprintf("s3: bucket %s at %s, path %s", spec.S3.Bucket, spec.S3.Endpoint, spec.Repo2Path)
	}
	return string(st)
}

// explainPGBackRest turns a failed pgBackRest command into an error for people: a system-id
// mismatch explained, else pgBackRest's last lines.
func explainPGBackRest(spec *cluster.Spec, command, output string, err error) error {
	if m := Mismatch(spec, output); m != nil {
		return m
	}
	var exit *kube.ExitError
	if errors.As(err, &exit) {
		pod := spec.Names().RepoHost()
		return fmt.Errorf("pgbackrest %s in the repository host failed (exit code %d):\n%s\nsee also: kubectl -n %s logs deployment/%s --all-containers",
			command, exit.Code, tail(output, 8), spec.Namespace, pod)
	}
	if strings.TrimSpace(output) != "" {
		return fmt.Errorf("pgbackrest %s: %w; its output:\n%s", command, err, tail(output, 8))
	}
	return fmt.Errorf("pgbackrest %s: %w", command, err)
}
