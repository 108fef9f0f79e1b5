package timeline

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// segEvery is how often the fixture archives a segment (archive_timeout).
const segEvery = 10 * time.Minute

// history starts a week before now; segment n (timeline 1) is stored at start + n*segEvery.
var start = now.Add(-7 * 24 * time.Hour)

func segAt(t time.Time) uint64 { return uint64(t.Sub(start) / segEvery) }

func segName(n uint64) string { return segment{tl: 1, n: n}.name() }

// listing lists segments 0..last, except those stored in [holeFrom, holeTo).
func listing(last uint64, holeFrom, holeTo time.Time) []pgbackrest.RepoFile {
	files := []pgbackrest.RepoFile{
		{Name: "00000001.history", Type: "file"}, // never a segment (and timeline 1 has none)
		{Name: "0000000100000000", Type: "path"},
	}
	for n := uint64(0); n <= last; n++ {
		t := start.Add(time.Duration(n) * segEvery)
		if !t.Before(holeFrom) && t.Before(holeTo) {
			continue
		}
		dir := segName(n)[:16]
		files = append(files, pgbackrest.RepoFile{Name: dir + "/" + segName(n) + "-0123456789abcdef0123456789abcdef01234567.gz", Type: "file", Time: t})
		if n == 3 {
			files = append(files, pgbackrest.RepoFile{Name: dir + "/" + segName(n) + ".00000028.backup", Type: "file", Time: t})
		}
	}
	return files
}

// backupAt is a set that starts at t and takes d, its WAL in the segments of that time.
func backupAt(label, typ string, t time.Time, d time.Duration) pgbackrest.BackupSummary {
	return pgbackrest.BackupSummary{Label: label, Type: typ, Start: t, Stop: t.Add(d),
		WALStart: segName(segAt(t)), WALStop: segName(segAt(t.Add(d))), WALInArchive: true}
}

// fixture is two repositories with backups (local: fulls, diffs, incrs, and a four-hour hole in
// its archive two days into the week; s3: fewer sets, and segments of the last half hour not yet
// copied there) and an empty third one.
func fixture() (*pgbackrest.Summary, map[pgbackrest.Storage][]pgbackrest.RepoFile) {
	day := func(d int, h int) time.Time {
		return start.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour)
	}
	local := []pgbackrest.BackupSummary{
		backupAt("20261125-010000F", "full", day(0, 1), 20*time.Minute),
		backupAt("20261126-010000I", "incr", day(1, 1), 5*time.Minute),
		backupAt("20261127-010000I", "incr", day(2, 1), 5*time.Minute),
		backupAt("20261128-010000D", "diff", day(3, 1), 8*time.Minute),
		backupAt("20261129-010000I", "incr", day(4, 1), 5*time.Minute),
		backupAt("20261130-010000F", "full", day(5, 1), 20*time.Minute),
	}
	for h := 6; h >= 1; h-- {
		local = append(local, backupAt(fmt.Sprintf("20261202-%02d0000I", 12-h), "incr", now.Add(-time.Duration(h)*time.Hour), 2*time.Minute))
	}
	s3 := []pgbackrest.BackupSummary{
		backupAt("20261126-020000F", "full", day(1, 2), 30*time.Minute),
		backupAt("20261129-020000D", "diff", day(4, 2), 10*time.Minute),
		backupAt("20261201-020000I", "incr", day(6, 2), 5*time.Minute),
	}
	lastSeg := segAt(now) - 1
	pending := segAt(now.Add(-30 * time.Minute))
	sum := &pgbackrest.Summary{Stanza: "db", Repositories: []pgbackrest.RepositorySummary{
		{Key: 1, Storage: pgbackrest.Local, Backups: local, Archive: &pgbackrest.WALRange{Min: segName(0), Max: segName(lastSeg)}},
		{Key: 2, Storage: pgbackrest.S3, Backups: s3, Archive: &pgbackrest.WALRange{Min: segName(0), Max: segName(pending - 1)},
			Gaps: []pgbackrest.ArchiveGap{{Storage: pgbackrest.S3, Segments: int(lastSeg - pending + 1), Since: now.Add(-30 * time.Minute).Unix(), First: segName(pending), Last: segName(lastSeg)}}},
		{Key: 3, Backups: []pgbackrest.BackupSummary{}},
	}}
	return sum, map[pgbackrest.Storage][]pgbackrest.RepoFile{
		pgbackrest.Local: listing(lastSeg, day(2, 10), day(2, 14)),
		pgbackrest.S3:    listing(pending-1, now, now),
	}
}

