package pgbackrest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Stanza is one element of `pgbackrest info --output=json`, as pgBackRest prints it: 2.45 (the
// PostgreSQL 15 image) and 2.55 (17) alike, whose JSON differ only by fields added (2.48's backup
// lock sizes). Field names follow pgBackRest; Summary is the plugin's own stable view.
type Stanza struct {
	Name    string        `json:"name"`
	Cipher  string        `json:"cipher"`
	Status  StanzaStatus  `json:"status"`
	DB      []DBInfo      `json:"db"`
	Repo    []RepoInfo    `json:"repo"`
	Archive []ArchiveInfo `json:"archive"`
	Backup  []BackupInfo  `json:"backup"`
}

// StanzaStatus is the stanza's overall status. Code 0 is "ok"; 4 ("mixed") means the repositories
// disagree and each RepoInfo.Status says how.
type StanzaStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Lock    struct {
		Backup struct {
			Held bool `json:"held"`
			// SizeComplete and Size are the running backup's bytes done and to do (2.48 and later;
			// absent before, and while the backup has not yet sized its files).
			SizeComplete uint64 `json:"size-cplt,omitempty"`
			Size         uint64 `json:"size,omitempty"`
			// PercentCompleteX100 (5012 means 50.12 %) is what pgBackRest's text output shows;
			// its JSON has never carried it (2.45 to 2.55), but a wrapper may.
			PercentCompleteX100 *uint64 `json:"pct-cplt,omitempty"`
		} `json:"backup"`
	} `json:"lock"`
}

// SystemID is the system-id of the database whose backups and WAL repository repo holds now (its
// newest history entry); 0 when the stanza has none there.
func (s Stanza) SystemID(repo int) uint64 {
	var cur DBInfo
	for _, db := range s.DB {
		if db.RepoKey == repo && db.ID >= cur.ID {
			cur = db
		}
	}
	return cur.SystemID
}

// DBInfo is one PostgreSQL cluster history entry of one repository.
type DBInfo struct {
	ID      int `json:"id"`
	RepoKey int `json:"repo-key"`
	// SystemID exceeds 2^53, so it must never pass through float64.
	SystemID uint64 `json:"system-id"`
	Version  string `json:"version"`
}

// RepoStatus is a status code and message; code 0 is "ok".
type RepoStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// RepoInfo is one configured repository.
type RepoInfo struct {
	Key    int        `json:"key"`
	Cipher string     `json:"cipher"`
	Status RepoStatus `json:"status"`
}

// DBRef says which repository and which DBInfo an entry belongs to.
type DBRef struct {
	ID      int `json:"id"`
	RepoKey int `json:"repo-key"`
}

// ArchiveInfo is the WAL range held in one repository for one PostgreSQL cluster history entry.
type ArchiveInfo struct {
	Database DBRef  `json:"database"`
	ID       string `json:"id"` // e.g. "15-1"
	Min      string `json:"min"`
	Max      string `json:"max"`
}

// StartStop is a pair of strings such as WAL segment names or LSNs.
type StartStop struct {
	Start string `json:"start"`
	Stop  string `json:"stop"`
}

// BackupInfo is one backup set.
type BackupInfo struct {
	Label    string    `json:"label"`
	Type     string    `json:"type"` // full, diff or incr
	Database DBRef     `json:"database"`
	Archive  StartStop `json:"archive"`
	LSN      StartStop `json:"lsn"`
	Backrest struct {
		Format  int    `json:"format"`
		Version string `json:"version"`
	} `json:"backrest"`
	// Error is true when page checksum errors were found while backing up.
	Error     bool     `json:"error"`
	ErrorList []string `json:"error-list,omitempty"`
	Info      struct {
		Size       uint64 `json:"size"`
		Delta      uint64 `json:"delta"`
		Repository struct {
			Size  uint64 `json:"size"`
			Delta uint64 `json:"delta"`
		} `json:"repository"`
	} `json:"info"`
	Prior     *string  `json:"prior"`
	Reference []string `json:"reference"`
	Timestamp struct {
		Start int64 `json:"start"` // epoch seconds
		Stop  int64 `json:"stop"`
	} `json:"timestamp"`
	Annotation map[string]string `json:"annotation,omitempty"`
}

