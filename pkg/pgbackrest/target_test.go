package pgbackrest

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTargetTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // FormatTargetTime of the result
	}{
		{"2026-11-25 00:24:41+00", "2026-11-25 00:24:41+00"},
		{"2026-11-25 00:24:41Z", "2026-11-25 00:24:41+00"},
		{"2026-11-25T00:24:41Z", "2026-11-25 00:24:41+00"},
		{"2026-11-25T01:24:41+01:00", "2026-11-25 00:24:41+00"},
		{"2026-11-25 05:54:41.5+0530", "2026-11-25 00:24:41.5+00"},
		{"2026-11-24 19:24:41.123456-05", "2026-11-25 00:24:41.123456+00"},
		{"2026-11-25 00:24:41,25+00:00", "2026-11-25 00:24:41.25+00"},
		{"2026-11-25 00:24:41 +00", "2026-11-25 00:24:41+00"},
		{"2026-11-25 00:24:41.123456789Z", "2026-11-25 00:24:41.123456+00"},
		{"  2026-11-25T00:24:41.000Z ", "2026-11-25 00:24:41+00"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTargetTime(tt.in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Location() != time.UTC {
				t.Errorf("not UTC: %v", got)
			}
			if f := FormatTargetTime(got); f != tt.want {
				t.Errorf("formatted %q, want %q", f, tt.want)
			}
		})
	}
}

func TestParseTargetTimeErrors(t *testing.T) {
	tests := map[string]string{
		"2026-11-25 00:24:41":       `add one, e.g. "2026-11-25 00:24:41+00"`,
		"2026-11-25T00:24:41":       "no time zone",
		"2026-13-25 00:24:41+00":    "not a valid time",
		"2026-02-30 00:24:41+00":    "not a valid time",
		"2026-11-25 24:00:00+00":    "not a valid time",
		"2026-11-25 00:24+00":       "not a time",
		"yesterday":                 "not a time",
		"":                          "not a time",
		"2026-11-25 00:24:41+2":     "not a time",
		"2026-11-25 00:24:41+16:00": "beyond",
		"0001-01-01 00:00:00+01":    "out of range",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			_, err := ParseTargetTime(in)
			if !errors.Is(err, ErrInvalidTarget) || !strings.Contains(err.Error(), want) {
				t.Fatalf("want ErrInvalidTarget containing %q, got %v", want, err)
			}
		})
	}
}

// pgBackRest 2.45's getEpoch() (src/command/restore/restore.c) reads a target time with this
// expression; a time it does not match makes it pick the newest backup set, which may lie after the
// target. PostgreSQL reads the same string as timestamptz.
var pgbackrestTimeRE = regexp.MustCompile(
	`^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}((\,|\.)[0-9]{1,6})?((\+|\-)[0-9]{2}(:?)([0-9]{2})?)?$`)

func TestFormatTargetTimeMatchesPgBackRest(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 25, 0, 24, 41, 0, time.UTC),
		time.Date(2026, 11, 25, 0, 24, 41, 123456000, time.FixedZone("x", 5*3600+1800)),
		time.Date(2026, 11, 25, 0, 24, 41, 100000000, time.FixedZone("y", -8*3600)),
	} {
		s := FormatTargetTime(tm)
		if !pgbackrestTimeRE.MatchString(s) {
			t.Errorf("%q would not be parsed by pgBackRest", s)
		}
		back, err := ParseTargetTime(s)
		if err != nil || !back.Equal(tm) {
			t.Errorf("round trip of %q: %v %v", s, back, err)
		}
	}
}

func TestTargetArgs(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want []string
	}{
		{"zero value", Target{}, nil},
		{"default", Target{Type: TargetDefault}, nil},
		{"default with timeline", Target{Type: TargetDefault, Timeline: "1"}, []string{"--target-timeline=1"}},
		{"time", Target{Type: TargetTime, Value: "2026-11-25T01:24:41+01:00", Action: ActionPromote},
			[]string{"--type=time", "--target=2026-11-25 00:24:41+00", "--target-action=promote"}},
		{"time exclusive pause", Target{Type: TargetTime, Value: "2026-11-25 00:24:41Z", Exclusive: true, Action: ActionPause, Timeline: "current"},
			[]string{"--type=time", "--target=2026-11-25 00:24:41+00", "--target-timeline=current", "--target-exclusive", "--target-action=pause"}},
		{"lsn", Target{Type: TargetLSN, Value: "0/4B000028"}, []string{"--type=lsn", "--target=0/4B000028"}},
		{"xid", Target{Type: TargetXID, Value: "1234", Timeline: "latest"}, []string{"--type=xid", "--target=1234", "--target-timeline=latest"}},
		{"name", Target{Type: TargetName, Value: "before upgrade", Action: ActionPromote}, []string{"--type=name", "--target=before upgrade", "--target-action=promote"}},
		{"immediate", Target{Type: TargetImmediate, Action: ActionPromote}, []string{"--type=immediate", "--target-action=promote"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.t.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := tt.t.Args(); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTargetValidate(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"type", Target{Type: "standby"}, "must be one of default, time"},
		{"default value", Target{Value: "x"}, "without a --target-* flag takes no value"},
		{"immediate value", Target{Type: TargetImmediate, Value: "x"}, "--target-immediate takes no value"},
		{"time", Target{Type: TargetTime, Value: "2026-11-25 00:24:41"}, `--target-time "2026-11-25 00:24:41" has no time zone`},
		{"time text", Target{Type: TargetTime, Value: "yesterday"}, `--target-time "yesterday" is not a time`},
		{"lsn", Target{Type: TargetLSN, Value: "4B000028"}, `--target-lsn "4B000028" is not an LSN: use the form 0/4B000028`},
		{"lsn hex", Target{Type: TargetLSN, Value: "0/4G"}, "not an LSN"},
		{"xid", Target{Type: TargetXID, Value: "-1"}, "--target-xid \"-1\" is not a transaction id"},
		{"xid reserved", Target{Type: TargetXID, Value: "2"}, "transaction id"},
		{"name empty", Target{Type: TargetName}, "restore point"},
		{"name long", Target{Type: TargetName, Value: strings.Repeat("n", 64)}, "63 bytes"},
		{"timeline", Target{Timeline: "0"}, "timeline number"},
		{"timeline text", Target{Timeline: "newest"}, "current, latest"},
		{"timeline immediate", Target{Type: TargetImmediate, Timeline: "2"}, "immediate"},
		{"exclusive", Target{Type: TargetName, Value: "p", Exclusive: true}, "--target-exclusive needs --target-time, --target-lsn or --target-xid (not --target-name)"},
		{"timeline immediate flag", Target{Type: TargetImmediate, Timeline: "2"}, "cannot be used with --target-immediate"},
		{"action default", Target{Action: ActionPause}, "end of the archive"},
		{"action", Target{Type: TargetImmediate, Action: "shutdown"}, "promote or pause"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Validate()
			if !errors.Is(err, ErrInvalidTarget) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrInvalidTarget containing %q, got %v", tt.want, err)
			}
			// The plugin's own flags, never pgBackRest's --type=... or bare --target.
			if msg := err.Error(); strings.Contains(msg, "--type") || strings.Contains(msg, "--target \"") || strings.Contains(msg, "--target=") {
				t.Errorf("message names pgBackRest's options, not the plugin's flags: %s", msg)
			}
		})
	}
}
