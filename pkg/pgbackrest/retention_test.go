package pgbackrest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// repo builds a repository of sets, one a day from day0, each with WAL starting at its own
// segment; labels encode type and prior as pgBackRest's do.
func testRepo(types ...string) RepositorySummary {
	day0 := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC)
	rs := RepositorySummary{Key: 1, Storage: Local}
	var full, prior string
	for i, typ := range types {
		at := day0.Add(time.Duration(i) * 24 * time.Hour)
		stamp := at.Format("20060102-150405")
		b := BackupSummary{Type: typ, Start: at, Stop: at.Add(time.Minute), WALInArchive: true,
			WALStart: segmentName(i * 4), WALStop: segmentName(i*4 + 1)}
		switch typ {
		case BackupFull:
			b.Label, full = stamp+"F", stamp+"F"
		case BackupDiff:
			b.Label, b.Prior = full+"_"+stamp+"D", full
		case BackupIncr:
			b.Label, b.Prior = full+"_"+stamp+"I", prior
		}
		prior = b.Label
		rs.Backups = append(rs.Backups, b)
	}
	rs.Archive = &WALRange{Min: segmentName(0), Max: segmentName(len(types)*4 + 2)}
	rs.window(rs.Archive)
	return rs
}

func segmentName(n int) string { return fmt.Sprintf("0000000100000000%08X", n) }

func TestPlanExpire(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		repo   RepositorySummary
		r      Retention
		set    string
		expire []int // indexes of the sets that go
		err    error
	}{
		{"count keeps the newest fulls", testRepo("full", "full", "full"), Retention{Full: 2}, "", []int{0}, nil},
		{"dependents go with their full", testRepo("full", "incr", "diff", "full", "incr", "full"), Retention{Full: 2}, "", []int{0, 1, 2}, nil},
		{"nothing to do", testRepo("full", "full"), Retention{Full: 2}, "", nil, nil},
		{"default is two fulls", testRepo("full", "full", "full", "full"), Retention{}, "", []int{0, 1}, nil},
		{"diff retention", testRepo("full", "diff", "incr", "diff", "diff"), Retention{Full: 1, Diff: 1}, "", []int{1, 2, 3}, nil},
		// Fulls and diffs count together: the newest two of F D D F D are F(3) and D(4), so D(1)
		// and D(2) go although only three diffs exist.
		{"diff retention counts fulls too", testRepo("full", "diff", "diff", "full", "diff"), Retention{Full: 2, Diff: 2}, "", []int{1, 2}, nil},
		// Fulls stop at 01:01 on Nov 1..4; 17 days back from Nov 20 is Nov 3 00:00: the full of
		// Nov 2 (the newest at or before the cutoff) stays so all 17 days are covered, Nov 1 goes.
		{"time keeps the full that covers the period", testRepo("full", "full", "full", "full"), Retention{Full: 17, FullType: RetentionTime}, "", []int{0}, nil},
		{"time with nothing old enough", testRepo("full", "full"), Retention{Full: 30, FullType: RetentionTime}, "", nil, nil},
		{"set and its dependents", testRepo("full", "incr", "incr", "full"), Retention{Full: 5}, "", nil, nil},
		{"--set", testRepo("full", "incr", "incr", "full"), Retention{Full: 5}, "first-incr", []int{1, 2}, nil},
		{"--set of the only full", testRepo("full", "incr"), Retention{Full: 5}, "first", nil, ErrLastFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := tt.set
			switch set {
			case "first":
				set = tt.repo.Backups[0].Label
			case "first-incr":
				set = tt.repo.Backups[1].Label
			}
			p, err := PlanExpire(tt.repo, tt.r, set, now)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("want %v, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{}
			for _, i := range tt.expire {
				want = append(want, tt.repo.Backups[i].Label)
			}
			if !slices.Equal(p.Expire, want) {
				t.Fatalf("expire %v, want %v", p.Expire, want)
			}
			if len(p.Expire)+len(p.Keep) != len(tt.repo.Backups) {
				t.Fatalf("expire %v + keep %v do not add up to %d sets", p.Expire, p.Keep, len(tt.repo.Backups))
			}
			if len(want) > 0 && p.Expire[0] == tt.repo.Backups[0].Label {
				first := tt.repo.Backups[len(p.Expire)]
				for _, b := range tt.repo.Backups {
					if b.Label == p.Keep[0] {
						first = b
					}
				}
				if p.WALBefore != first.WALStart {
					t.Errorf("WAL kept from %q, want the oldest kept set's start %q", p.WALBefore, first.WALStart)
				}
				if p.WindowAfter == nil || !p.WindowAfter.From.Equal(first.Stop) {
					t.Errorf("window after %+v, want from %s", p.WindowAfter, first.Stop)
				}
			}
		})
	}
}

func TestPlanExpireUnknownSet(t *testing.T) {
	if _, err := PlanExpire(testRepo("full"), Retention{}, "20200101-000000F", time.Now()); err == nil || !strings.Contains(err.Error(), "no such backup set") {
		t.Fatalf("got %v", err)
	}
}

func TestArchiveRetention(t *testing.T) {
	rs := testRepo("full", "full", "full")
	p, err := PlanExpire(rs, Retention{Full: 3, Archive: 1, ArchiveType: BackupFull}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Expire) != 0 || p.WALBefore != rs.Backups[2].WALStart {
		t.Fatalf("got %+v, want no set expired and WAL kept from the newest full's start", p)
	}
}

func TestTimeRetentionKeepsWALWithoutExpiredFull(t *testing.T) {
	rs := testRepo("full", "full")
	rs.Archive.Min = "000000010000000000000000" // WAL from before the first backup
	rs.Backups[0].WALStart = "000000010000000000000002"
	p, err := PlanExpire(rs, Retention{Full: 365, FullType: RetentionTime}, "", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Expire) != 0 || p.WALBefore != "" {
		t.Fatalf("time retention with no full expired must expire no WAL: %+v", p)
	}
}

func TestValidLabel(t *testing.T) {
	for s, want := range map[string]bool{
		"20261201-010000F": true, "20261201-010000F_20261202-010000I": true, "20261201-010000F_20261202-010000D": true,
		"latest": false, "20261201-010000F;rm": false, "": false, "20261201-010000I": false,
	} {
		if ValidLabel(s) != want {
			t.Errorf("ValidLabel(%q) = %v", s, !want)
		}
	}
}