func TestRenderGolden(t *testing.T) {
	sum, listings := fixture()
	repos := FromSummary(sum, listings, now)
	for _, width := range []int{80, 132} {
		for _, style := range []struct {
			name  string
			style Style
		}{
			{"tty", Style{Unicode: true, Color: output.NewColor(true)}},
			{"ascii", Style{}},
		} {
			name := fmt.Sprintf("%s-%d.txt", style.name, width)
			t.Run(name, func(t *testing.T) {
				got := Render(Input{Repos: repos, Now: now, Width: width, Style: style.style})
				for i, l := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
					if n := len([]rune(stripANSI(l))); n > width && isPictureRow(l) {
						t.Errorf("line %d is %d columns wide, over %d: %q", i, n, width, l)
					}
				}
				if style.name == "ascii" {
					for _, r := range got {
						if r > 0x7e && r != '→' && r != '…' && r != '–' {
							t.Fatalf("ASCII style has %q", r)
						}
					}
				}
				golden(t, name, got)
			})
		}
	}
}

// isPictureRow says that l is a row of the picture (indented, not a text line such as a note).
func isPictureRow(l string) bool {
	l = stripANSI(l)
	return strings.HasPrefix(l, indent) && !strings.Contains(l, ": ")
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

func TestFromSummary(t *testing.T) {
	sum, listings := fixture()
	repos := FromSummary(sum, listings, now)
	if len(repos) != 3 {
		t.Fatalf("%d repos", len(repos))
	}
	local, s3, empty := repos[0], repos[1], repos[2]

	if local.Name != "local (repo1)" || s3.Name != "s3 (repo2)" || empty.Name != "repo3" {
		t.Errorf("names %q %q %q", local.Name, s3.Name, empty.Name)
	}
	// The hole splits local's archive in two runs; 24 segments (4 h of 10 min) are missing.
	if len(local.Archive) != 2 || len(local.Gaps) != 1 || !strings.HasPrefix(local.Gaps[0].What, "24 WAL segments ") {
		t.Fatalf("local archive %v, gaps %+v", local.Archive, local.Gaps)
	}
	holeFrom := start.Add(2*24*time.Hour + 10*time.Hour)
	if g := local.Gaps[0]; !g.From.Equal(holeFrom.Add(-segEvery)) || !g.To.Equal(holeFrom.Add(4*time.Hour)) {
		t.Errorf("local gap %v → %v", g.From, g.To)
	}
	// The first run starts at the first full's start, before its first segment was stored.
	if !local.Archive[0].From.Equal(start) || !local.Archive[1].To.Equal(now.Add(-segEvery)) {
		t.Errorf("local archive %v", local.Archive)
	}
	// Sets before the hole reach only up to it; those after it reach the newest segment.
	want := []Span{
		{From: start.Add(time.Hour + 20*time.Minute), To: holeFrom.Add(-segEvery)},
		{From: start.Add(3*24*time.Hour + time.Hour + 8*time.Minute), To: now.Add(-segEvery)},
	}
	if fmt.Sprint(local.Windows) != fmt.Sprint(want) {
		t.Errorf("local windows\n got %v\nwant %v", local.Windows, want)
	}
	// s3's pending gap runs from its newest segment to now.
	if len(s3.Gaps) != 1 || !s3.Gaps[0].To.Equal(now) || !s3.Gaps[0].From.Equal(now.Add(-30*time.Minute-segEvery)) {
		t.Errorf("s3 gaps %+v", s3.Gaps)
	}
	if len(s3.Windows) != 1 || !s3.Windows[0].To.Equal(now.Add(-30*time.Minute-segEvery)) {
		t.Errorf("s3 windows %v", s3.Windows)
	}
	if len(empty.Backups) != 0 || len(empty.Archive) != 0 || len(empty.Windows) != 0 {
		t.Errorf("empty repo %+v", empty)
	}

	// Without a listing: info's range alone, the end a lower bound, and a note that says so.
	sum, _ = fixture()
	r := FromSummary(sum, nil, now)[1]
	if len(r.Archive) != 1 || !r.Archive[0].AtLeast || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "could not be read") {
		t.Errorf("unlisted repo %+v", r)
	}
}

