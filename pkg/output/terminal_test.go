package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, 100% fine", "plain text, 100% fine"},
		{"two\nlines\tand a tab", "two\nlines\tand a tab"},
		{"ünïcödé ✓ … 日本", "ünïcödé ✓ … 日本"},
		{"\x1b[2J\x1b[Hcleared", `\x1b[2J\x1b[Hcleared`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"ERROR\rINFO: all fine", `ERROR\x0dINFO: all fine`},
		{"back\bspace", `back\x08space`},
		{"del\x7f", `del\x7f`},
		{"nul\x00byte", `nul\x00byte`},
		{"c1 csi \u009b2J", `c1 csi \x9b2J`},
		{"raw byte \x9b2J", `raw byte \x9b2J`},
		{"invalid \xff\xfe utf-8", `invalid \xff\xfe utf-8`},
		{"a real \uFFFD stays", "a real \uFFFD stays"},
		{"bidi \u202eevil\u202c", `bidi \u202eevil\u202c`},
		{"isolate \u2066x\u2069", `isolate \u2066x\u2069`},
		{"mark \u200f", `mark \u200f`},
	} {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every sink that prints what the cluster said goes through Clean.
func TestSinksClean(t *testing.T) {
	const hostile = "pod says \x1b]0;owned\x07\x1b[2J"
	check := func(name, out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s printed a control sequence: %q", name, out)
		}
		if !strings.Contains(out, `\x1b]0;owned\x07`) {
			t.Errorf("%s lost the text: %q", name, out)
		}
	}
	var b bytes.Buffer
	PrintError(&b, errors.New(hostile))
	check("PrintError", b.String())

	b.Reset()
	Warn(&b, NewColor(false), "%s", hostile)
	check("Warn", b.String())

	b.Reset()
	if err := WriteTable(&b, []string{"label"}, [][]string{{hostile}}); err != nil {
		t.Fatal(err)
	}
	check("WriteTable", b.String())

	for _, tty := range []bool{true, false} {
		b.Reset()
		p := NewProgress(&b, tty, time.Second, time.Now)
		p.Update(hostile)
		// The terminal progress line's own "\r\x1b[K" is ours; only msg is checked.
		check("Progress", strings.ReplaceAll(b.String(), "\r\x1b[K", ""))
	}

	b.Reset()
	r := NewStepReporter(&b, NewColor(false))
	r.Start(hostile)
	r.Done(hostile, time.Second)
	check("StepReporter", b.String())

	b.Reset()
	if _, err := CleanWriter(&b).Write([]byte(hostile)); err != nil {
		t.Fatal(err)
	}
	check("CleanWriter", b.String())
}
