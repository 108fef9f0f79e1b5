package pgbackrest

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Retention is one repository's retention policy: pgBackRest's repoN-retention-* options.
type Retention struct {
	// Full is repoN-retention-full: how many full backups are kept (FullType count) or for how
	// many days (FullType time).
	Full int `json:"full"`
	// FullType is repoN-retention-full-type: "count" (default) or "time".
	FullType string `json:"fullType,omitempty"`
	// Diff is repoN-retention-diff; 0 leaves pgBackRest's default (differentials expire with
	// their full).
	Diff int `json:"diff,omitempty"`
	// Archive and ArchiveType are repoN-retention-archive(-type); 0 keeps the WAL every retained
	// backup needs for point-in-time recovery.
	Archive     int    `json:"archive,omitempty"`
	ArchiveType string `json:"archiveType,omitempty"`
}

// Retention types (repoN-retention-full-type and repoN-retention-archive-type).
const (
	RetentionCount = "count"
	RetentionTime  = "time"
)

// DefaultRetentionFull is the number of full backups a repository keeps when no retention was
// chosen: with two, a new full backup never leaves the repository with a single one, and the
// previous full's whole period stays restorable while the next is taken (docs/retention.md).
const DefaultRetentionFull = 2

// maxRetention is pgBackRest's upper bound of every retention option.
const maxRetention = 9999999

// WithDefaults fills what pgBackRest would assume: count-type retention of DefaultRetentionFull
// fulls, archive retention following the fulls.
func (r Retention) WithDefaults() Retention {
	if r.Full == 0 {
		r.Full = DefaultRetentionFull
	}
	if r.FullType == "" {
		r.FullType = RetentionCount
	}
	if r.Archive != 0 && r.ArchiveType == "" {
		r.ArchiveType = BackupFull
	}
	return r
}

// Validate checks r as pgBackRest would, in the plugin's flag names.
func (r Retention) Validate() error {
	r = r.WithDefaults()
	var errs []error
	if r.Full < 1 || r.Full > maxRetention {
		errs = append(errs, fmt.Errorf("--retention-full %d must be within 1-%d: a repository without a full backup cannot be restored", r.Full, maxRetention))
	}
	if r.FullType != RetentionCount && r.FullType != RetentionTime {
		errs = append(errs, fmt.Errorf("--retention-full-type %q must be count or time", r.FullType))
	}
	if r.Diff < 0 || r.Diff > maxRetention {
		errs = append(errs, fmt.Errorf("--retention-diff %d must be within 1-%d (or unset: differentials expire with their full)", r.Diff, maxRetention))
	}
	if r.Archive < 0 || r.Archive > maxRetention {
		errs = append(errs, fmt.Errorf("--retention-archive %d must be within 1-%d (or unset: the WAL of every retained backup is kept)", r.Archive, maxRetention))
	}
	if r.ArchiveType != "" && !slices.Contains([]string{BackupFull, BackupDiff, BackupIncr}, r.ArchiveType) {
		errs = append(errs, fmt.Errorf("--retention-archive-type %q must be full, diff or incr", r.ArchiveType))
	}
	if r.ArchiveType != "" && r.Archive == 0 {
		errs = append(errs, errors.New("--retention-archive-type needs --retention-archive N (how many backups of that type keep their WAL)"))
	}
	return errors.Join(errs...)
}

func (r Retention) write(w *confWriter, key int) {
	r = r.WithDefaults()
	p := fmt.Sprintf("repo%d-retention-", key)
	w.set(p+"full", r.Full)
	if r.FullType != RetentionCount {
		w.set(p+"full-type", r.FullType)
	}
	if r.Diff > 0 {
		w.set(p+"diff", r.Diff)
	}
	if r.Archive > 0 {
		w.set(p+"archive", r.Archive)
		w.set(p+"archive-type", r.ArchiveType)
	}
}

func (p ConfigParams) retention(st Storage) Retention { return p.Retention[st].WithDefaults() }

// ExpirePlan is what an expire of one repository removes, computed from its info and retention.
type ExpirePlan struct {
	Storage Storage `json:"storage"`
	// Expire are the labels of the backup sets that go, oldest first.
	Expire []string `json:"expire"`
	// Keep are the labels that stay.
	Keep []string `json:"keep"`
	// WALBefore is the oldest WAL segment that stays: every archived segment before it goes ("" when
	// none goes).
	WALBefore string `json:"walBefore,omitempty"`
	// WindowBefore and WindowAfter are the recoverable window now and after the expire.
	WindowBefore *RecoveryWindow `json:"windowBefore"`
	WindowAfter  *RecoveryWindow `json:"windowAfter"`
}

