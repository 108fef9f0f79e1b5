package timeline

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// FromSummary builds the blocks of sum's repositories.
//
// listings holds, per storage, `repo-ls --recurse` of the repository's current archive directory
// (pgbackrest.ArchivePath): every WAL segment with the time it was stored. From it the archive is
// drawn as runs of consecutive segments, a segment being placed at the earliest time it or any
// later segment was stored (a backfill stores old segments late; their WAL is older than that); a
// missing segment is a gap, and a window runs from a backup's stop to the newest segment of its
// run. A repository without a listing (none given, or it could not be read) is drawn from info's
// range alone, which knows neither gaps inside it nor when its newest WAL was archived; a note
// says so.
func FromSummary(sum *pgbackrest.Summary, listings map[pgbackrest.Storage][]pgbackrest.RepoFile, now time.Time) []Repo {
	var out []Repo
	for _, rs := range sum.Repositories {
		r := Repo{Name: fmt.Sprintf("repo%d", rs.Key)}
		if rs.Storage != "" {
			r.Name = fmt.Sprintf("%s (repo%d)", rs.Storage, rs.Key)
		}
		for _, b := range rs.Backups {
			r.Backups = append(r.Backups, Backup{Label: b.Label, Type: b.Type, Start: b.Start, Stop: b.Stop})
		}
		files, listed := listings[rs.Storage]
		switch {
		case rs.Archive == nil:
		case listed:
			fromListing(&r, rs, parseSegments(files), now)
		default:
			fromRange(&r, rs, now)
		}
		out = append(out, r)
	}
	return out
}

// segment is one archived WAL segment: timeline, number (16 MB segments, 256 to a log) and when it
// was stored.
type segment struct {
	tl   uint32
	n    uint64
	time time.Time
}

func (s segment) name() string {
	return fmt.Sprintf("%08X%08X%08X", s.tl, s.n>>8, s.n&0xFF)
}

func compareSegments(a, b segment) int { return cmp.Or(cmp.Compare(a.tl, b.tl), cmp.Compare(a.n, b.n)) }

