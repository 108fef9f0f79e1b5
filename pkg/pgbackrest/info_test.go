package pgbackrest

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

const infoFixture = "testdata/pgbackrest-2.45-info-two-repos.json"

func readFixture(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(infoFixture)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseInfoFixture(t *testing.T) {
	stanzas, err := ParseInfo(readFixture(t))
	if err != nil {
		t.Fatalf("ParseInfo: %v", err)
	}
	st, err := FindStanza(stanzas, "db")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DB) != 2 || st.DB[0].SystemID != 7711891272163418070 {
		t.Errorf("system-id lost precision: %+v", st.DB)
	}
	if len(st.Backup) != 10 || len(st.Repo) != 2 || len(st.Archive) != 2 {
		t.Errorf("got %d backups, %d repos, %d archives; want 10, 2, 2", len(st.Backup), len(st.Repo), len(st.Archive))
	}
	b, ok := st.FindBackup(1, "20261125-002616F_20261125-002641I")
	if !ok {
		t.Fatal("incr backup not found in repo 1")
	}
	if b.Type != "incr" || b.Prior == nil || *b.Prior != "20261125-002616F_20261125-002630D" || len(b.Reference) != 2 {
		t.Errorf("incr backup decoded wrongly: %+v", b)
	}
	if _, ok := st.FindBackup(2, "20261125-002616F_20261125-002641I"); ok {
		t.Error("a repo 1 backup was found in repo 2")
	}
	if _, err := FindStanza(stanzas, "other"); err == nil {
		t.Error("FindStanza found a missing stanza")
	}
}

func TestSummarizeGolden(t *testing.T) {
	stanzas, err := ParseInfo(readFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(stanzas[0])
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "info-summary.json", append(out, '\n'))

	if len(s.Repositories) != 2 || s.Repositories[0].Storage != Local || s.Repositories[1].Storage != S3 {
		t.Fatalf("repositories: %+v", s.Repositories)
	}
	local := s.Repositories[0]
	w := local.RecoveryWindow
	if w == nil || w.FromBackup != "20261125-002616F" || w.ToWAL != "00000001000000000000007B" {
		t.Fatalf("local window: %+v", w)
	}
	if !w.From.Equal(time.Unix(1795566384, 0)) || w.From.Location() != time.UTC {
		t.Errorf("window starts at %v, want the oldest backup's stop in UTC", w.From)
	}
	if !w.AtLeastUntil.Equal(time.Unix(1795566468, 0)) {
		t.Errorf("window end lower bound %v, want the newest backup's stop", w.AtLeastUntil)
	}
	// repo1's archive starts at ...56: the two oldest sets lack their WAL.
	for i, b := range local.Backups {
		if b.WALInArchive != (i >= 2) {
			t.Errorf("%s: walInArchive %v", b.Label, b.WALInArchive)
		}
	}
	if local.Backups[len(local.Backups)-2].Prior != "20261125-002616F_20261125-002630D" {
		t.Errorf("prior not carried: %+v", local.Backups)
	}
}

