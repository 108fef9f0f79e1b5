package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// planTimelines reads the archive's timeline history files and, when an earlier point-in-time
// restore left more than one timeline, refuses a target time that the followed timeline would
// reach on other data than was live then, and chooses the backup set on the followed timeline's
// history (pgBackRest 2.45 picks by time alone, and PostgreSQL then refuses to start from a set
// that is not on the timeline's history). docs/architecture.md, "PITR after PITR", has the rule.
func (r *Restore) planTimelines(ctx context.Context, stanza pgbackrest.Stanza, rs *pgbackrest.RepositorySummary) error {
	if r.cfg.Set != "" && !hasSet(rs, r.cfg.Set) {
		return nil // refused with the list of sets by checkInfo
	}
	ts, err := r.readTimelines(ctx, stanza)
	if err != nil {
		r.d.Warn("reading the timelines of repository %s: %v; the restore follows the target as given (after an earlier point-in-time "+
			"restore, check the timeline with --target-timeline)", r.Storage, err)
		return nil
	}
	if len(ts) <= 1 {
		return nil
	}
	p, err := ts.PlanTimeline(r.cfg.Target, r.cfg.Set, rs.Backups)
	if err != nil {
		return exitcode.Usage(fmt.Errorf("restoring cluster %s from %s (repo%d): %w", r.Spec.Name, r.Storage, pgbackrest.RepoKey(r.Storage), err))
	}
	r.Timelines = ts.Describe(p.Follow)
	if p.Follow != 0 {
		r.Timeline = fmt.Sprintf("%d", p.Follow)
		if p.Follow == ts.Newest() {
			r.Timeline += " (the newest, which --target-timeline=latest follows)"
		}
	}
	if r.cfg.Set == "" && p.Set != "" {
		r.ChosenSet = p.Set
	}
	return nil
}

func hasSet(rs *pgbackrest.RepositorySummary, label string) bool {
	for _, b := range rs.Backups {
		if b.Label == label {
			return true
		}
	}
	return false
}

// readTimelines lists the history files of the repository's archive and reads each one.
func (r *Restore) readTimelines(ctx context.Context, stanza pgbackrest.Stanza) (pgbackrest.Timelines, error) {
	repo := pgbackrest.RepoKey(r.Storage)
	id := stanza.ArchiveID(repo)
	if id == "" {
		return pgbackrest.BuildTimelines(nil)
	}
	pod, err := cluster.FindRepoPod(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name)
	if err != nil {
		return nil, err
	}
	dir := pgbackrest.ArchivePath(pgbackrest.DefaultStanza, id)
	out, err := capture(ctx, r.d, pod.Namespace, pod.Name, manifest.ContainerPGBackRest, pgbackrest.RepoLsArgs(repo, dir, `\.history$`))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	files, err := pgbackrest.ParseRepoLs([]byte(out))
	if err != nil {
		return nil, err
	}
	var hs []pgbackrest.HistoryFile
	for _, f := range files {
		tl := pgbackrest.HistoryFileTimeline(f.Name)
		if tl == 0 || f.Type != "file" {
			continue
		}
		data, err := capture(ctx, r.d, pod.Namespace, pod.Name, manifest.ContainerPGBackRest, pgbackrest.RepoGetArgs(repo, dir+"/"+f.Name))
		if err != nil {
			return nil, fmt.Errorf("reading %s/%s: %w", dir, f.Name, err)
		}
		hs = append(hs, pgbackrest.HistoryFile{Timeline: tl, Data: data, Time: f.Time})
	}
	return pgbackrest.BuildTimelines(hs)
}

// checkArchiveEnd refuses a time or LSN target past the newest archived WAL when no old primary
// runs to write a record after it (archiveWAL commits, then switches WAL): recovery would replay
// everything and end with "recovery ended before configured recovery target was reached".
func (r *Restore) checkArchiveEnd(ctx context.Context, stanza pgbackrest.Stanza, rs *pgbackrest.RepositorySummary) error {
	t := r.cfg.Target
	if (t.Type != pgbackrest.TargetTime && t.Type != pgbackrest.TargetLSN) || rs.Archive == nil || rs.Archive.Max == "" || r.Resumed {
		return nil
	}
	if _, err := cluster.FindPrimaryPod(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name); err == nil {
		return nil // it writes a commit and switches WAL before it stops
	}
	max := rs.Archive.Max
	if t.Type == pgbackrest.TargetLSN {
		lsn, err := pgbackrest.ParseLSN(t.Value)
		if err != nil || lsn < pgbackrest.SegmentEnd(max) {
			return nil
		}
		return exitcode.Usage(fmt.Errorf("--target-lsn %s is past the end of the newest archived WAL segment %s (it ends at %s) and no primary of cluster %s "+
			"runs to write more: recovery could never reach it%s; choose an earlier LSN, or restore to the end of the archive (no --target-* flag)",
			t.Value, max, pgbackrest.SegmentEnd(max), r.Spec.Name, windowText(r.Window)))
	}
	tm, err := pgbackrest.ParseTargetTime(t.Value)
	if err != nil {
		return nil // checkInfo says so
	}
	if tm.After(r.d.Now()) {
		return nil // checkInfo says it is in the future
	}
	end, err := r.segmentTime(ctx, stanza, max)
	if err != nil || end.IsZero() || !tm.After(end) {
		return nil
	}
	return exitcode.Usage(fmt.Errorf("--target-time %s is after the newest archived WAL (segment %s, archived at %s) and no primary of cluster %s "+
		"runs to write a record after it: recovery would replay everything and fail before reaching it%s; choose a time before %s, "+
		"or restore to the end of the archive (no --target-* flag)",
		pgbackrest.FormatTargetTime(tm), max, pgbackrest.FormatTargetTime(end), r.Spec.Name, windowText(r.Window), pgbackrest.FormatTargetTime(end)))
}

// segmentTime is when WAL segment seg was archived in the chosen repository (zero: not found).
func (r *Restore) segmentTime(ctx context.Context, stanza pgbackrest.Stanza, seg string) (time.Time, error) {
	repo := pgbackrest.RepoKey(r.Storage)
	id := stanza.ArchiveID(repo)
	if id == "" || len(seg) < 24 {
		return time.Time{}, nil
	}
	pod, err := cluster.FindRepoPod(ctx, r.d.Client, r.Spec.Namespace, r.Spec.Name)
	if err != nil {
		return time.Time{}, err
	}
	dir := pgbackrest.ArchivePath(pgbackrest.DefaultStanza, id) + "/" + seg[:16]
	out, err := capture(ctx, r.d, pod.Namespace, pod.Name, manifest.ContainerPGBackRest, pgbackrest.RepoLsArgs(repo, dir, "^"+seg))
	if err != nil {
		return time.Time{}, err
	}
	files, err := pgbackrest.ParseRepoLs([]byte(out))
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, f := range files {
		if strings.HasPrefix(f.Name, seg) && f.Time.After(newest) {
			newest = f.Time
		}
	}
	return newest, nil
}
