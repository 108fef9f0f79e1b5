// Package schedule is `kubectl pgbackrest schedule`: backup schedules as CronJobs that run the
// plugin itself in the cluster (docs/schedules.md). cron.go is the pure part: the cron syntax
// Kubernetes accepts, checked here before anything is written, and the next run time.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron expression (minute hour day-of-month month day-of-week), as
// the CronJob controller reads it (robfig/cron's standard parser).
type Cron struct {
	Expr string
	// minute..dow are bit sets of the values each field allows.
	minute, hour, dom, month, dow uint64
	// domStar and dowStar are true when the field was * (or ?): then only the other one counts.
	domStar, dowStar bool
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	fields     = []field{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: monthNames},
		{name: "day of week", min: 0, max: 7, names: dayNames}, // 7 is Sunday too
	}
	macros = map[string]string{
		"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
		"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	}
)

// ParseCron checks expr: five fields separated by spaces, each *, a value, a range a-b, a step
// (*/n, a-b/n, a/n), or a comma list of those; month and day-of-week also take names (jan, mon);
// or one of @yearly, @monthly, @weekly, @daily, @hourly. The error says which field is wrong and
// why; flag names the option for it ("--schedule").
func ParseCron(flag, expr string) (*Cron, error) {
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ=") {
		return nil, fmt.Errorf("invalid %s %q: set the time zone with --time-zone, not in the expression", flag, expr)
	}
	if m, ok := macros[strings.ToLower(e)]; ok {
		e = m
	} else if strings.HasPrefix(e, "@") {
		return nil, fmt.Errorf("invalid %s %q: unknown macro; use five fields (minute hour day-of-month month day-of-week) or @yearly, @monthly, @weekly, @daily, @hourly", flag, expr)
	}
	parts := strings.Fields(e)
	if len(parts) != 5 {
		return nil, fmt.Errorf("invalid %s %q: want 5 fields (minute hour day-of-month month day-of-week), got %d; e.g. \"0 1 * * 0\" is Sundays at 01:00", flag, expr, len(parts))
	}
	c := &Cron{Expr: expr}
	sets := []*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, p := range parts {
		bits, err := parseField(fields[i], p)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %s field %q: %w", flag, expr, fields[i].name, p, err)
		}
		*sets[i] = bits
	}
	if c.dow&(1<<7) != 0 {
		c.dow |= 1 // 7 is Sunday
	}
	c.domStar = parts[2] == "*" || parts[2] == "?"
	c.dowStar = parts[4] == "*" || parts[4] == "?"
	return c, nil
}

func parseField(f field, s string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		b, err := parseItem(f, item)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

func parseItem(f field, item string) (uint64, error) {
	if item == "" {
		return 0, fmt.Errorf("empty list item")
	}
	rng, stepStr, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("step %q must be a positive number", stepStr)
		}
		step = n
	}
	lo, hi := f.min, f.max
	switch {
	case rng == "*" || rng == "?":
	default:
		a, b, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = value(f, a); err != nil {
			return 0, err
		}
		hi = lo
		if isRange {
			if hi, err = value(f, b); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %s-%s goes backwards", a, b)
			}
		} else if hasStep {
			hi = f.max // a/n: from a to the end
		}
	}
	if hasStep && step > f.max-f.min+1 {
		return 0, fmt.Errorf("step %d is larger than the field's range %d-%d", step, f.min, f.max)
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

func value(f field, s string) (int, error) {
	if n, ok := f.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number (%d-%d) or a name such as %s", s, f.min, f.max, exampleName(f))
		}
		return 0, fmt.Errorf("%q is not a number (%d-%d)", s, f.min, f.max)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

func exampleName(f field) string {
	if f.max == 12 {
		return "jan"
	}
	return "mon"
}

// Next is the first run strictly after t, in loc (the CronJob's time zone); zero when none
// exists within five years (31 February).
func (c *Cron) Next(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc).Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		switch {
		case c.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case c.hour&(1<<uint(t.Hour())) == 0:
			t = t.Truncate(time.Hour).Add(time.Hour)
		case c.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

// dayMatches is cron's rule: when both day fields are restricted, either may match.
func (c *Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	default:
		return dom || dow
	}
}

// ParseTimeZone checks a --time-zone: an IANA name the Go time database knows (the controller
// uses the same). "" is the controller's local time zone (kube-controller-manager's, usually UTC).
func ParseTimeZone(flag, tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if tz == "Local" {
		return nil, fmt.Errorf("invalid %s %q: name a zone such as Europe/Paris or UTC", flag, tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("invalid %s %q: not a known IANA time zone, e.g. Europe/Paris or UTC", flag, tz)
	}
	return loc, nil
}
