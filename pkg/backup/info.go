package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// InfoConfig is one `kubectl pgbackrest info` (or `show backup`) run.
type InfoConfig struct {
	Namespace, Cluster string
	// Storages limits the output to these repositories; nil shows every one.
	Storages []pgbackrest.Storage
	// Set, when not empty, shows only the backup set with this label (an error when absent).
	Set string
}

// ErrSetNotFound is matched by Info's error when --set names no backup.
var ErrSetNotFound = errors.New("backup set not found")

// Info runs `pgbackrest info --output=json` in the repository host pod and summarises the stanza.
// It is read-only, so a broken exec is retried.
func Info(ctx context.Context, d Deps, cfg InfoConfig) (*pgbackrest.Summary, error) {
	spec, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	return infoOf(ctx, d, spec, pod, cfg)
}

// infoOf is Info for a cluster whose spec and repository host pod were read.
func infoOf(ctx context.Context, d Deps, spec *cluster.Spec, pod string, cfg InfoConfig) (*pgbackrest.Summary, error) {
	repo, storages, err := RepoStorages(spec, cfg.Storages)
	if err != nil {
		return nil, err
	}
	out, err := execRead(ctx, d, cfg.Namespace, pod, pgbackrest.InfoArgs(Stanza, repo))
	if err != nil {
		return nil, fmt.Errorf("reading backups of cluster %s: %w", cfg.Cluster, err)
	}
	sum, err := Summarize(out, storages, cfg.Set)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cfg.Cluster, err)
	}
	// pgBackRest's archive range spans a hole an outage left; the window must not.
	sum.ApplyGaps(archiveGaps(ctx, d, spec))
	return sum, nil
}

// Summarize parses info's JSON and keeps the repositories of storages and, when set is not empty,
// only that backup set.
func Summarize(infoJSON []byte, storages []pgbackrest.Storage, set string) (*pgbackrest.Summary, error) {
	stanzas, err := pgbackrest.ParseInfo(infoJSON)
	if err != nil {
		return nil, err
	}
	stanza, err := pgbackrest.FindStanza(stanzas, Stanza)
	if err != nil {
		return nil, err
	}
	sum := pgbackrest.Summarize(stanza)
	repos := sum.Repositories[:0:0]
	for _, r := range sum.Repositories {
		if len(storages) > 0 && !slices.Contains(storages, r.Storage) {
			continue
		}
		if set != "" {
			i := slices.IndexFunc(r.Backups, func(b pgbackrest.BackupSummary) bool { return b.Label == set })
			if i < 0 {
				continue
			}
			r.Backups = r.Backups[i : i+1]
		}
		repos = append(repos, r)
	}
	if set != "" && len(repos) == 0 {
		var labels []string
		for _, r := range sum.Repositories {
			for _, b := range r.Backups {
				labels = append(labels, b.Label)
			}
		}
		slices.Sort(labels)
		labels = slices.Compact(labels)
		have := "there are no backups"
		if len(labels) > 0 {
			have = "existing sets: " + strings.Join(labels, ", ")
		}
		return nil, fmt.Errorf("%w: --set %s; %s", ErrSetNotFound, set, have)
	}
	sum.Repositories = repos
	return &sum, nil
}

// CheckConfig is one `kubectl pgbackrest check` run.
type CheckConfig struct {
	Namespace, Cluster string
	// Storages limits the check to these repositories; nil checks every one.
	Storages []pgbackrest.Storage
}

// CheckResult is the verdict of `check`: one line per repository checked.
type CheckResult struct {
	Cluster string `json:"cluster"`
	// Storages are the repositories checked.
	Storages []pgbackrest.Storage `json:"storages"`
	OK       bool                 `json:"ok"`
	// Error is pgBackRest's error line when the check failed (the first failing repository's).
	Error        string       `json:"error,omitempty"`
	Repositories []RepoCheck  `json:"repositories,omitempty"`
	now          func() int64 // for the gaps' ages
}

// RepoCheck is the check of one repository.
type RepoCheck struct {
	Storage pgbackrest.Storage `json:"storage"`
	OK      bool               `json:"ok"`
	Error   string             `json:"error,omitempty"`
	// Gaps are WAL segments archived to another repository but missing here (or lost).
	Gaps []pgbackrest.ArchiveGap `json:"gaps,omitempty"`
	// Limited are this repository's backups that cannot be replayed past the first gap.
	Limited []string `json:"limitedBackups,omitempty"`
}

