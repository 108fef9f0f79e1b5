// Package timeline draws a cluster's recoverability as a picture for the terminal: per repository,
// a time axis with the backups, the archived WAL as a bar with its gaps, the recoverable window and
// "now" at the right edge. Render is pure (input in, text out); FromSummary builds its input from
// what `info` reads. `info --timeline` prints it; `status --timeline` can too.
//
// The axis is linear from the oldest thing drawn to now. Marks that fall into one column merge:
// the column shows the strongest type (full over diff over incr) and the repository's header says
// how many marks were merged, so counts stay true even when the picture cannot separate them.
package timeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

// Input is one picture.
type Input struct {
	// Repos are drawn in order, one block each, all on the same time scale.
	Repos []Repo
	// Now is the right edge of every axis.
	Now time.Time
	// Width is the number of columns of the whole picture (at least MinWidth is used).
	Width int
	Style Style
}

// Style says how the picture is drawn.
type Style struct {
	// Unicode draws with box-drawing and block characters; false is plain ASCII.
	Unicode bool
	// Color paints marks, bars and windows; nil or disabled paints nothing.
	Color *output.Color
}

// Repo is one repository's block.
type Repo struct {
	// Name heads the block ("local (repo1)").
	Name string
	// Backups in any order; Type is full, diff or incr.
	Backups []Backup
	// Archive are the runs of continuously archived WAL, oldest first.
	Archive []Span
	// Gaps are stretches where WAL is missing, drawn over the archive bar.
	Gaps []Gap
	// Windows are the ranges a point-in-time restore from this repository can reach, oldest first.
	Windows []Span
	// Notes are printed under the block as they are (what the picture could not know).
	Notes []string
}

// Backup is one backup set.
type Backup struct {
	Label, Type string
	Start, Stop time.Time
}

// Span is a range of time. AtLeast says that To is only a lower bound: the range goes on to an
// unknown later time.
type Span struct {
	From, To time.Time
	AtLeast  bool
}

// Gap is a stretch of missing WAL; What says which segments ("3 WAL segments 0000…05–0000…07").
type Gap struct {
	From, To time.Time
	What     string
}

// MinWidth is the narrowest picture drawn; a narrower Width is raised to it.
const MinWidth = 40

// indent is the left margin of every row of a block.
const indent = "  "

// glyphs are the characters of one style.
type glyphs struct {
	archive, gap, axis, tick, now, winFrom, winTo, winOne, win string
}

var (
	unicodeGlyphs = glyphs{archive: "━", gap: "░", axis: "─", tick: "┬", now: "┤", winFrom: "├", winTo: "┤", winOne: "│", win: "─"}
	asciiGlyphs   = glyphs{archive: "=", gap: "x", axis: "-", tick: "+", now: "|", winFrom: "[", winTo: "]", winOne: "|", win: "-"}
)

// marks are the letters of the backup types, strongest first.
var marks = []struct{ typ, mark string }{{"full", "F"}, {"diff", "D"}, {"incr", "I"}}

func markRank(typ string) int {
	for i, m := range marks {
		if m.typ == typ {
			return i
		}
	}
	return len(marks)
}

// Render draws the picture.
func Render(in Input) string {
	width := max(in.Width, MinWidth)
	g := asciiGlyphs
	if in.Style.Unicode {
		g = unicodeGlyphs
	}
	c := in.Style.Color
	sc := newScale(in, width-len(indent))

	var b strings.Builder
	for i, r := range in.Repos {
		if i > 0 {
			b.WriteString("\n")
		}
		renderRepo(&b, r, sc, g, c)
	}
	fmt.Fprintf(&b, "\n%s %s  %s %s  %s %s  %s archived WAL  %s missing WAL  %s%s%s recoverable\n",
		c.Green("F"), "full", c.Yellow("D"), "diff", c.Cyan("I"), "incr",
		c.Green(g.archive+g.archive), c.Red(g.gap+g.gap), c.Green(g.winFrom), c.Green(g.win), c.Green(g.winTo))
	fmt.Fprintf(&b, "one column is %s; backups in one column show as the strongest type; times are UTC\n", formatStep(sc.perCol()))
	return b.String()
}

func renderRepo(b *strings.Builder, r Repo, sc scale, g glyphs, c *output.Color) {
	row, merged, counts := sc.marks(r.Backups)
	header := c.Bold(r.Name) + ": "
	if len(r.Backups) == 0 {
		header += "no backups"
	} else {
		header += fmt.Sprintf("%d backups (%d full, %d diff, %d incr)", len(r.Backups), counts[0], counts[1], counts[2])
		if merged > 0 {
			header += fmt.Sprintf(", %d drawn in the column of another", merged)
		}
	}
	b.WriteString(header + "\n")

	if len(r.Backups) > 0 {
		b.WriteString(indent + paintRow(row, func(s string) string {
			switch s {
			case "F":
				return c.Green(s)
			case "D":
				return c.Yellow(s)
			case "I":
				return c.Cyan(s)
			}
			return s
		}) + "\n")
	}
	if len(r.Archive) > 0 || len(r.Gaps) > 0 {
		b.WriteString(indent + paintRow(sc.archive(r.Archive, r.Gaps, g), func(s string) string {
			switch s {
			case g.archive:
				return c.Green(s)
			case g.gap:
				return c.Red(s)
			}
			return s
		}) + "\n")
	}
	if len(r.Windows) > 0 {
		b.WriteString(indent + paintRow(sc.windows(r.Windows, g), func(s string) string {
			if s == " " {
				return s
			}
			return c.Green(s)
		}) + "\n")
	}
	axis, labels := sc.axis(g)
	b.WriteString(indent + strings.Join(axis, "") + "\n")
	b.WriteString(indent + labels + "\n")

	if len(r.Archive) == 0 {
		b.WriteString(indent + "archive: empty\n")
	}
	if len(r.Windows) == 0 {
		b.WriteString(indent + "recoverable: nothing (no backup whose WAL is archived)\n")
	} else {
		var ws []string
		for _, w := range r.Windows {
			to := timeOf(w.To)
			if w.AtLeast {
				to = "at least " + to
			}
			ws = append(ws, timeOf(w.From)+" → "+to)
		}
		b.WriteString(indent + c.Green("recoverable: ") + strings.Join(ws, ", ") + "\n")
	}
	for _, gp := range r.Gaps {
		b.WriteString(indent + c.Red("gap: ") + timeOf(gp.From) + " → " + timeOf(gp.To) + ": " + gp.What + "\n")
	}
	for _, n := range r.Notes {
		b.WriteString(indent + n + "\n")
	}
}

// paintRow joins a row of one-character cells, painting runs of equal cells at once.
func paintRow(cells []string, paint func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(cells); {
		j := i
		for j < len(cells) && cells[j] == cells[i] {
			j++
		}
		run := strings.Repeat(cells[i], j-i)
		if cells[i] == " " {
			b.WriteString(run)
		} else if p := paint(cells[i]); p != cells[i] {
			// Paint the run as one: one escape sequence pair per run.
			b.WriteString(strings.Replace(p, cells[i], run, 1))
		} else {
			b.WriteString(run)
		}
		i = j
	}
	return strings.TrimRight(b.String(), " ")
}

func timeOf(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
