// Package output holds everything about how results and progress look: colour (the one place that
// decides it), the table/json/yaml printer, the step reporter and the progress line.
package output

import (
	"fmt"
	"io"
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// ColorMode is the value of --color.
type ColorMode string

// The values --color accepts.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// ColorModes lists the values of --color, for help and completion.
var ColorModes = []string{string(ColorAuto), string(ColorAlways), string(ColorNever)}

// ParseColorMode validates the value of --color.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(s); m {
	case ColorAuto, ColorAlways, ColorNever:
		return m, nil
	}
	return "", fmt.Errorf("--color must be one of auto, always, never; got %q", s)
}

// Enabled decides whether to colour: always → yes, never → no, auto → only when the output is a
// terminal and NO_COLOR is unset (https://no-color.org: any value, even empty, disables colour).
func (m ColorMode) Enabled(isTTY bool, lookupEnv func(string) (string, bool)) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if _, set := lookupEnv("NO_COLOR"); set {
		return false
	}
	return isTTY
}

// IsTerminal reports whether w is a terminal (an *os.File on a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Color paints text when enabled. The zero value paints nothing; the root command configures one
// value from --color before any verb runs and passes it down.
type Color struct {
	enabled bool
}

// NewColor returns a Color that paints when enabled is true.
func NewColor(enabled bool) *Color { return &Color{enabled: enabled} }

// Configure resolves mode against errOut (all coloured output goes to stderr) and the environment.
// It also sets fatih/color's package switch, so that main's error line agrees with --color.
func (c *Color) Configure(mode ColorMode, errOut io.Writer, lookupEnv func(string) (string, bool)) {
	c.enabled = mode.Enabled(IsTerminal(errOut), lookupEnv)
	color.NoColor = !c.enabled
}

// Enabled reports whether c paints.
func (c *Color) Enabled() bool { return c != nil && c.enabled }

func (c *Color) paint(attr color.Attribute, s string) string {
	if !c.Enabled() {
		return s
	}
	p := color.New(attr)
	p.EnableColor() // per value, regardless of the package switch
	return p.Sprint(s)
}

// Green paints s green (success).
func (c *Color) Green(s string) string { return c.paint(color.FgGreen, s) }

// Yellow paints s yellow (in progress, warnings).
func (c *Color) Yellow(s string) string { return c.paint(color.FgYellow, s) }

// Red paints s red (failure).
func (c *Color) Red(s string) string { return c.paint(color.FgRed, s) }

// Cyan paints s cyan (the timeline's incremental backups).
func (c *Color) Cyan(s string) string { return c.paint(color.FgCyan, s) }

// Bold paints s bold.
func (c *Color) Bold(s string) string { return c.paint(color.Bold, s) }

// PrintError writes "error: <err>" once to w. main calls it after the command returned, so it
// follows fatih/color's package switch, which Configure set from --color; when flag parsing failed
// before that, fatih/color's own detection (NO_COLOR, TERM=dumb, a terminal) decides. Errors carry
// what pods and pgBackRest said, so the text is Cleaned.
func PrintError(w io.Writer, err error) {
	fmt.Fprintf(w, "%s %s\n", color.New(color.FgRed).Sprint("error:"), Clean(err.Error()))
}

// Warn writes "warning: <msg>" to w, the prefix in yellow when c paints.
func Warn(w io.Writer, c *Color, format string, args ...any) {
	fmt.Fprintf(w, "%s %s\n", c.Yellow("warning:"), Clean(fmt.Sprintf(format, args...)))
}
