package pgbackrest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseHistory(t *testing.T) {
	// As PostgreSQL 15 writes it: the reason of a time target ends with its own newline.
	data := "1\t0/5000060\tbefore 2026-12-02 01:02:03.456789+00\n\n2\t0/7000028\tno recovery target specified\n"
	h, err := ParseHistory(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Parent != 1 || h[0].Switch.String() != "0/5000060" || h[1].Parent != 2 || h[1].Reason != "no recovery target specified" {
		t.Fatalf("ParseHistory = %+v", h)
	}
	bt, inf, ok := h[0].BranchTime()
	if !ok || inf || !bt.Equal(time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.UTC)) {
		t.Errorf("BranchTime = %v %v %v", bt, inf, ok)
	}
	if _, inf, ok := h[1].BranchTime(); !ok || !inf {
		t.Errorf("end of archive: BranchTime infinite=%v ok=%v, want both", inf, ok)
	}
	if _, _, ok := (HistoryEntry{Reason: `at restore point "x"`}).BranchTime(); ok {
		t.Error("a restore point names no time")
	}
	for _, bad := range []string{"x\t0/1\tr", "1\tnope\tr", "1"} {
		if _, err := ParseHistory(bad); err == nil {
			t.Errorf("ParseHistory(%q) accepted", bad)
		}
	}
}

func TestSegments(t *testing.T) {
	if tl := SegmentTimeline("00000003000000000000004B"); tl != 3 {
		t.Errorf("SegmentTimeline = %d", tl)
	}
	if end := SegmentEnd("00000001000000010000004B"); end.String() != "1/4C000000" {
		t.Errorf("SegmentEnd = %s", end)
	}
	if tl := HistoryFileTimeline("0000000A.history"); tl != 10 {
		t.Errorf("HistoryFileTimeline = %d", tl)
	}
}

