package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// ExpirePurpose is written to the Lease while an expire holds it.
const ExpirePurpose = "expire"

// expireWait bounds one repository's expire: it deletes files, which on S3 is one request per
// file of each set, so a large set takes a while; a hung repository must not hold the Lease forever.
const expireWait = 30 * time.Minute

// ExpireConfig is one `kubectl pgbackrest expire` run.
type ExpireConfig struct {
	Namespace, Cluster string
	// Storages limits the expire to these repositories; nil: every one.
	Storages []pgbackrest.Storage
	// Set, when not empty, expires that backup set and the sets that depend on it.
	Set string
	// DryRun computes the plan and changes nothing.
	DryRun bool
	// Holder identifies this run in the Lease (kube.Holder()).
	Holder string
}

// ExpireResult is what `expire -o json` prints. Its json names are a stable interface.
type ExpireResult struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	DryRun    bool   `json:"dryRun"`
	// Repositories are the plans, one per repository looked at.
	Repositories []pgbackrest.ExpirePlan `json:"repositories"`
	// Expired are the sets gone after the run, per storage (empty for a dry run).
	Expired map[pgbackrest.Storage][]string `json:"expired"`
}

// Expire plans, and unless DryRun runs, pgBackRest's expire in the repository host: the plan is
// computed from info and the retention in force, so the user sees what goes before it goes; the
// run then holds the cluster's Lease (no backup or restore beside it) and checks afterwards that
// exactly the announced sets are gone.
func Expire(ctx context.Context, d Deps, cfg ExpireConfig) (*ExpireResult, error) {
	spec, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	// A restore reads the sets it restores from; expiring under it could remove them.
	if err := cluster.RefuseMidRestore(ctx, d.Client, cfg.Namespace, cfg.Cluster, "expire"); err != nil {
		return nil, refused(err)
	}
	res, err := planExpire(ctx, d, spec, pod, cfg)
	if err != nil || cfg.DryRun {
		return res, err
	}
	lease, err := kube.AcquireLease(ctx, d.Client, spec.LeaseConfig(cfg.Holder, ExpirePurpose, cluster.RoleBackup, d.now, d.LeaseRecheck, d.errOut()))
	if err != nil {
		return nil, fmt.Errorf("expire of cluster %s refused: %w", cfg.Cluster, err)
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			output.Warn(d.errOut(), nil, "%v", err)
		}
	}()
	// Plan again under the Lease: a backup that ran meanwhile changes what goes.
	if res, err = planExpire(ctx, d, spec, pod, cfg); err != nil {
		return nil, err
	}
	for _, p := range res.Repositories {
		if len(p.Expire) == 0 && p.WALBefore == "" {
			fmt.Fprintf(d.errOut(), "%s: nothing to expire\n", RepoName(p.Storage))
			continue
		}
		if err := lease.Check(ctx); err != nil {
			return res, err
		}
		fmt.Fprintf(d.errOut(), "expiring in %s: %s\n", RepoName(p.Storage), describePlan(p))
		ectx, cancel := context.WithTimeout(ctx, expireWait)
		// Expire is safe to repeat (it applies the same retention again), so a broken exec is retried.
		_, err := execRead(ectx, d, cfg.Namespace, pod, pgbackrest.ExpireArgs(Stanza, pgbackrest.RepoKey(p.Storage), cfg.Set))
		cancel()
		if err != nil {
			return res, fmt.Errorf("expiring backups of cluster %s in %s: %w", cfg.Cluster, RepoName(p.Storage), err)
		}
	}
	after, err := infoOf(ctx, d, spec, pod, InfoConfig{Namespace: cfg.Namespace, Cluster: cfg.Cluster, Storages: storagesOf(res.Repositories)})
	if err != nil {
		return res, fmt.Errorf("reading backups after the expire: %w", err)
	}
	res.Expired = map[pgbackrest.Storage][]string{}
	for _, p := range res.Repositories {
		left := labelsIn(after, p.Storage)
		gone := []string{}
		for _, l := range append(slices.Clone(p.Expire), p.Keep...) {
			if !slices.Contains(left, l) {
				gone = append(gone, l)
			}
		}
		res.Expired[p.Storage] = gone
		if !slices.Equal(gone, p.Expire) {
			output.Warn(d.errOut(), nil, "%s: expected %v to go, pgBackRest removed %v; `kubectl pgbackrest info %s` shows what is left",
				RepoName(p.Storage), p.Expire, gone, cfg.Cluster)
		}
	}
	return res, nil
}

func planExpire(ctx context.Context, d Deps, spec *cluster.Spec, pod string, cfg ExpireConfig) (*ExpireResult, error) {
	sum, err := infoOf(ctx, d, spec, pod, InfoConfig{Namespace: cfg.Namespace, Cluster: cfg.Cluster, Storages: cfg.Storages})
	if err != nil {
		return nil, err
	}
	res := &ExpireResult{Cluster: cfg.Cluster, Namespace: cfg.Namespace, DryRun: cfg.DryRun, Repositories: []pgbackrest.ExpirePlan{}}
	now := d.now()
	var errs []error
	for _, rs := range sum.Repositories {
		if rs.Storage == "" {
			continue
		}
		if cfg.Set != "" && !slices.ContainsFunc(rs.Backups, func(b pgbackrest.BackupSummary) bool { return b.Label == cfg.Set }) {
			continue
		}
		p, err := pgbackrest.PlanExpire(rs, spec.RetentionFor(rs.Storage), cfg.Set, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Repositories = append(res.Repositories, p)
	}
	if len(errs) > 0 {
		return nil, exitcode.Usage(fmt.Errorf("expire of cluster %s refused, nothing removed: %w", cfg.Cluster, errors.Join(errs...)))
	}
	if cfg.Set != "" && len(res.Repositories) == 0 {
		return nil, exitcode.Usage(fmt.Errorf("--set %s: cluster %s has no such backup set; `kubectl pgbackrest info %s` lists them: %w", cfg.Set, cfg.Cluster, cfg.Cluster, ErrSetNotFound))
	}
	return res, nil
}

// describePlan says in one line what an expire of one repository removes.
func describePlan(p pgbackrest.ExpirePlan) string {
	var parts []string
	if len(p.Expire) == 0 {
		parts = append(parts, "no backup set")
	} else {
		parts = append(parts, fmt.Sprintf("%d backup set(s) %s", len(p.Expire), strings.Join(p.Expire, ", ")))
	}
	if p.WALBefore != "" {
		parts = append(parts, "the WAL before "+p.WALBefore)
	}
	return strings.Join(parts, " and ")
}

// DescribeWindow is a recoverable window as one phrase.
func DescribeWindow(w *pgbackrest.RecoveryWindow) string {
	if w == nil {
		return "none"
	}
	return fmt.Sprintf("%s → %s (at least until %s)", w.From.UTC().Format(time.RFC3339), w.ToWAL, w.AtLeastUntil.UTC().Format(time.RFC3339))
}

func storagesOf(plans []pgbackrest.ExpirePlan) []pgbackrest.Storage {
	out := make([]pgbackrest.Storage, len(plans))
	for i, p := range plans {
		out[i] = p.Storage
	}
	return out
}

func labelsIn(sum *pgbackrest.Summary, st pgbackrest.Storage) []string {
	var out []string
	for _, rs := range sum.Repositories {
		if rs.Storage == st {
			for _, b := range rs.Backups {
				out = append(out, b.Label)
			}
		}
	}
	return out
}
