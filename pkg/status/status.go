// Package status gathers what `kubectl pgbackrest status` shows of a cluster (the primary, WAL
// archiving, each repository, the Lease, a restore in progress, schedules, certificates) and
// judges its health. Gathering is one exec in the primary, one in the repository host and a few
// API reads, run at once; the health rules (Evaluate) are pure.
package status

import (
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Status is what `status -o json` prints for one cluster. Its field names are a stable interface
// (docs/output.md): add fields, never rename them.
type Status struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Time is when status was read (UTC).
	Time time.Time `json:"time"`
	// Healthy is false when Problems is not empty (exit status 4).
	Healthy  bool      `json:"healthy"`
	Problems []Problem `json:"problems"`

	Primary      Primary      `json:"primary"`
	Archiving    Archiving    `json:"archiving"`
	Repositories []Repository `json:"repositories"`
	// Lease is the run holding the cluster's Lease (a backup, restore, ...); null when none.
	Lease *Lease `json:"lease"`
	// Restore is a restore in progress; null when none.
	Restore   *Restore   `json:"restore"`
	Schedules []Schedule `json:"schedules"`
	// CertificatesNotAfter is when the first pgBackRest TLS certificate expires; null when unread.
	CertificatesNotAfter *time.Time `json:"certificatesNotAfter"`

	summary *pgbackrest.Summary
}

// Problem is one reason the cluster is unhealthy: what is wrong and what to do.
type Problem struct {
	// Check names the rule: primary, archiving, backup-age, no-backup, repository, data-volume, certificates.
	Check string `json:"check"`
	// Storage is the repository concerned, when one is.
	Storage pgbackrest.Storage `json:"storage,omitempty"`
	Message string             `json:"message"`
	Fix     string             `json:"fix"`
}

// Repository is one repository of the cluster.
type Repository struct {
	Storage pgbackrest.Storage `json:"storage"`
	Key     int                `json:"key"`
	// Status is pgBackRest's status of the repository ("ok", "no valid backups", ...).
	Status string `json:"status"`
	// Error says why the repository could not be read (info failed or timed out).
	Error string `json:"error,omitempty"`
	// Backups is how many backup sets it holds; Oldest is the first of them.
	Backups  int     `json:"backups"`
	Oldest   *Backup `json:"oldest"`
	LastFull *Backup `json:"lastFull"`
	LastDiff *Backup `json:"lastDiff"`
	LastIncr *Backup `json:"lastIncr"`
	// Newest is the newest backup of any type: --max-backup-age applies to it.
	Newest *Backup `json:"newest"`
	// MaxBackupAge is the age limit applied to Newest, and where it comes from.
	MaxBackupAge       Duration `json:"maxBackupAge"`
	MaxBackupAgeSource string   `json:"maxBackupAgeSource"`
	// Archive is the repository's WAL range; RecoveryWindow what a point-in-time restore reaches.
	Archive        *pgbackrest.WALRange       `json:"archive"`
	RecoveryWindow *pgbackrest.RecoveryWindow `json:"recoveryWindow"`
	// BackupBytes is the space the backup sets take in the repository (their repoDelta), WAL not
	// counted.
	BackupBytes int64 `json:"backupBytes"`
	// VolumeUsedBytes and VolumeSizeBytes are the local repository volume's use (df); 0 for s3.
	VolumeUsedBytes int64 `json:"volumeUsedBytes"`
	VolumeSizeBytes int64 `json:"volumeSizeBytes"`
	// Retention is the retention in force.
	Retention Retention `json:"retention"`
}

// Backup is one backup set as status shows it.
type Backup struct {
	Label string    `json:"label"`
	Type  string    `json:"type"`
	Stop  time.Time `json:"stop"`
	// Age is the time from its stop to Status.Time.
	Age Duration `json:"age"`
}

// Retention is cluster.Retention as printed.
type Retention struct {
	Full        int    `json:"full"`
	FullType    string `json:"fullType"`
	Diff        int    `json:"diff,omitempty"`
	Archive     int    `json:"archive,omitempty"`
	ArchiveType string `json:"archiveType,omitempty"`
}

// Lease is the holder of the cluster's Lease.
type Lease struct {
	Holder  string     `json:"holder"`
	Purpose string     `json:"purpose"`
	Since   *time.Time `json:"since"`
}

// Restore is a restore in progress, as recorded on the cluster ConfigMap.
type Restore struct {
	ID     string `json:"id"`
	Phase  string `json:"phase"`
	Target string `json:"target"`
	PVC    string `json:"pvc"`
}

// Schedule is one backup schedule (a CronJob) and its last run.
type Schedule struct {
	Name      string             `json:"name"`
	Type      string             `json:"type"`
	Storage   pgbackrest.Storage `json:"storage"`
	Schedule  string             `json:"schedule"`
	TimeZone  string             `json:"timeZone,omitempty"`
	Suspended bool               `json:"suspended"`
	// Period is the time between two runs, from the cron expression; 0 when it could not be read.
	Period         Duration   `json:"period"`
	LastSchedule   *time.Time `json:"lastSchedule"`
	LastSuccessful *time.Time `json:"lastSuccessful"`
	// LastJob is the newest Job of the schedule and LastResult its outcome: succeeded, failed,
	// running, or "" with no Job.
	LastJob    string `json:"lastJob"`
	LastResult string `json:"lastResult"`
}

// Duration prints as Go's duration string ("36h0m0s") and its seconds.
type Duration struct {
	Seconds int64  `json:"seconds"`
	Text    string `json:"text"`
}

// DurationOf makes a Duration of d, whole seconds.
func DurationOf(d time.Duration) Duration {
	d = d.Truncate(time.Second)
	return Duration{Seconds: int64(d / time.Second), Text: d.String()}
}

// Backups returns what pgBackRest's info said of the repositories (with the archive gaps
// applied), as `info -o json` prints it: nil when it could not be read. A timeline picture of
// recoverability (`status --timeline`) draws from it.
func (s *Status) Backups() *pgbackrest.Summary { return s.summary }