func TestParseRepoLs(t *testing.T) {
	out := `{".":{"type":"path"},"0000000100000000":{"type":"path"},"00000002.history":{"type":"file","size":42,"time":1796173323}}`
	files, err := ParseRepoLs([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[1].Name != "00000002.history" || files[1].Size != 42 || files[1].Time.Unix() != 1796173323 {
		t.Errorf("ParseRepoLs = %+v", files)
	}
	if f, err := ParseRepoLs([]byte("\n")); err != nil || f != nil {
		t.Errorf("empty output: %v %v", f, err)
	}
}

// The archive of a cluster restored twice (times in minutes after 01:00 on 2026-12-02):
//
//	timeline 1: takes writes from the start; backup F1 ends at :05; restore A at :20 goes back to :10
//	  (the first commit it did not replay was at :12).
//	timeline 2: begins at :21 (branched from 1 at 0/5000060); backup F2 ends at :25; restore B at :40
//	  goes back to :08 on timeline 1 (--target-timeline=1: first commit not replayed at :09).
//	timeline 3: begins at :41 (branched from 1 at 0/4800000).
func twoRestores(t *testing.T) (Timelines, []BackupSummary) {
	t.Helper()
	at := func(m int) time.Time { return time.Date(2026, 12, 2, 1, m, 0, 0, time.UTC) }
	ts, err := BuildTimelines([]HistoryFile{
		{Timeline: 3, Data: "1\t0/4800000\tbefore " + FormatTargetTime(at(9)) + "\n", Time: at(41)},
		{Timeline: 2, Data: "1\t0/5000060\tbefore " + FormatTargetTime(at(12)) + "\n", Time: at(21)},
	})
	if err != nil {
		t.Fatal(err)
	}
	backups := []BackupSummary{
		{Label: "F1", Stop: at(5), WALStart: "000000010000000000000002", LSNStop: "0/2000100", WALInArchive: true},
		{Label: "F2", Stop: at(25), WALStart: "000000020000000000000006", LSNStop: "0/6000100", WALInArchive: true},
	}
	return ts, backups
}

func TestPlanTimeline(t *testing.T) {
	ts, backups := twoRestores(t)
	tm := func(m int) string { return FormatTargetTime(time.Date(2026, 12, 2, 1, m, 0, 0, time.UTC)) }
	tests := []struct {
		name      string
		target    Target
		set       string
		follow    uint32
		wantSet   string
		err       error
		errSubstr []string
	}{
		// Before timeline 3 left timeline 1: the newest timeline holds the same data.
		{name: "before the branch", target: Target{Type: TargetTime, Value: tm(7)}, follow: 3, wantSet: "F1"},
		// Timeline 1 took writes at :15, but timeline 3 left it at :09: refused without a timeline.
		{name: "shadowed on 1", target: Target{Type: TargetTime, Value: tm(15)}, err: ErrShadowed,
			errSubstr: []string{"timeline 1 took the writes", "--target-timeline=1", "--target-timeline=3", "from 2026-12-02 01:09:00+00"}},
		{name: "named 1", target: Target{Type: TargetTime, Value: tm(15), Timeline: "1"}, follow: 1, wantSet: "F1"},
		// Timeline 2 is a dead branch: its data at :30 is reachable only by naming it, from F2
		// (newest on its history; F1 is on it too).
		{name: "dead branch", target: Target{Type: TargetTime, Value: tm(30)}, err: ErrShadowed, errSubstr: []string{"timeline 2 took the writes", "does not descend"}},
		{name: "named 2", target: Target{Type: TargetTime, Value: tm(30), Timeline: "2"}, follow: 2, wantSet: "F2"},
		// At :50 timeline 3 is live: pgBackRest alone would pick F2 (newest before :50), which is
		// not on timeline 3's history, and PostgreSQL would refuse to start.
		{name: "on the newest", target: Target{Type: TargetTime, Value: tm(50)}, follow: 3, wantSet: "F1"},
		{name: "end of archive", target: Target{}, follow: 3, wantSet: "F1"},
		// An LSN on timeline 2 after F2 ended starts from F2; one before it from F1.
		{name: "lsn after F2", target: Target{Type: TargetLSN, Value: "0/7000000", Timeline: "2"}, follow: 2, wantSet: "F2"},
		{name: "lsn before F2", target: Target{Type: TargetLSN, Value: "0/5000000", Timeline: "2"}, follow: 2, wantSet: "F1"},
		{name: "set off the history", target: Target{}, set: "F2", err: ErrNoSetOnTimeline, errSubstr: []string{"--set F2", "timeline 3", "F1"}},
		{name: "no such timeline", target: Target{Timeline: "7"}, errSubstr: []string{"--target-timeline=7", "1, 2, 3"}},
		{name: "current left alone", target: Target{Type: TargetTime, Value: tm(15), Timeline: "current"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ts.PlanTimeline(tt.target, tt.set, backups)
			if tt.err != nil || tt.errSubstr != nil {
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				for _, s := range tt.errSubstr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err lacks %q: %v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Follow != tt.follow || p.Set != tt.wantSet {
				t.Errorf("plan = %+v, want follow %d set %q", p, tt.follow, tt.wantSet)
			}
		})
	}
}

// One timeline: nothing changes, whatever the target.
func TestPlanTimelineSingle(t *testing.T) {
	ts, _ := BuildTimelines(nil)
	p, err := ts.PlanTimeline(Target{Type: TargetTime, Value: "2026-12-02 01:00:00+00"}, "", nil)
	if err != nil || p != (TimelinePlan{}) {
		t.Errorf("plan = %+v, %v", p, err)
	}
}

func TestTimelinesDescribe(t *testing.T) {
	ts, _ := twoRestores(t)
	got := strings.Join(ts.Describe(3), "\n")
	for _, want := range []string{
		"1: the cluster's first, took writes until 2026-12-02 01:21:00+00",
		"2: branched from 1 at 0/5000060 (before 2026-12-02 01:12:00+00), began 2026-12-02 01:21:00+00, took writes until 2026-12-02 01:41:00+00",
		"3: branched from 1 at 0/4800000 (before 2026-12-02 01:09:00+00), began 2026-12-02 01:41:00+00  <- followed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %q:\n%s", want, got)
		}
	}
}
