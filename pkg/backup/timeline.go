package backup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/timeline"
)

// ArchiveListings lists, for the timeline picture, every WAL segment of each repository of sum
// with the time it was stored: one `pgbackrest repo-ls --recurse` of the stanza's archive
// directory per repository that has archived WAL (pgBackRest's info gives only the oldest and
// newest segment). The listing keeps the files of the history holding the repository's newest
// segment (timeline.CurrentArchive) with that directory taken off their names. A repository whose listing fails is left
// out with a warning: the picture then draws info's range alone and says so.
func ArchiveListings(ctx context.Context, d Deps, cfg InfoConfig, sum *pgbackrest.Summary) (map[pgbackrest.Storage][]pgbackrest.RepoFile, error) {
	_, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	out := map[pgbackrest.Storage][]pgbackrest.RepoFile{}
	for _, r := range sum.Repositories {
		if r.Archive == nil || r.Storage == "" {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, listingWait)
		data, err := execRead(lctx, d, cfg.Namespace, pod, RepoLsRecurseArgs(r.Key, "archive/"+Stanza))
		cancel()
		var files []pgbackrest.RepoFile
		if err == nil {
			files, err = pgbackrest.ParseRepoLs(data)
		}
		if err != nil {
			fmt.Fprintf(d.errOut(), "warning: listing the WAL archive of %s for cluster %s: %v\n", RepoName(r.Storage), cfg.Cluster, err)
			continue
		}
		out[r.Storage] = timeline.CurrentArchive(files, r.Archive.Max)
	}
	return out, nil
}

// listingWait bounds one repository's listing: a repository that is down must not hold the
// picture up (it is then drawn from info's range).
const listingWait = 30 * time.Second

// RepoLsRecurseArgs is `repo-ls --output=json --recurse` of path in repository repo.
func RepoLsRecurseArgs(repo int, path string) []string {
	args := pgbackrest.RepoLsArgs(repo, path, "")
	return slices.Insert(args, len(args)-2, "--recurse")
}
