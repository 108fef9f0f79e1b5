package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string // "" = valid; else a part of the error
	}{
		{"0 1 * * 0", ""},
		{"* * * * *", ""},
		{"*/15 0-6,22-23 1,15 jan-mar MON-FRI", ""},
		{"0 0 * * 7", ""},
		{"5/10 * * * *", ""},
		{"0 0 ? * ?", ""},
		{"@daily", ""},
		{"@Weekly", ""},
		{"", "want 5 fields"},
		{"* * * *", "want 5 fields (minute hour day-of-month month day-of-week), got 4"},
		{"* * * * * *", "got 6"},
		{"60 * * * *", `minute field "60": 60 is out of range 0-59`},
		{"* 24 * * *", "hour field"},
		{"* * 0 * *", "day of month field"},
		{"* * * 13 *", "month field"},
		{"* * * * 8", "day of week field"},
		{"* * * foo *", `"foo" is not a number (1-12) or a name such as jan`},
		{"* * * * funday", "or a name such as mon"},
		{"*/0 * * * *", "must be a positive number"},
		{"*/x * * * *", "must be a positive number"},
		{"*/61 * * * *", "larger than the field's range"},
		{"5-1 * * * *", "goes backwards"},
		{"1,,2 * * * *", "empty list item"},
		{"@every 5m", "unknown macro"},
		{"TZ=UTC 0 1 * * *", "--time-zone"},
	} {
		_, err := ParseCron("--schedule", tc.expr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.expr, err)
		case tc.want != "" && err == nil:
			t.Errorf("%q: accepted, want an error with %q", tc.expr, tc.want)
		case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--schedule")):
			t.Errorf("%q: error %q, want it to name --schedule and say %q", tc.expr, err, tc.want)
		}
	}
}

func TestCronNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database")
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		expr     string
		loc      *time.Location
		from     string
		want     string
		wantZero bool
	}{
		{"* * * * *", time.UTC, "2026-12-02T12:00:30Z", "2026-12-02T12:01:00Z", false},
		{"0 1 * * 0", time.UTC, "2026-12-02T12:00:00Z", "2026-12-06T01:00:00Z", false}, // a Wednesday → Sunday
		{"0 1 * * 7", time.UTC, "2026-12-02T12:00:00Z", "2026-12-06T01:00:00Z", false},
		{"0 1 * * 0", paris, "2026-12-02T12:00:00Z", "2026-12-06T00:00:00Z", false}, // 01:00 in Paris is 00:00 UTC in winter
		{"*/15 * * * *", time.UTC, "2026-12-02T12:15:00Z", "2026-12-02T12:30:00Z", false},
		{"0 0 1 * *", time.UTC, "2026-12-02T00:00:00Z", "2027-01-01T00:00:00Z", false},
		// Both day fields restricted: either matches (the 13th, or a Friday).
		{"0 0 13 * 5", time.UTC, "2026-12-02T00:00:00Z", "2026-12-04T00:00:00Z", false},
		{"0 0 31 2 *", time.UTC, "2026-12-02T00:00:00Z", "", true},
	} {
		c, err := ParseCron("--schedule", tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		got := c.Next(at(tc.from), tc.loc)
		if tc.wantZero {
			if !got.IsZero() {
				t.Errorf("%q from %s: %s, want none", tc.expr, tc.from, got)
			}
			continue
		}
		if !got.Equal(at(tc.want)) {
			t.Errorf("%q from %s in %s: %s, want %s", tc.expr, tc.from, tc.loc, got.UTC().Format(time.RFC3339), tc.want)
		}
	}
}

func TestParseTimeZone(t *testing.T) {
	if _, err := ParseTimeZone("--time-zone", ""); err != nil {
		t.Errorf("empty: %v", err)
	}
	if _, err := ParseTimeZone("--time-zone", "UTC"); err != nil {
		t.Errorf("UTC: %v", err)
	}
	for _, tz := range []string{"Mars/Base", "Local", "../etc/passwd"} {
		if _, err := ParseTimeZone("--time-zone", tz); err == nil || !strings.Contains(err.Error(), "--time-zone") {
			t.Errorf("%q: %v, want an error naming --time-zone", tz, err)
		}
	}
}
