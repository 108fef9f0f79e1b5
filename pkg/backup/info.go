package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
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

// CheckResult is pgBackRest check's verdict.
type CheckResult struct {
	Cluster string `json:"cluster"`
	// Storages are the repositories checked.
	Storages []pgbackrest.Storage `json:"storages"`
	OK       bool                 `json:"ok"`
	// Error is pgBackRest's error line when the check failed.
	Error string `json:"error,omitempty"`
}

// Verdict is the one line that says how the check went.
func (r *CheckResult) Verdict() string {
	if r.OK {
		return fmt.Sprintf("✓ archiving to %s works", repoNames(r.Storages))
	}
	return fmt.Sprintf("✗ archiving to %s fails: %s", repoNames(r.Storages), r.Error)
}

// Check runs `pgbackrest check` in the repository host pod: it switches WAL and waits until the
// segment reaches every checked repository. A failing check is a CheckResult with OK false, not an
// error; errors are for not being able to run it. Check is not retried: it makes PostgreSQL switch
// WAL.
func Check(ctx context.Context, d Deps, cfg CheckConfig) (*CheckResult, error) {
	spec, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	repo, storages, err := RepoStorages(spec, cfg.Storages)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Cluster: cfg.Cluster, Storages: storages}
	var all strings.Builder
	split := &lineSplitter{fn: func(l string, _ bool) { all.WriteString(l + "\n") }}
	stdout, stderr := split.writer(false), split.writer(true)
	err = d.Exec.Exec(ctx, cfg.Namespace, pod, Container, pgbackrest.CheckArgs(Stanza, repo), nil, stdout, stderr)
	stdout.flush()
	stderr.flush()
	var ee *kube.ExitError
	switch {
	case err == nil:
		res.OK = true
	case errors.As(err, &ee):
		res.Error = lastErrorLine(all.String())
		if res.Error == "" {
			res.Error = fmt.Sprintf("pgbackrest check exited with code %d: %s", ee.Code, strings.TrimSpace(lastLines(all.String(), 3)))
		}
	default:
		return nil, fmt.Errorf("running pgbackrest check for cluster %s: %w", cfg.Cluster, kube.Explain(err, "create", "pods/exec", cfg.Namespace))
	}
	return res, nil
}