// ErrInfoOutput marks output that is not what `pgbackrest info --output=json` prints.
var ErrInfoOutput = errors.New("unexpected pgbackrest info output")

// ParseInfo decodes `pgbackrest info --output=json`.
func ParseInfo(data []byte) ([]Stanza, error) {
	var stanzas []Stanza
	if err := json.Unmarshal(data, &stanzas); err != nil {
		return nil, fmt.Errorf("parsing pgbackrest info output: %w: %w", ErrInfoOutput, err)
	}
	if stanzas == nil {
		return nil, fmt.Errorf("parsing pgbackrest info output: %w: expected a JSON array of stanzas", ErrInfoOutput)
	}
	return stanzas, nil
}

// FindStanza returns the stanza called name.
func FindStanza(stanzas []Stanza, name string) (Stanza, error) {
	for _, st := range stanzas {
		if st.Name == name {
			return st, nil
		}
	}
	return Stanza{}, fmt.Errorf("stanza %q not in pgbackrest info output: has the cluster's stanza been created?", name)
}

// FindBackup returns the backup set with label in repository repoKey.
func (st Stanza) FindBackup(repoKey int, label string) (BackupInfo, bool) {
	for _, b := range st.Backup {
		if b.Label == label && b.Database.RepoKey == repoKey {
			return b, true
		}
	}
	return BackupInfo{}, false
}

// Summary is what `kubectl pgbackrest info -o json` prints for one stanza. Its field names are a
// stable interface: add fields, never rename them.
type Summary struct {
	// Stanza is the pgBackRest stanza name ("db").
	Stanza string `json:"stanza"`
	// Status is the stanza's overall status: code 0 "ok"; 4 "mixed" when repositories disagree.
	Status RepoStatus `json:"status"`
	// BackupRunning is true while a backup or expire holds the stanza's lock.
	BackupRunning bool `json:"backupRunning"`
	// BackupPercent is the running backup's progress (0-100), when pgBackRest reports it.
	BackupPercent *float64 `json:"backupPercent,omitempty"`
	// Repositories are ordered by key.
	Repositories []RepositorySummary `json:"repositories"`
}

// RepositorySummary describes one repository of a stanza.
type RepositorySummary struct {
	// Key is the pgBackRest repository index: 1 for local, 2 for s3.
	Key int `json:"key"`
	// Storage is "local" or "s3"; empty for a key the plugin does not configure.
	Storage Storage `json:"storage"`
	// Status is this repository's status: code 0 "ok", 2 "no valid backups", ...
	Status RepoStatus `json:"status"`
	// Encrypted is true when the repository is encrypted; Cipher names its cipher ("none" or
	// "aes-256-cbc"), as pgBackRest reports it.
	Encrypted bool   `json:"encrypted"`
	Cipher    string `json:"cipher"`
	// Backups are ordered oldest first, and include sets of earlier PostgreSQL system ids.
	Backups []BackupSummary `json:"backups"`
	// Archive is the WAL range of the current PostgreSQL system; null when no WAL is archived.
	Archive *WALRange `json:"archive"`
	// RecoveryWindow is null when no usable backup exists.
	RecoveryWindow *RecoveryWindow `json:"recoveryWindow"`
	// Gaps are WAL segments missing from this repository after an outage (not yet copied from
	// the other repository, or lost); the window ends before the first.
	Gaps []ArchiveGap `json:"gaps,omitempty"`
}

// BackupSummary describes one backup set.
type BackupSummary struct {
	// Label identifies the set; pass it to restore --set.
	Label string `json:"label"`
	// Type is full, diff or incr.
	Type string `json:"type"`
	// Start and Stop are when pgBackRest started and finished the backup, in UTC.
	Start time.Time `json:"start"`
	Stop  time.Time `json:"stop"`
	// Size is the database size; Delta the part of it this set copied (less for diff/incr).
	Size  uint64 `json:"size"`
	Delta uint64 `json:"delta"`
	// RepoSize and RepoDelta are the same after compression, as stored in the repository.
	RepoSize  uint64 `json:"repoSize"`
	RepoDelta uint64 `json:"repoDelta"`
	// WALStart and WALStop are the WAL segments needed to make this set consistent.
	WALStart string `json:"walStart"`
	WALStop  string `json:"walStop"`
	// LSNStart and LSNStop are the backup's start and stop LSNs.
	LSNStart string `json:"lsnStart"`
	LSNStop  string `json:"lsnStop"`
	// Prior is the set a diff or incr builds on; empty for full.
	Prior string `json:"prior,omitempty"`
	// Error is true when pgBackRest found page checksum errors in this set.
	Error bool `json:"error"`
	// PGVersion is the PostgreSQL major version the set was taken from.
	PGVersion string `json:"pgVersion"`
	// WALInArchive is true when WALStart..WALStop lie within the repository's archive of the current
	// PostgreSQL system. When false the set cannot become consistent (unless it was taken with
	// --archive-copy), so a restore of it fails.
	WALInArchive bool `json:"walInArchive"`
}