// ErrLastFull is returned for an expire that would leave a repository without a full backup.
var ErrLastFull = errors.New("no full backup would remain")

// PlanExpire applies retention r to repository rs at now, as pgBackRest's expire does, or, with a
// set label, expires that set and what depends on it (expire --set).
func PlanExpire(rs RepositorySummary, r Retention, set string, now time.Time) (ExpirePlan, error) {
	r = r.WithDefaults()
	plan := ExpirePlan{Storage: rs.Storage, Expire: []string{}, Keep: []string{}, WindowBefore: rs.RecoveryWindow}
	gone := map[string]bool{}
	if set != "" {
		found := false
		for _, b := range rs.Backups {
			if b.Label == set {
				found = true
			}
		}
		if !found {
			return plan, fmt.Errorf("--set %s: no such backup set in %s; `kubectl pgbackrest info` lists them", set, rs.Storage)
		}
		gone[set] = true
	} else {
		fulls := labelsOf(rs.Backups, BackupFull)
		switch r.FullType {
		case RetentionCount:
			for i := 0; i < len(fulls)-r.Full; i++ {
				gone[fulls[i].Label] = true
			}
		case RetentionTime:
			// A full is kept while it, or a newer full, is needed to reach back Full days: the
			// newest full at or before the cutoff stays, older ones go.
			cutoff := now.Add(-time.Duration(r.Full) * 24 * time.Hour)
			anchor := -1
			for i, f := range fulls {
				if !f.Stop.After(cutoff) {
					anchor = i
				}
			}
			for i := 0; i < anchor; i++ {
				gone[fulls[i].Label] = true
			}
		}
		if r.Diff > 0 {
			// pgBackRest counts fulls and diffs together: of all but the newest Diff of them, the
			// diffs go (a full goes only by the full retention).
			var counted []BackupSummary
			for _, b := range rs.Backups {
				if b.Type == BackupFull || b.Type == BackupDiff {
					counted = append(counted, b)
				}
			}
			for i := 0; i < len(counted)-r.Diff; i++ {
				if counted[i].Type == BackupDiff {
					gone[counted[i].Label] = true
				}
			}
		}
	}
	// Dependents go with what they build on (Backups are oldest first, so a prior comes first).
	for _, b := range rs.Backups {
		if b.Prior != "" && gone[b.Prior] {
			gone[b.Label] = true
		}
	}
	after := rs
	after.Backups = nil
	for _, b := range rs.Backups {
		if gone[b.Label] {
			plan.Expire = append(plan.Expire, b.Label)
		} else {
			plan.Keep = append(plan.Keep, b.Label)
			after.Backups = append(after.Backups, b)
		}
	}
	if len(labelsOf(after.Backups, BackupFull)) == 0 && len(rs.Backups) > 0 {
		return plan, fmt.Errorf("%w in %s: expiring %v would leave it with nothing to restore from (every diff and incr builds on a full, so pgBackRest refuses to remove the last one); take a new full backup first", ErrLastFull, rs.Storage, plan.Expire)
	}
	// With time retention and no --retention-archive, pgBackRest expires WAL only when a full went.
	timeKeepsWAL := set == "" && r.FullType == RetentionTime && r.Archive == 0 &&
		len(labelsOf(after.Backups, BackupFull)) == len(labelsOf(rs.Backups, BackupFull))
	if rs.Archive != nil && len(after.Backups) > 0 && !timeKeepsWAL {
		keepFrom := archiveKeepFrom(after.Backups, r)
		if keepFrom > rs.Archive.Min {
			plan.WALBefore = keepFrom
			a := *rs.Archive
			a.Min = keepFrom
			after.Archive = &a
		}
	}
	after.window(after.Archive)
	plan.WindowAfter = after.RecoveryWindow
	return plan, nil
}

// archiveKeepFrom is the oldest segment archive retention keeps: the WAL start of the oldest
// retained backup, or, with --retention-archive N, of the Nth newest backup of its type (older
// backups then keep only the WAL that makes them consistent).
func archiveKeepFrom(kept []BackupSummary, r Retention) string {
	from := kept[0].WALStart
	if r.Archive == 0 {
		return from
	}
	counted := []string{BackupFull}
	switch r.ArchiveType {
	case BackupDiff:
		counted = append(counted, BackupDiff)
	case BackupIncr:
		counted = append(counted, BackupDiff, BackupIncr)
	}
	var of []BackupSummary
	for _, b := range kept {
		if slices.Contains(counted, b.Type) {
			of = append(of, b)
		}
	}
	if len(of) > r.Archive {
		from = of[len(of)-r.Archive].WALStart
	}
	return from
}

func labelsOf(backups []BackupSummary, typ string) []BackupSummary {
	var out []BackupSummary
	for _, b := range backups {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}
