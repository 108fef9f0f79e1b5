package output

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Clean makes text that came from the cluster (pod logs, events, pgBackRest's messages, anything
// a pod or another user can write) safe to print on a terminal. A log line holding ESC sequences
// could otherwise move the cursor, rewrite what the user read a moment ago, set the window
// title or, on some terminals, answer back into the shell; bidirectional overrides reorder what
// is shown. Each such character is printed as a visible escape (\x1b, \u202e) instead; newlines
// and tabs stay, every other control character, C1 control, bidi control and invalid byte does not.
func Clean(s string) string {
	i := unsafeIndex(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafeIndex is the byte offset of the first character Clean rewrites, or -1.
func unsafeIndex(s string) int {
	for i, r := range s {
		if (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) || unsafeRune(r) {
			return i
		}
	}
	return -1
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f: // C0 controls (ESC, CR, BEL, backspace…) and DEL
		return true
	case r >= 0x80 && r <= 0x9f: // C1 controls: 0x9b is a one-byte CSI on some terminals
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// CleanWriter Cleans each Write; for writers given whole strings (fmt.Fprintf), whose Writes never
// split a character.
func CleanWriter(w io.Writer) io.Writer { return cleanWriter{w} }

type cleanWriter struct{ w io.Writer }

func (c cleanWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, Clean(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