// Verdict says how the check went: one line per repository.
func (r *CheckResult) Verdict() string {
	var b strings.Builder
	now := int64(0)
	if r.now != nil {
		now = r.now()
	}
	for i, rc := range r.Repositories {
		if i > 0 {
			b.WriteString("\n")
		}
		name := repoNames([]pgbackrest.Storage{rc.Storage})
		switch {
		case rc.OK && len(rc.Gaps) == 0:
			fmt.Fprintf(&b, "✓ archiving to %s works", name)
		case rc.OK:
			fmt.Fprintf(&b, "✗ archiving to %s works again, but its archive has a gap", name)
		default:
			fmt.Fprintf(&b, "✗ archiving to %s fails: %s", name, rc.Error)
		}
		for _, g := range rc.Gaps {
			fmt.Fprintf(&b, "\n  %s", g.Describe(now))
			if g.LastLog != "" {
				fmt.Fprintf(&b, "\n  last backfill: %s", g.LastLog)
			}
		}
		if len(rc.Gaps) > 0 {
			first := rc.Gaps[0].First
			for _, g := range rc.Gaps {
				first = min(first, g.First)
			}
			backups := "its backups (not listed: the repository did not answer)"
			if len(rc.Limited) > 0 {
				backups = "its backups " + strings.Join(rc.Limited, ", ")
			}
			fmt.Fprintf(&b, "\n  until the gap is filled, a restore from %s replays only up to WAL %s: %s cannot reach the present",
				name, pgbackrest.PreviousSegment(first), backups)
		}
	}
	return b.String()
}

// backfillWait bounds a backfill run by check: the segments of a short outage copy in seconds; a
// longer one goes on in the archive path's own backfills.
const backfillWait = 2 * time.Minute

// backfillLockWait is how long, in seconds, check waits for a backfill the archive path started:
// one attempt of it is bounded by a few pushes' timeouts.
const backfillLockWait = 30

// limitedInfoWait bounds the info that lists the backups a gap limits.
const limitedInfoWait = 15 * time.Second

// Check proves that archiving reaches each checked repository on its own: it fills a gap left by
// an outage from the other repository (in the primary's pod), then runs `pgbackrest check` with
// that repository's configuration in the repository host pod (it switches WAL and waits until the
// segment is there). A failing check is a CheckResult with OK false, not an error; errors are for
// not being able to run it. Check is not retried: it makes PostgreSQL switch WAL.
func Check(ctx context.Context, d Deps, cfg CheckConfig) (*CheckResult, error) {
	spec, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	_, storages, err := RepoStorages(spec, cfg.Storages)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Cluster: cfg.Cluster, Storages: storages, OK: true, now: func() int64 { return d.now().Unix() }}
	gaps := fillGaps(ctx, d, spec, storages)
	for _, s := range storages {
		rc := RepoCheck{Storage: s}
		for _, g := range gaps {
			if g.Storage == s {
				rc.Gaps = append(rc.Gaps, g)
			}
		}
		if slices.ContainsFunc(rc.Gaps, func(g pgbackrest.ArchiveGap) bool { return !g.Lost }) {
			// New segments join a gap until it is copied: pgBackRest's check would wait its whole
			// archive-timeout for one that cannot come yet.
			rc.Error = "the segments below could not be copied there yet, and new segments wait behind them"
		} else if rc.Error, err = checkOne(ctx, d, cfg.Namespace, pod, s); err != nil {
			return nil, fmt.Errorf("running pgbackrest check of %s for cluster %s: %w", s, cfg.Cluster, err)
		}
		rc.OK = rc.Error == ""
		if len(rc.Gaps) > 0 {
			rc.Limited = limitedBackups(ctx, d, cfg.Namespace, pod, s)
		}
		if !rc.OK || len(rc.Gaps) > 0 {
			if res.OK {
				res.Error = rc.Error
				if res.Error == "" {
					res.Error = rc.Gaps[0].Describe(d.now().Unix())
				}
			}
			res.OK = false
		}
		res.Repositories = append(res.Repositories, rc)
	}
	return res, nil
}

