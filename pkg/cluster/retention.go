package cluster

import "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"

// Retention is one repository's retention policy, pgBackRest's repoN-retention-* options
// (rendered into the repository host's config; expire applies it).
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

// Retention types.
const (
	RetentionCount = "count"
	RetentionTime  = "time"
)

// DefaultRetentionFull is the number of full backups kept where no retention was chosen
// (specs written before retention was recorded included).
const DefaultRetentionFull = 2

// RetentionFor is the retention in force for storage st: the spec's, or the default.
func (s *Spec) RetentionFor(st pgbackrest.Storage) Retention {
	r, ok := s.Retention[st]
	if !ok || r.Full == 0 {
		r.Full = DefaultRetentionFull
	}
	if r.FullType == "" {
		r.FullType = RetentionCount
	}
	return r
}