// parseSegment reads a segment name (its first 24 characters); ok is false for anything else.
func parseSegment(name string) (segment, bool) {
	if len(name) < 24 {
		return segment{}, false
	}
	tl, err1 := strconv.ParseUint(name[:8], 16, 32)
	log, err2 := strconv.ParseUint(name[8:16], 16, 32)
	n, err3 := strconv.ParseUint(name[16:24], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || n > 0xFF {
		return segment{}, false
	}
	return segment{tl: uint32(tl), n: log<<8 | n}, true
}

// parseSegments keeps the WAL segments of a listing ("0000000100000000/000000010000000000000003-
// <sha1>.gz"), not history, backup-label or partial files, sorted in WAL order, each timed by the
// earliest store time of itself and every later segment.
func parseSegments(files []pgbackrest.RepoFile) []segment {
	var segs []segment
	for _, f := range files {
		base := path.Base(f.Name)
		if f.Type != "file" || len(base) < 25 || base[24] != '-' {
			continue
		}
		s, ok := parseSegment(base)
		if !ok {
			continue
		}
		s.time = f.Time
		segs = append(segs, s)
	}
	slices.SortFunc(segs, compareSegments)
	segs = slices.CompactFunc(segs, func(a, b segment) bool { return compareSegments(a, b) == 0 })
	for i := len(segs) - 2; i >= 0; i-- {
		if segs[i+1].time.Before(segs[i].time) {
			segs[i].time = segs[i+1].time
		}
	}
	return segs
}

// follows says that b continues a: the next segment of the timeline, or the first segment of a
// later timeline that branched at or before the end of a (its switchpoint segment is named with
// the new timeline).
func follows(a, b segment) bool {
	if b.tl == a.tl {
		return b.n == a.n+1
	}
	return b.tl > a.tl && b.n <= a.n+1
}

type run struct {
	first, last segment
	from, to    time.Time
}

func (r run) contains(s segment) bool {
	return compareSegments(r.first, s) <= 0 && compareSegments(s, r.last) <= 0
}

func fromListing(r *Repo, rs pgbackrest.RepositorySummary, segs []segment, now time.Time) {
	if len(segs) == 0 {
		r.Notes = append(r.Notes, "archive: info lists WAL "+output.Clean(rs.Archive.Min+" … "+rs.Archive.Max)+", but its directory lists no segment")
		return
	}
	var runs []run
	for i, s := range segs {
		if i == 0 || !follows(segs[i-1], s) {
			runs = append(runs, run{first: s, from: s.time})
		}
		runs[len(runs)-1].last, runs[len(runs)-1].to = s, s.time
	}
	// A run's WAL starts before its first segment was stored: at the latest when a backup whose WAL
	// starts in it started.
	for _, b := range rs.Backups {
		s, ok := parseSegment(b.WALStart)
		if !ok {
			continue
		}
		for i := range runs {
			if runs[i].contains(s) && b.Start.Before(runs[i].from) {
				runs[i].from = b.Start
			}
		}
	}
	for i, ru := range runs {
		r.Archive = append(r.Archive, Span{From: ru.from, To: ru.to})
		if i == 0 {
			continue
		}
		prev := runs[i-1]
		missing := int64(ru.first.n) - int64(prev.last.n) - 1
		first := segment{tl: prev.last.tl, n: prev.last.n + 1}
		last := segment{tl: ru.first.tl, n: ru.first.n - 1}
		what := fmt.Sprintf("WAL after %s missing, up to %s", prev.last.name(), ru.first.name())
		if missing > 0 {
			what = fmt.Sprintf("%d WAL segments %s–%s missing", missing, first.name(), last.name())
		}
		r.Gaps = append(r.Gaps, Gap{From: prev.to, To: ru.from, What: what})
	}
	// Segments waiting to be copied here from the other repository are not in the listing yet, and
	// new ones join them: this repository's archive ends where they begin.
	lastRun := runs[len(runs)-1]
	for _, g := range rs.Gaps {
		s, ok := parseSegment(g.First)
		if g.Lost || !ok || compareSegments(s, lastRun.last) <= 0 {
			continue
		}
		r.Gaps = append(r.Gaps, Gap{From: lastRun.to, To: now,
			What: fmt.Sprintf("%d WAL segments %s–%s not yet copied here from the other repository", g.Segments, output.Clean(g.First), output.Clean(g.Last))})
	}

	var ws []Span
	for _, b := range rs.Backups {
		start, ok1 := parseSegment(b.WALStart)
		stop, ok2 := parseSegment(b.WALStop)
		if !b.WALInArchive || b.Error || !ok1 || !ok2 {
			continue
		}
		for _, ru := range runs {
			if ru.contains(start) && ru.contains(stop) {
				ws = append(ws, Span{From: b.Stop, To: maxTime(ru.to, b.Stop)})
			}
		}
	}
	r.Windows = mergeSpans(ws)
	if len(r.Windows) > 0 {
		r.Notes = append(r.Notes, "a window ends when its newest WAL segment was stored: the last commit in it is at or before that")
	}
}

func fromRange(r *Repo, rs pgbackrest.RepositorySummary, now time.Time) {
	var from, to time.Time
	for _, b := range rs.Backups {
		if !b.WALInArchive {
			continue
		}
		if from.IsZero() || b.Start.Before(from) {
			from = b.Start
		}
		to = maxTime(to, b.Stop)
	}
	if !from.IsZero() {
		r.Archive = []Span{{From: from, To: to, AtLeast: true}}
	}
	if w := rs.RecoveryWindow; w != nil {
		r.Windows = []Span{{From: w.From, To: w.AtLeastUntil, AtLeast: true}}
	}
	for _, g := range rs.Gaps {
		if !g.Lost && g.Since > 0 {
			r.Gaps = append(r.Gaps, Gap{From: time.Unix(g.Since, 0).UTC(), To: now,
				What: fmt.Sprintf("%d WAL segments %s–%s not yet copied here from the other repository", g.Segments, output.Clean(g.First), output.Clean(g.Last))})
		}
	}
	r.Notes = append(r.Notes, "archive: drawn from info's range "+output.Clean(rs.Archive.Min+" … "+rs.Archive.Max)+
		" alone (its listing could not be read): gaps inside it are not shown, and it reaches at least the newest backup")
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// CurrentArchive keeps, of a recursive listing of a stanza's archive directory ("15-1/0000000100000000/
// 0000000100000000000000A3-<sha1>.gz", one directory per PostgreSQL history), the files of the
// history whose directory holds segment newest (the repository's archive max, which belongs to
// its current history), with that directory taken off their names. None when no directory has it.
func CurrentArchive(files []pgbackrest.RepoFile, newest string) []pgbackrest.RepoFile {
	id := ""
	for _, f := range files {
		dir, rest, ok := strings.Cut(f.Name, "/")
		if ok && f.Type == "file" && strings.HasPrefix(path.Base(rest), newest+"-") {
			id = dir
			break
		}
	}
	var out []pgbackrest.RepoFile
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.Name, id+"/"); ok && id != "" {
			f.Name = rest
			out = append(out, f)
		}
	}
	return out
}
