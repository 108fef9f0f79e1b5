package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestColorModeEnabled(t *testing.T) {
	tests := []struct {
		mode ColorMode
		tty  bool
		env  map[string]string
		want bool
	}{
		{ColorAlways, false, nil, true},
		{ColorAlways, true, map[string]string{"NO_COLOR": "1"}, true},
		{ColorNever, true, nil, false},
		{ColorAuto, true, nil, true},
		{ColorAuto, false, nil, false},
		{ColorAuto, true, map[string]string{"NO_COLOR": "1"}, false},
		{ColorAuto, true, map[string]string{"NO_COLOR": ""}, false},
	}
	for _, tt := range tests {
		if got := tt.mode.Enabled(tt.tty, env(tt.env)); got != tt.want {
			t.Errorf("%s tty=%v env=%v: got %v, want %v", tt.mode, tt.tty, tt.env, got, tt.want)
		}
	}
}

func TestParseColorMode(t *testing.T) {
	for _, ok := range []string{"auto", "always", "never"} {
		if _, err := ParseColorMode(ok); err != nil {
			t.Errorf("ParseColorMode(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "yes", "Always"} {
		_, err := ParseColorMode(bad)
		if err == nil || !strings.Contains(err.Error(), "--color") {
			t.Errorf("ParseColorMode(%q) = %v, want an error naming --color", bad, err)
		}
	}
}

func TestColorPaints(t *testing.T) {
	if got := NewColor(false).Red("x"); got != "x" {
		t.Errorf("disabled colour painted: %q", got)
	}
	if got := NewColor(true).Red("x"); got == "x" || !strings.Contains(got, "\x1b[") {
		t.Errorf("enabled colour did not paint: %q", got)
	}
	var nilColor *Color
	if got := nilColor.Green("x"); got != "x" {
		t.Errorf("nil colour painted: %q", got)
	}
}

type result struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func (r result) Table() ([]string, [][]string) {
	return []string{"name", "count"}, [][]string{{r.Name, "3"}}
}

func TestPrint(t *testing.T) {
	tests := []struct {
		format Format
		want   string
	}{
		{Table, "NAME   COUNT\ndb     3\n"},
		{JSON, "{\n  \"name\": \"db\",\n  \"count\": 3\n}\n"},
		{YAML, "count: 3\nname: db\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Print(&b, tt.format, result{Name: "db", Count: 3}); err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\n%q\nwant\n%q", tt.format, b.String(), tt.want)
		}
	}
	if err := Print(&bytes.Buffer{}, Table, struct{}{}); err == nil {
		t.Error("table of a non-Tabler should fail")
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := ParseFormat(""); err != nil || f != Table {
		t.Errorf("default = %q, %v", f, err)
	}
	if f, err := ParseFormat("", JSON, YAML); err != nil || f != JSON {
		t.Errorf("default among json,yaml = %q, %v", f, err)
	}
	if _, err := ParseFormat("table", JSON, YAML); err == nil || !strings.Contains(err.Error(), "json, yaml") {
		t.Errorf("table not allowed: %v", err)
	}
}

func TestStepReporter(t *testing.T) {
	var b bytes.Buffer
	r := NewStepReporter(&b, NewColor(false))
	r.Start("create PVC")
	r.Done("create PVC", 1200*time.Millisecond)
	r.Skipped("write config")
	r.Failed("run job", errors.New("job failed"))
	want := "… create PVC\n✓ create PVC (1.2s)\n✓ write config (already done)\n✗ run job\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressPlainThrottles(t *testing.T) {
	var b bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	p := NewProgress(&b, false, 10*time.Second, clk.now)
	p.Update("1%")
	clk.t = clk.t.Add(5 * time.Second)
	p.Update("2%") // throttled
	clk.t = clk.t.Add(6 * time.Second)
	p.Update("3%")
	clk.t = clk.t.Add(time.Second)
	p.Update("4%") // throttled, flushed by Finish
	p.Finish()
	if want := "1%\n3%\n4%\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestProgressTTYRewritesLine(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true, time.Hour, (&fakeClock{}).now)
	p.Update("1%")
	p.Update("2%")
	p.Finish()
	if want := "\r\x1b[K1%\r\x1b[K2%\r\x1b[K"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		350 * time.Millisecond:  "350ms",
		1234 * time.Millisecond: "1.2s",
		125 * time.Second:       "2m5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
