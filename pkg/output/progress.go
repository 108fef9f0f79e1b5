package output

import (
	"fmt"
	"io"
	"time"
)

// Progress shows a changing status (bytes copied, WAL segments, restore percent). On a terminal
// it rewrites one line in place; otherwise (logs, CI) it writes a plain line at most once per
// interval, plus the last one on Finish, so logs stay readable.
type Progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time

	last    time.Time
	pending string
	wrote   bool
}

// NewProgress returns a Progress writing to w. tty selects in-place updates; interval throttles
// plain lines; now is the clock (time.Now at the edges, a fake in tests).
func NewProgress(w io.Writer, tty bool, interval time.Duration, now func() time.Time) *Progress {
	return &Progress{w: w, tty: tty, interval: interval, now: now}
}

// Update shows msg (Cleaned: progress lines quote pgBackRest).
func (p *Progress) Update(msg string) {
	msg = Clean(msg)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		p.wrote = true
		return
	}
	t := p.now()
	if p.wrote && t.Sub(p.last) < p.interval {
		p.pending = msg
		return
	}
	fmt.Fprintln(p.w, msg)
	p.last, p.pending, p.wrote = t, "", true
}

// Finish ends the progress display: it terminates the terminal line, or writes the last
// throttled message so the final state is always in the log.
func (p *Progress) Finish() {
	if p.tty {
		if p.wrote {
			fmt.Fprint(p.w, "\r\033[K")
		}
		p.wrote = false
		return
	}
	if p.pending != "" {
		fmt.Fprintln(p.w, p.pending)
		p.pending = ""
	}
}