// WALRange is the oldest and newest archived WAL segment.
type WALRange struct {
	Min string `json:"min"`
	Max string `json:"max"`
}

// RecoveryWindow is the range a point-in-time restore from this repository can reach.
//
// Its start is the stop time of the oldest backup whose WAL is still archived, not its start time:
// recovery cannot end before the backup is consistent, so earlier targets fail. Its end is "the end of the archive": info does not
// know the time of the newest WAL record, so the window gives the newest segment (ToWAL) and the
// newest backup's stop time as a lower bound (AtLeastUntil); the real end is later whenever WAL was
// archived after that backup.
type RecoveryWindow struct {
	// From is the earliest target time that can be restored (UTC).
	From time.Time `json:"from"`
	// FromBackup is the label of the backup that From belongs to.
	FromBackup string `json:"fromBackup"`
	// ToWAL is the newest archived WAL segment: restore without a target replays up to it.
	ToWAL string `json:"toWAL"`
	// AtLeastUntil is the newest backup's stop time (UTC); the window reaches at least this far.
	AtLeastUntil time.Time `json:"atLeastUntil"`
}

// Summarize derives the plugin's view of one stanza.
func Summarize(st Stanza) Summary {
	s := Summary{
		Stanza:        st.Name,
		Status:        RepoStatus{Code: st.Status.Code, Message: st.Status.Message},
		BackupRunning: st.Status.Lock.Backup.Held,
		Repositories:  []RepositorySummary{},
	}
	if b := st.Status.Lock.Backup; b.Size > 0 {
		// Two decimals, as pgBackRest's own text output rounds it.
		v := float64(min(b.SizeComplete, b.Size)*10000/b.Size) / 100
		s.BackupPercent = &v
	} else if pct := b.PercentCompleteX100; pct != nil {
		v := float64(*pct) / 100
		s.BackupPercent = &v
	}

	repos := slices.Clone(st.Repo)
	slices.SortFunc(repos, func(a, b RepoInfo) int { return cmp.Compare(a.Key, b.Key) })
	for _, r := range repos {
		s.Repositories = append(s.Repositories, summarizeRepo(st, r))
	}
	return s
}

