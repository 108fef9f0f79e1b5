package timeline

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// scale maps times to the columns 0..cols-1; column cols-1 is now.
type scale struct {
	from, now time.Time
	cols      int
}

// newScale spans from the oldest time drawn to now (an hour when nothing older is drawn), with a
// margin of one column on the left so the oldest mark is not on the edge.
func newScale(in Input, cols int) scale {
	from := in.Now
	see := func(t time.Time) {
		if !t.IsZero() && t.Before(from) {
			from = t
		}
	}
	for _, r := range in.Repos {
		for _, b := range r.Backups {
			see(b.Start)
			see(b.Stop)
		}
		for _, s := range r.Archive {
			see(s.From)
		}
		for _, g := range r.Gaps {
			see(g.From)
		}
		for _, w := range r.Windows {
			see(w.From)
		}
	}
	span := in.Now.Sub(from)
	if span <= 0 {
		span = time.Hour
	}
	// One column of margin on the left.
	from = in.Now.Add(-span - span/time.Duration(max(cols-2, 1)))
	return scale{from: from, now: in.Now, cols: cols}
}

// perCol is the time one column stands for.
func (s scale) perCol() time.Duration { return s.now.Sub(s.from) / time.Duration(s.cols-1) }

// col is the column of t, clamped to the axis.
func (s scale) col(t time.Time) int {
	if !t.After(s.from) {
		return 0
	}
	if !t.Before(s.now) {
		return s.cols - 1
	}
	return int(float64(t.Sub(s.from)) / float64(s.now.Sub(s.from)) * float64(s.cols-1))
}

func (s scale) blank() []string {
	row := make([]string, s.cols)
	for i := range row {
		row[i] = " "
	}
	return row
}

// marks puts each backup's letter at the column of its stop time (when it became restorable). A
// column taken already keeps the strongest type; merged counts the backups drawn in another's
// column. counts are per type, full, diff, incr.
func (s scale) marks(backups []Backup) (row []string, merged int, counts [3]int) {
	row = s.blank()
	rank := make([]int, s.cols)
	for i := range rank {
		rank[i] = -1
	}
	for _, b := range backups {
		r := markRank(b.Type)
		if r < len(counts) {
			counts[r]++
		}
		mark := "?"
		if r < len(marks) {
			mark = marks[r].mark
		}
		c := s.col(b.Stop)
		if rank[c] >= 0 {
			merged++
			if r >= rank[c] {
				continue
			}
		}
		rank[c], row[c] = r, mark
	}
	return row, merged, counts
}

// archive draws the archived runs, then the gaps over them.
func (s scale) archive(runs []Span, gaps []Gap, g glyphs) []string {
	row := s.blank()
	for _, r := range runs {
		for c := s.col(r.From); c <= s.col(r.To); c++ {
			row[c] = g.archive
		}
	}
	for _, gp := range gaps {
		from, to := s.col(gp.From), s.col(gp.To)
		// A gap between two runs starts after the first run's last column and ends before the
		// second's first, when there is room; it always takes at least one column.
		if to-from >= 2 {
			from, to = from+1, to-1
		}
		for c := from; c <= to; c++ {
			row[c] = g.gap
		}
	}
	return row
}

// windows draws each recoverable range as a bracket.
func (s scale) windows(ws []Span, g glyphs) []string {
	row := s.blank()
	for _, w := range ws {
		from, to := s.col(w.From), s.col(w.To)
		if from == to {
			row[from] = g.winOne
			continue
		}
		row[from] = g.winFrom
		for c := from + 1; c < to; c++ {
			row[c] = g.win
		}
		row[to] = g.winTo
	}
	return row
}

// steps are the tick intervals the axis chooses from.
var steps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
	91 * 24 * time.Hour, 364 * 24 * time.Hour,
}

// layout is how a tick at step is labelled: plain, or dated for the first label and wherever
// period (the day, or the year for day steps) changes; width is what a label needs, for choosing
// the step.
func layout(step time.Duration) (plain, dated, period string, width int) {
	switch {
	case step < time.Minute:
		return "15:04:05", "15:04:05", "", 8
	case step < 6*time.Hour:
		return "15:04", "01-02 15:04", "2006-01-02", 5
	case step < 24*time.Hour:
		return "15:04", "01-02 15:04", "2006-01-02", 11
	case step < 91*24*time.Hour:
		return "01-02", "2006-01-02", "2006", 5
	}
	return "2006-01", "2006-01", "", 7
}

// axis is the tick row and the label row. Ticks fall on multiples of the step (UTC); labels start at
// their tick and are left out where they would touch the previous one or "now" at the right end.
func (s scale) axis(g glyphs) ([]string, string) {
	span := s.now.Sub(s.from)
	step := steps[len(steps)-1]
	for _, st := range steps {
		_, _, _, w := layout(st)
		if float64(s.cols)/(float64(span)/float64(st)) >= float64(w+3) {
			step = st
			break
		}
	}
	plain, dated, period, _ := layout(step)
	row := make([]string, s.cols)
	for i := range row {
		row[i] = g.axis
	}
	row[s.cols-1] = g.now

	labels := []byte(strings.Repeat(" ", s.cols))
	const nowLabel = "now"
	copy(labels[s.cols-len(nowLabel):], nowLabel)
	limit := s.cols - len(nowLabel) - 1 // labels end before this column
	next := 0                           // first column a label may start at
	prev := ""                          // the period of the last label
	first := s.from.Truncate(step)
	if step >= 24*time.Hour {
		// Truncate works from the zero time; days start at midnight UTC either way.
		first = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	}
	for t := first; t.Before(s.now); t = t.Add(step) {
		if t.Before(s.from) {
			continue
		}
		c := s.col(t)
		if c >= s.cols-2 { // a tick touching now's end mark reads as part of it
			break
		}
		row[c] = g.tick
		l := t.UTC().Format(plain)
		p := t.UTC().Format(period)
		if p != prev {
			l = t.UTC().Format(dated)
		}
		if c < next || c+len(l) > limit {
			continue
		}
		copy(labels[c:], l)
		next = c + len(l) + 2
		prev = p
	}
	return row, strings.TrimRight(string(labels), " ")
}

// formatStep says how long one column is, in the largest unit that keeps it readable.
func formatStep(d time.Duration) string {
	switch {
	case d < time.Second:
		return "under a second"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
	return fmt.Sprintf("%.1fd", d.Hours()/24)
}

// mergeSpans joins overlapping or touching spans, sorted by start. A merged span is AtLeast when the
// one reaching furthest is.
func mergeSpans(ss []Span) []Span {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b Span) int { return a.From.Compare(b.From) })
	var out []Span
	for _, s := range ss {
		if n := len(out); n > 0 && !s.From.After(out[n-1].To) {
			if s.To.After(out[n-1].To) {
				out[n-1].To, out[n-1].AtLeast = s.To, s.AtLeast
			} else if s.To.Equal(out[n-1].To) {
				out[n-1].AtLeast = out[n-1].AtLeast || s.AtLeast
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
