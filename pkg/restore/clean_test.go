package restore

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The restore Job's log is streamed to the user's terminal and kept as the failure report's tail:
// both show escape sequences as text.
func TestLogWriterCleansLines(t *testing.T) {
	var b bytes.Buffer
	w := newLogWriter(&b, false, time.Now)
	if _, err := w.Write([]byte("P00   INFO: restore \x1b]0;owned\x07\x1b[2J\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), `\x1b]0;owned\x07`) {
		t.Errorf("streamed %q", b.String())
	}
	if tail := strings.Join(w.tail, "\n"); strings.ContainsAny(tail, "\x1b\x07") {
		t.Errorf("tail %q", tail)
	}
}