// checkOne runs pgBackRest's check of storage s alone; the returned string is its error line.
func checkOne(ctx context.Context, d Deps, ns, pod string, s pgbackrest.Storage) (string, error) {
	var all strings.Builder
	split := &lineSplitter{fn: func(l string, _ bool) { all.WriteString(l + "\n") }}
	stdout, stderr := split.writer(false), split.writer(true)
	err := d.Exec.Exec(ctx, ns, pod, Container, pgbackrest.CheckRepoArgs(Stanza, s, cluster.ConfigDir), nil, stdout, stderr)
	stdout.flush()
	stderr.flush()
	var ee *kube.ExitError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &ee):
		if line := lastErrorLine(all.String()); line != "" {
			return line, nil
		}
		return fmt.Sprintf("pgbackrest check exited with code %d: %s", ee.Code, strings.TrimSpace(lastLines(all.String(), 3))), nil
	default:
		return "", kube.Explain(err, "create", "pods/exec", ns)
	}
}

// fillGaps reads the primary's gap lists, runs a backfill for every checked repository that has
// one, and returns the gaps left. Without a running primary there is nothing to read: check's own
// run then fails and says so.
func fillGaps(ctx context.Context, d Deps, spec *cluster.Spec, storages []pgbackrest.Storage) []pgbackrest.ArchiveGap {
	p, err := cluster.FindPrimaryPod(ctx, d.Client, spec.Namespace, spec.Name)
	if err != nil {
		return nil
	}
	status := func() []pgbackrest.ArchiveGap { return readGaps(ctx, d, spec, p.Name) }
	gaps := status()
	filled := false
	for _, g := range gaps {
		if g.Lost || !slices.Contains(storages, g.Storage) {
			continue
		}
		fmt.Fprintf(d.errOut(), "  %s: copying them from the other repository\n", g.Describe(d.now().Unix()))
		bctx, cancel := context.WithTimeout(ctx, backfillWait)
		var out bytes.Buffer
		err := d.Exec.Exec(bctx, spec.Namespace, p.Name, manifest.ContainerPostgres,
			pgbackrest.BackfillArgs(cluster.ConfigDir, g.Storage, backfillLockWait), nil, &out, &out)
		cancel()
		if err != nil {
			fmt.Fprintf(d.errOut(), "  copying into %s did not finish: %s\n", g.Storage, strings.TrimSpace(lastLines(out.String(), 1)))
		}
		filled = true
	}
	if filled {
		gaps = status()
	}
	return gaps
}

// archiveGaps reads the gap lists in the primary's pod; none when no primary runs (nothing is
// being archived then) or they cannot be read (a warning says so).
func archiveGaps(ctx context.Context, d Deps, spec *cluster.Spec) []pgbackrest.ArchiveGap {
	p, err := cluster.FindPrimaryPod(ctx, d.Client, spec.Namespace, spec.Name)
	if err != nil {
		return nil
	}
	return readGaps(ctx, d, spec, p.Name)
}

func readGaps(ctx context.Context, d Deps, spec *cluster.Spec, pod string) []pgbackrest.ArchiveGap {
	out, err := execReadIn(ctx, d, spec.Namespace, pod, manifest.ContainerPostgres, pgbackrest.ArchiveStatusArgs(cluster.ConfigDir))
	if err != nil {
		fmt.Fprintf(d.errOut(), "warning: reading the archive gaps of cluster %s: %v\n", spec.Name, err)
		return nil
	}
	return pgbackrest.ParseArchiveStatus(string(out))
}

// limitedBackups lists storage s's backup labels: with a gap in its archive none of them can be
// replayed past the gap's start (new segments join the gap, so nothing after it is there either).
func limitedBackups(ctx context.Context, d Deps, ns, pod string, s pgbackrest.Storage) []string {
	// The repository may be the one that is down: a hung S3 must not hold check up.
	ctx, cancel := context.WithTimeout(ctx, limitedInfoWait)
	defer cancel()
	out, err := execRead(ctx, d, ns, pod, pgbackrest.InfoArgs(Stanza, pgbackrest.RepoKey(s)))
	if err != nil {
		return nil
	}
	sum, err := Summarize(out, []pgbackrest.Storage{s}, "")
	if err != nil {
		return nil
	}
	var labels []string
	for _, r := range sum.Repositories {
		for _, b := range r.Backups {
			labels = append(labels, b.Label)
		}
	}
	return labels
}
