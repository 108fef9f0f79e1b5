package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSegmentDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"000000010000000000000012", "000000010000000000000014", 2, true},
		{"0000000100000000000000FF", "000000010000000100000000", 1, true},
		{"000000010000000000000014", "000000010000000000000012", -2, true},
		{"000000010000000000000012", "000000020000000000000013", 0, false},
		{"", "000000010000000000000012", 0, false},
		{"000000010000000000000100", "000000010000000000000101", 0, false}, // not a 16 MB segment name
		{"00000001000000000000001G", "000000010000000000000012", 0, false},
	}
	for _, c := range cases {
		if got, ok := segmentDistance(c.a, c.b); got != c.want || ok != c.ok {
			t.Errorf("segmentDistance(%q, %q) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestArchivedSegment(t *testing.T) {
	cases := map[string]string{
		"000000010000000000000012-3f786850e387550fdab836ed7e6dc881de23001b.zst": "000000010000000000000012",
		"000000010000000000000012-3f786850e387550fdab836ed7e6dc881de23001b.gz":  "000000010000000000000012",
		"000000010000000000000003.00000028.backup":                              "",
		"00000002.history":         "",
		"000000010000000000000012": "",
	}
	for in, want := range cases {
		if got := archivedSegment(in); got != want {
			t.Errorf("archivedSegment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewestArchived(t *testing.T) {
	dir := t.TempDir()
	if got := newestArchived(filepath.Join(dir, "none")); got != "" {
		t.Errorf("missing directory: %q", got)
	}
	touch := func(rel string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	touch("15-1/0000000100000000/0000000100000000000000FE-aaaa.zst")
	touch("15-1/0000000100000000/0000000100000000000000FF-bbbb.zst")
	touch("15-1/0000000100000000/000000010000000000000003.00000028.backup")
	if got, want := newestArchived(dir), "0000000100000000000000FF"; got != want {
		t.Errorf("newestArchived = %q, want %q", got, want)
	}
	// A newer log directory that is still empty does not hide the newest segment.
	if err := os.MkdirAll(filepath.Join(dir, "15-1", "0000000100000001"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := newestArchived(dir), "0000000100000000000000FF"; got != want {
		t.Errorf("with an empty newer log directory: %q, want %q", got, want)
	}
	touch("15-1/0000000100000001/000000010000000100000000-cccc.zst")
	if got, want := newestArchived(dir), "000000010000000100000000"; got != want {
		t.Errorf("newestArchived = %q, want %q", got, want)
	}
	if n := len(archivedSet(dir)); n != 3 {
		t.Errorf("archivedSet holds %d segments, want 3", n)
	}
}

func TestParseWatchLine(t *testing.T) {
	v, err := parseWatchLine("000000010000000000000012|83886080|3\n")
	if err != nil || v != (primaryView{Current: "000000010000000000000012", WALBytes: 83886080, Ready: 3}) {
		t.Errorf("parseWatchLine = %+v, %v", v, err)
	}
	for _, bad := range []string{"", "Tue 02 Dec 2025 00:00:00 (every 0.25s)", "000000010000000000000012|x|3", "nope|1|2", "000000010000000000000012|1"} {
		if _, err := parseWatchLine(bad); err == nil {
			t.Errorf("parseWatchLine(%q) accepted", bad)
		}
	}
}

func TestAnalyzeLag(t *testing.T) {
	t0 := time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC)
	seg := func(n int) string {
		return "0000000100000000000000" + string("0123456789ABCDEF"[n/16]) + string("0123456789ABCDEF"[n%16])
	}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := func(ms, current, local int, walMB int64, ready int) walSample {
		return walSample{At: at(ms), primaryView: primaryView{Current: seg(current), WALBytes: walMB << 20, Ready: ready}, Local: seg(local)}
	}
	samples := []walSample{
		s(0, 0x10, 0x0f, 64, 0),    // current
		s(250, 0x11, 0x0f, 64, 1),  // a normal short lag: 1 behind
		s(500, 0x11, 0x10, 64, 0),  // current
		s(750, 0x12, 0x10, 80, 1),  // the long stretch starts
		s(1000, 0x13, 0x10, 96, 2), // 2 behind
		s(3000, 0x14, 0x10, 112, 3),
		{At: at(3100), primaryView: primaryView{Current: seg(0x14), WALBytes: 112 << 20, Ready: 3}}, // no local yet: skipped for the lag
		s(3250, 0x14, 0x13, 96, 0), // current again: 2.5 s
		s(3500, 0x15, 0x13, 80, 1), // behind at the end: a 0 s stretch, not the worst
	}
	st := analyzeLag(samples)
	if st.WorstLag != 2500*time.Millisecond || !st.WorstEnd.Equal(at(3250)) || st.EndedBehind {
		t.Errorf("worst stretch %v ending %v (still behind %v); want 2.5s ending at 3.25s", st.WorstLag, st.WorstEnd.Sub(t0), st.EndedBehind)
	}
	if st.WorstSegments != 3 || st.MaxWALBytes != 112<<20 || st.EndWALBytes != 80<<20 || st.MaxReady != 3 || st.EndReady != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.Written != 5 || st.Elapsed != 3500*time.Millisecond || st.Samples != 9 {
		t.Errorf("written %d over %v in %d samples; want 5 over 3.5s in 9", st.Written, st.Elapsed, st.Samples)
	}

	// A run that ends behind reports the stretch up to its last sample.
	st = analyzeLag([]walSample{s(0, 0x10, 0x0f, 16, 0), s(250, 0x12, 0x0f, 16, 2), s(4250, 0x14, 0x0f, 16, 4)})
	if st.WorstLag != 4*time.Second || !st.EndedBehind {
		t.Errorf("ending behind: %v, still behind %v", st.WorstLag, st.EndedBehind)
	}
	if st := analyzeLag(nil); st.Samples != 0 || st.WorstLag != 0 {
		t.Errorf("no samples: %+v", st)
	}
	if got := len(between(samples, at(500), at(3000))); got != 3 {
		t.Errorf("between kept %d samples, want 3", got)
	}
}

func TestOutageReport(t *testing.T) {
	r := &Results{Runs: 1, Versions: map[string]string{"image": "img (sha256:x)", "pgbackrest (pod)": "pgBackRest 2.45"}}
	r.Outage = outageRow(60, []outageRun{{
		outage:       lagStats{WorstLag: 3 * time.Second, WorstSegments: 3, MaxWALBytes: 512 << 20, Written: 58, Elapsed: 60 * time.Second},
		currentAgain: 6400 * time.Millisecond, gapAtThaw: 58, checkOK: 21 * time.Second, checkAttempts: 1, s3Added: 79,
	}})
	r.Notes = Notes(r)
	md := r.Markdown()
	for _, want := range []string{"## 5. S3 outage (S3 frozen 60 s", "| **S3 unreachable → local archive current again, s** | 6.4 |",
		"| pg_wal MB, most during the outage | 512 |", "| **thaw → `kubectl pgbackrest check` exits 0, s** | 21.0 |",
		"- image: img (sha256:x)", "- pgbackrest (pod): pgBackRest 2.45", "current again 6.4s after the freeze"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "pg_database_size") {
		t.Error("a run without the pgbench cluster reports its database size")
	}
}
