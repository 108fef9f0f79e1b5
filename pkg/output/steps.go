package output

import (
	"fmt"
	"io"
	"time"
)

// StepReporter writes workflow progress to stderr:
//
//	… name
//	✓ name (1.2s)
//	✓ name (already done)
//	✗ name
//
// It implements workflow.Reporter. A failure's why is not printed here: the workflow returns it
// as the command's error, which main prints once, right below the ✗ line. Printing it here too
// showed every failure twice (a failed restore Job's log tail and next command among them).
type StepReporter struct {
	w     io.Writer
	color *Color
}

// NewStepReporter returns a reporter writing to w (normally the streams' ErrOut).
func NewStepReporter(w io.Writer, c *Color) *StepReporter {
	return &StepReporter{w: w, color: c}
}

// Start reports that a step begins.
func (r *StepReporter) Start(name string) {
	fmt.Fprintf(r.w, "%s %s\n", r.color.Yellow("…"), Clean(name))
}

// Skipped reports a step found already done.
func (r *StepReporter) Skipped(name string) {
	fmt.Fprintf(r.w, "%s %s (already done)\n", r.color.Green("✓"), Clean(name))
}

// Done reports a step that finished after d.
func (r *StepReporter) Done(name string, d time.Duration) {
	fmt.Fprintf(r.w, "%s %s (%s)\n", r.color.Green("✓"), Clean(name), FormatDuration(d))
}

// Failed reports a step that failed; err is left to the command's error (see StepReporter).
func (r *StepReporter) Failed(name string, _ error) {
	fmt.Fprintf(r.w, "%s %s\n", r.color.Red("✗"), Clean(name))
}

// FormatDuration renders d for people: 350ms, 1.2s, 2m5s, 1h2m.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}