// A gap in a repository's archive ends its window before the first missing segment, and sets
// whose WAL reaches into it are no longer promised.
func TestApplyGaps(t *testing.T) {
	stanzas, err := ParseInfo(readFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(stanzas[0])
	local := s.Repositories[0]
	last := local.Backups[len(local.Backups)-1]
	before := *local.RecoveryWindow
	// A gap that starts at the newest set's stop segment: that set is out, the window ends before.
	s.ApplyGaps([]ArchiveGap{{Storage: Local, Segments: 2, First: last.WALStop, Last: "00000001000000000000007B"}})
	local = s.Repositories[0]
	if local.Backups[len(local.Backups)-1].WALInArchive {
		t.Errorf("set %s reaches into the gap but is still in the archive", last.Label)
	}
	w := local.RecoveryWindow
	if w == nil || w.ToWAL != PreviousSegment(last.WALStop) || w.ToWAL >= before.ToWAL || w.FromBackup != before.FromBackup {
		t.Fatalf("window %+v, was %+v", w, before)
	}
	if len(local.Gaps) != 1 || len(s.Repositories[1].Gaps) != 0 {
		t.Errorf("gaps %+v / %+v", local.Gaps, s.Repositories[1].Gaps)
	}
	if s3 := s.Repositories[1]; s3.RecoveryWindow == nil {
		t.Error("the other repository's window changed")
	}
	// A gap from the oldest archived segment leaves nothing to restore.
	s.ApplyGaps([]ArchiveGap{{Storage: S3, Lost: true, First: s.Repositories[1].Archive.Min, Last: s.Repositories[1].Archive.Min}})
	if w := s.Repositories[1].RecoveryWindow; w != nil {
		t.Errorf("s3 window %+v with a gap from the archive's start", w)
	}
}

func TestPreviousSegment(t *testing.T) {
	for in, want := range map[string]string{
		"000000010000000000000002": "000000010000000000000001",
		"000000010000000100000000": "0000000100000000000000FF",
		"00000002000000000000000A": "000000020000000000000009",
		"000000010000000000000000": "000000010000000000000000",
		"history":                  "history",
	} {
		if got := PreviousSegment(in); got != want {
			t.Errorf("PreviousSegment(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestSummarizeEdgeCases(t *testing.T) {
	pct := uint64(5012)
	st := Stanza{
		Name:    "db",
		Status:  StanzaStatus{Code: 2, Message: "no valid backups"},
		Repo:    []RepoInfo{{Key: 2, Status: RepoStatus{Code: 2, Message: "no valid backups"}}},
		DB:      []DBInfo{{ID: 1, RepoKey: 2, Version: "15"}},
		Archive: []ArchiveInfo{{Database: DBRef{ID: 1, RepoKey: 2}, ID: "15-1"}},
	}
	st.Status.Lock.Backup.Held = true
	st.Status.Lock.Backup.PercentCompleteX100 = &pct
	s := Summarize(st)
	if !s.BackupRunning || s.BackupPercent == nil || *s.BackupPercent != 50.12 {
		t.Errorf("running backup: %+v", s)
	}
	r := s.Repositories[0]
	if r.Storage != S3 || r.Archive != nil || r.RecoveryWindow != nil || r.Backups == nil {
		t.Errorf("empty repository: %+v", r)
	}

	// Backups with checksum errors or of an older system are no start for the window.
	st.Archive = append(st.Archive, ArchiveInfo{Database: DBRef{ID: 2, RepoKey: 2}, Min: "000000010000000000000002", Max: "000000010000000000000009"})
	st.DB = append(st.DB, DBInfo{ID: 2, RepoKey: 2, Version: "16"})
	old := BackupInfo{Label: "old", Database: DBRef{ID: 1, RepoKey: 2}}
	old.Timestamp.Start, old.Timestamp.Stop = 10, 20
	bad := BackupInfo{Label: "bad", Database: DBRef{ID: 2, RepoKey: 2}, Error: true, Archive: StartStop{"000000010000000000000002", "000000010000000000000002"}}
	bad.Timestamp.Start, bad.Timestamp.Stop = 30, 40
	good := BackupInfo{Label: "good", Database: DBRef{ID: 2, RepoKey: 2}, Archive: StartStop{"000000010000000000000003", "000000010000000000000004"}}
	good.Timestamp.Start, good.Timestamp.Stop = 50, 60
	st.Backup = []BackupInfo{good, bad, old}
	r = Summarize(st).Repositories[0]
	if r.Backups[0].Label != "old" || r.Backups[0].PGVersion != "15" || r.Backups[2].PGVersion != "16" {
		t.Errorf("backups not oldest first with versions: %+v", r.Backups)
	}
	if r.RecoveryWindow == nil || r.RecoveryWindow.FromBackup != "good" || r.Archive.Max != "000000010000000000000009" {
		t.Errorf("window: %+v archive %+v", r.RecoveryWindow, r.Archive)
	}
}

func TestParseInfoErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"null":       "null",
		"object":     `{"name":"db"}`,
		"text":       "ERROR: [055]: unable to load info file",
		"negative":   `[{"db":[{"system-id":-1}]}]`,
		"truncated":  `[{"name":"db","backup":[`,
		"float size": `[{"backup":[{"info":{"size":1.5}}]}]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseInfo([]byte(in)); !errors.Is(err, ErrInfoOutput) {
				t.Fatalf("want ErrInfoOutput, got %v", err)
			}
		})
	}
	if st, err := ParseInfo([]byte("[]")); err != nil || len(st) != 0 {
		t.Errorf("empty array: %v %v", st, err)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add(readFixture(f))
	f.Add([]byte(`[{"name":"db","status":{"code":0,"lock":{"backup":{"held":true,"pct-cplt":1234}}},"repo":[{"key":3}],"db":[{"id":2,"repo-key":3}]}]`))
	f.Add([]byte(`[{"backup":[{"prior":"x","database":{"id":0,"repo-key":0}}],"archive":[{"min":null,"max":null}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		stanzas, err := ParseInfo(data)
		if err != nil {
			return
		}
		for _, st := range stanzas {
			s := Summarize(st)
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("summary does not marshal: %v", err)
			}
		}
	})
}
