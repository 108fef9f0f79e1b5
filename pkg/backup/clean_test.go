package backup

import (
	"strings"
	"testing"
)

// pgBackRest's lines reach the user's terminal: a line holding escape sequences is shown, not run.
func TestLineSplitterCleansLines(t *testing.T) {
	var got []string
	s := &lineSplitter{fn: func(l string, _ bool) { got = append(got, l) }}
	w := s.writer(true)
	if _, err := w.Write([]byte("P00  ERROR: \x1b[2Jgone\r\nlast \x1b]0;t\x07")); err != nil {
		t.Fatal(err)
	}
	w.flush()
	want := []string{`P00  ERROR: \x1b[2Jgone`, `last \x1b]0;t\x07`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}
