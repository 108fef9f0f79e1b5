package cluster

import "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"

// Retention is one repository's retention policy (pgbackrest.Retention: repoN-retention-*),
// rendered into the repository host's config, where expire applies it.
type Retention = pgbackrest.Retention

// Retention types.
const (
	RetentionCount = pgbackrest.RetentionCount
	RetentionTime  = pgbackrest.RetentionTime
)

// DefaultRetentionFull is the number of full backups kept where no retention was chosen
// (specs written before retention was recorded included).
const DefaultRetentionFull = pgbackrest.DefaultRetentionFull

// RetentionFor is the retention in force for storage st: the spec's, or the default.
func (s *Spec) RetentionFor(st pgbackrest.Storage) Retention {
	return s.Retention[st].WithDefaults()
}
