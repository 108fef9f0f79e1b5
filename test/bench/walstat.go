package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The outage phase's pure part: WAL segment names, the archive directories' listings, the
// primary's watch lines and what a series of samples says about the local archive's lag.

// segmentNumber is a WAL segment's position in its timeline (16 MB segments, 256 per log file);
// ok is false for anything that is not a 24-hex-digit segment name.
func segmentNumber(name string) (timeline, n int64, ok bool) {
	if len(name) != 24 {
		return 0, 0, false
	}
	tl, err1 := strconv.ParseInt(name[:8], 16, 64)
	log, err2 := strconv.ParseInt(name[8:16], 16, 64)
	seg, err3 := strconv.ParseInt(name[16:], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || seg > 0xff {
		return 0, 0, false
	}
	return tl, log*256 + seg, true
}

// segmentDistance is how many segments b is after a on one timeline; ok is false when either is
// not a segment name or they are on different timelines.
func segmentDistance(a, b string) (int, bool) {
	ta, na, ok1 := segmentNumber(a)
	tb, nb, ok2 := segmentNumber(b)
	if !ok1 || !ok2 || ta != tb {
		return 0, false
	}
	return int(nb - na), true
}

// archivedSegment is the segment a pgBackRest archive file holds
// ("000000010000000000000012-<sha1>.zst"), or "" for other files (history, .backup, .partial).
func archivedSegment(file string) string {
	if len(file) > 25 && file[24] == '-' {
		if _, _, ok := segmentNumber(file[:24]); ok {
			return file[:24]
		}
	}
	return ""
}

// newestArchived is the newest segment in a pgBackRest archive directory (archive/<stanza>:
// <pg version>-<id>/<timeline+log>/<segment>-<sha1>.<ext>), or "" when there is none yet. It
// reads only the newest archive id and log directories that hold one, so it stays cheap at 4 Hz.
func newestArchived(dir string) string {
	ids := sortedDirNames(dir)
	for i := len(ids) - 1; i >= 0; i-- {
		logs := sortedDirNames(filepath.Join(dir, ids[i]))
		for j := len(logs) - 1; j >= 0; j-- {
			entries, _ := os.ReadDir(filepath.Join(dir, ids[i], logs[j]))
			newest := ""
			for _, e := range entries {
				if s := archivedSegment(e.Name()); s > newest {
					newest = s
				}
			}
			if newest != "" {
				return newest
			}
		}
	}
	return ""
}

// archivedSet is every segment under an archive directory.
func archivedSet(dir string) map[string]bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
	set := map[string]bool{}
	for _, f := range files {
		if s := archivedSegment(filepath.Base(f)); s != "" {
			set[s] = true
		}
	}
	return set
}

func sortedDirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// primaryView is one line of the primary's watch query: the segment PostgreSQL writes, the size
// of pg_wal and the segments waiting for archive_command.
type primaryView struct {
	Current  string
	WALBytes int64
	Ready    int
}

// watchQuery prints a primaryView as "segment|bytes|ready"; parseWatchLine reads it.
const watchQuery = `select pg_walfile_name(pg_current_wal_lsn()), ` +
	`(select coalesce(sum(size), 0) from pg_ls_waldir())::bigint, ` +
	`(select count(*) from pg_ls_dir('pg_wal/archive_status') f where f like '%.ready')`

func parseWatchLine(line string) (primaryView, error) {
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) != 3 {
		return primaryView{}, fmt.Errorf("watch line %q: want segment|bytes|ready", line)
	}
	if _, _, ok := segmentNumber(f[0]); !ok {
		return primaryView{}, fmt.Errorf("watch line %q: %q is not a WAL segment name", line, f[0])
	}
	bytes, err1 := strconv.ParseInt(f[1], 10, 64)
	ready, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return primaryView{}, fmt.Errorf("watch line %q: want whole numbers after the segment", line)
	}
	return primaryView{Current: f[0], WALBytes: bytes, Ready: ready}, nil
}

// walSample is one look at the primary (its latest watch line) and at the local repository's
// archive directory.
type walSample struct {
	At time.Time
	primaryView
	// Local is the newest segment in the local repository.
	Local string
}

// behind is how many completed segments the local repository lacks: 0 when it holds the one
// before the segment PostgreSQL writes ("current"); ok is false when the names do not compare.
func (s walSample) behind() (int, bool) {
	d, ok := segmentDistance(s.Local, s.Current)
	if !ok {
		return 0, false
	}
	return max(0, d-1), true
}

// lagStats is what a series of samples says about the local archive and pg_wal.
type lagStats struct {
	Samples int
	// WorstLag is the longest stretch in which the local archive lacked a completed segment
	// (from the first sample behind to the first current again), WorstEnd when it ended, and
	// EndedBehind says the last sample was still behind (WorstEnd is then the last sample).
	WorstLag      time.Duration
	WorstEnd      time.Time
	EndedBehind   bool
	WorstSegments int // most completed segments missing from the local archive at once
	MaxWALBytes   int64
	EndWALBytes   int64
	MaxReady      int
	EndReady      int
	// Written is how many segments PostgreSQL completed from the first sample to the last.
	Written int
	Elapsed time.Duration
}

// analyzeLag reads samples in time order; samples whose names do not compare are skipped for
// the lag but count for pg_wal.
func analyzeLag(samples []walSample) lagStats {
	var st lagStats
	var stretchStart time.Time
	inStretch := false
	closeStretch := func(end time.Time, stillBehind bool) {
		if d := end.Sub(stretchStart); d > st.WorstLag || st.WorstEnd.IsZero() {
			st.WorstLag, st.WorstEnd, st.EndedBehind = d, end, stillBehind
		}
		inStretch = false
	}
	for _, s := range samples {
		st.Samples++
		st.MaxWALBytes, st.MaxReady = max(st.MaxWALBytes, s.WALBytes), max(st.MaxReady, s.Ready)
		st.EndWALBytes, st.EndReady = s.WALBytes, s.Ready
		n, ok := s.behind()
		if !ok {
			continue
		}
		st.WorstSegments = max(st.WorstSegments, n)
		switch {
		case n > 0 && !inStretch:
			stretchStart, inStretch = s.At, true
		case n == 0 && inStretch:
			closeStretch(s.At, false)
		}
	}
	if inStretch {
		closeStretch(samples[len(samples)-1].At, true)
	}
	if len(samples) > 1 {
		first, last := samples[0], samples[len(samples)-1]
		if d, ok := segmentDistance(first.Current, last.Current); ok {
			st.Written = d
		}
		st.Elapsed = last.At.Sub(first.At)
	}
	return st
}

// between returns the samples taken in [from, to).
func between(samples []walSample, from, to time.Time) []walSample {
	var out []walSample
	for _, s := range samples {
		if !s.At.Before(from) && s.At.Before(to) {
			out = append(out, s)
		}
	}
	return out
}