func TestParseSegments(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	files := []pgbackrest.RepoFile{
		{Name: "0000000100000000/000000010000000000000002-aa.gz", Type: "file", Time: t0.Add(30 * time.Minute)}, // backfilled late
		{Name: "0000000100000000/000000010000000000000001-aa.gz", Type: "file", Time: t0},
		{Name: "0000000100000000/000000010000000000000003-aa.gz", Type: "file", Time: t0.Add(20 * time.Minute)},
		{Name: "0000000100000000/000000010000000000000004.partial-aa.gz", Type: "file", Time: t0},
		{Name: "0000000200000000/000000020000000000000003-aa.gz", Type: "file", Time: t0.Add(40 * time.Minute)},
		{Name: "00000002.history", Type: "file", Time: t0},
		{Name: "0000000100000001", Type: "path"},
	}
	segs := parseSegments(files)
	var got []string
	for _, s := range segs {
		got = append(got, s.name()+"@"+s.time.Format("15:04"))
	}
	want := "[000000010000000000000001@00:00 000000010000000000000002@00:20 000000010000000000000003@00:20 000000020000000000000003@00:40]"
	if fmt.Sprint(got) != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
	// Timeline 2 branched in segment 3 of timeline 1: one run, no gap.
	for i := 1; i < len(segs); i++ {
		if !follows(segs[i-1], segs[i]) {
			t.Errorf("%s does not follow %s", segs[i].name(), segs[i-1].name())
		}
	}
	if follows(segment{tl: 1, n: 3}, segment{tl: 1, n: 5}) || follows(segment{tl: 1, n: 3}, segment{tl: 2, n: 5}) {
		t.Error("a missing segment is followed")
	}
	if s, ok := parseSegment("0000000100000001000000FF"); !ok || s.n != 0x1FF || s.name() != "0000000100000001000000FF" {
		t.Errorf("parseSegment: %v %v", s, ok)
	}
}

func TestMarksMerge(t *testing.T) {
	sc := scale{from: now.Add(-10 * time.Hour), now: now, cols: 11} // one column an hour
	row, merged, counts := sc.marks([]Backup{
		{Type: "incr", Stop: now.Add(-5 * time.Hour)},
		{Type: "full", Stop: now.Add(-5*time.Hour + time.Minute)},
		{Type: "diff", Stop: now.Add(-5*time.Hour + 2*time.Minute)},
		{Type: "incr", Stop: now.Add(-time.Hour)},
	})
	if got := strings.Join(row, ""); got != "     F   I " || merged != 2 || counts != [3]int{1, 1, 2} {
		t.Errorf("row %q merged %d counts %v", got, merged, counts)
	}
}

func TestAxisLabelsFit(t *testing.T) {
	for _, span := range []time.Duration{3 * time.Minute, 2 * time.Hour, 30 * time.Hour, 20 * 24 * time.Hour, 900 * 24 * time.Hour} {
		for _, cols := range []int{38, 78, 130} {
			sc := scale{from: now.Add(-span), now: now, cols: cols}
			row, labels := sc.axis(asciiGlyphs)
			if len(row) != cols || len(labels) > cols || !strings.HasSuffix(labels, "now") {
				t.Errorf("span %v cols %d: row %d, labels %q", span, cols, len(row), labels)
			}
			if strings.Count(labels, " ") == len(labels)-3 && cols > 70 {
				t.Errorf("span %v cols %d: no time label: %q", span, cols, labels)
			}
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", p, got, want)
	}
}

func TestCurrentArchive(t *testing.T) {
	files := []pgbackrest.RepoFile{
		{Name: "15-1", Type: "path"},
		{Name: "15-1/0000000100000000/000000010000000000000009-aa.gz", Type: "file"},
		{Name: "17-2", Type: "path"},
		{Name: "17-2/0000000100000000/000000010000000000000002-bb.gz", Type: "file"},
		{Name: "17-2/0000000100000000/000000010000000000000003-cc.gz", Type: "file"},
	}
	got := CurrentArchive(files, "000000010000000000000003")
	if len(got) != 2 || got[0].Name != "0000000100000000/000000010000000000000002-bb.gz" {
		t.Errorf("got %+v", got)
	}
	if got := CurrentArchive(files, "000000010000000000000007"); got != nil {
		t.Errorf("no directory holds it: got %+v", got)
	}
}