func summarizeRepo(st Stanza, r RepoInfo) RepositorySummary {
	rs := RepositorySummary{
		Key:     r.Key,
		Storage: StorageForRepoKey(r.Key),
		Status:  r.Status,
		Backups: []BackupSummary{},
		Cipher:  cmp.Or(r.Cipher, CipherNone),
	}
	rs.Encrypted = rs.Cipher != CipherNone

	// After a stanza-upgrade a repository holds several PostgreSQL histories; only the newest one
	// (highest id) can be continued by archiving and restored to its end.
	versions := map[int]string{}
	current := 0
	for _, db := range st.DB {
		if db.RepoKey != r.Key {
			continue
		}
		versions[db.ID] = db.Version
		current = max(current, db.ID)
	}

	var backups []BackupInfo
	for _, b := range st.Backup {
		if b.Database.RepoKey == r.Key {
			backups = append(backups, b)
		}
	}
	slices.SortStableFunc(backups, func(a, b BackupInfo) int {
		return cmp.Or(cmp.Compare(a.Timestamp.Start, b.Timestamp.Start), cmp.Compare(a.Label, b.Label))
	})
	for _, b := range backups {
		bs := BackupSummary{
			Label:     b.Label,
			Type:      b.Type,
			Start:     time.Unix(b.Timestamp.Start, 0).UTC(),
			Stop:      time.Unix(b.Timestamp.Stop, 0).UTC(),
			Size:      b.Info.Size,
			Delta:     b.Info.Delta,
			RepoSize:  b.Info.Repository.Size,
			RepoDelta: b.Info.Repository.Delta,
			WALStart:  b.Archive.Start,
			WALStop:   b.Archive.Stop,
			LSNStart:  b.LSN.Start,
			LSNStop:   b.LSN.Stop,
			Error:     b.Error,
			PGVersion: versions[b.Database.ID],
		}
		if b.Prior != nil {
			bs.Prior = *b.Prior
		}
		rs.Backups = append(rs.Backups, bs)
	}

	for _, a := range st.Archive {
		if a.Database.RepoKey == r.Key && a.Database.ID == current && (a.Min != "" || a.Max != "") {
			rs.Archive = &WALRange{Min: a.Min, Max: a.Max}
		}
	}

	// Only sets of the current history whose WAL is still archived can be followed by the archive.
	for i, b := range backups {
		if b.Database.ID != current || rs.Archive == nil {
			continue
		}
		// Segment names of one history sort like the WAL they name, which is how pgBackRest
		// computes min and max too.
		rs.Backups[i].WALInArchive = b.Archive.Start != "" && b.Archive.Start >= rs.Archive.Min && b.Archive.Stop <= rs.Archive.Max
	}
	rs.window(rs.Archive)
	return rs
}

// window sets RecoveryWindow from the backups whose WAL lies in archive. A set with checksum
// errors still restores, but the window does not promise it.
func (rs *RepositorySummary) window(archive *WALRange) {
	rs.RecoveryWindow = nil
	var usable []BackupSummary
	for _, b := range rs.Backups {
		if b.WALInArchive && !b.Error {
			usable = append(usable, b)
		}
	}
	if len(usable) == 0 || archive == nil {
		return
	}
	oldest, newest := usable[0], usable[0]
	for _, b := range usable {
		if b.Stop.Before(oldest.Stop) {
			oldest = b
		}
		if b.Stop.After(newest.Stop) {
			newest = b
		}
	}
	rs.RecoveryWindow = &RecoveryWindow{
		From:         oldest.Stop,
		FromBackup:   oldest.Label,
		ToWAL:        archive.Max,
		AtLeastUntil: newest.Stop,
	}
}

// ApplyGaps makes the summary say no more than the archive holds: pgBackRest's archive range
// spans a hole left by an outage (segments given up past the backlog bound, or not yet copied
// from the other repository), so replay stops before a repository's first missing segment. Sets
// whose WAL reaches into it cannot become consistent, and the window ends before it.
func (s *Summary) ApplyGaps(gaps []ArchiveGap) {
	for i := range s.Repositories {
		rs := &s.Repositories[i]
		first := ""
		for _, g := range gaps {
			if g.Storage == rs.Storage {
				rs.Gaps = append(rs.Gaps, g)
				if first == "" || g.First < first {
					first = g.First
				}
			}
		}
		if first == "" || rs.Archive == nil || first > rs.Archive.Max {
			continue
		}
		limit := &WALRange{Min: rs.Archive.Min, Max: PreviousSegment(first)}
		for j, b := range rs.Backups {
			if b.WALInArchive && b.WALStop > limit.Max {
				rs.Backups[j].WALInArchive = false
			}
		}
		if limit.Max < limit.Min {
			limit = nil
		}
		rs.window(limit)
	}
}

// PreviousSegment is the WAL segment before seg (24 hex digits: timeline, log, segment of 16 MB,
// 256 to a log); seg itself when it has none or is not a segment name.
func PreviousSegment(seg string) string {
	if len(seg) < 24 {
		return seg
	}
	tli, log, n := seg[:8], seg[8:16], seg[16:24]
	l, err1 := strconv.ParseUint(log, 16, 32)
	x, err2 := strconv.ParseUint(n, 16, 32)
	if err1 != nil || err2 != nil || (l == 0 && x == 0) {
		return seg
	}
	if x == 0 {
		l, x = l-1, 0xFF
	} else {
		x--
	}
	return fmt.Sprintf("%s%08X%08X", tli, l, x)
}
