package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A minimal reading of a CronJob's schedule, for one purpose: the time between two runs
// (--max-backup-age's default is twice the full schedule's period). Five fields (minute, hour,
// day of month, month, day of week) of numbers, *, ranges, steps and lists, and the @hourly,
// @daily, @weekly, @monthly and @yearly macros; names of months and days are not read (the
// default of 8 days applies then).

var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

type cronSpec struct {
	minute, hour, dom, month, dow [64]bool
	domAll, dowAll                bool
}

func parseCron(expr string) (*cronSpec, error) {
	expr = strings.TrimSpace(expr)
	if m, ok := cronMacros[expr]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron expression %q: want 5 fields", expr)
	}
	c := &cronSpec{domAll: f[2] == "*", dowAll: f[4] == "*"}
	for i, r := range []struct {
		set      *[64]bool
		min, max int
	}{{&c.minute, 0, 59}, {&c.hour, 0, 23}, {&c.dom, 1, 31}, {&c.month, 1, 12}, {&c.dow, 0, 7}} {
		if err := cronField(f[i], r.min, r.max, r.set); err != nil {
			return nil, fmt.Errorf("cron expression %q: %w", expr, err)
		}
	}
	if c.dow[7] {
		c.dow[0] = true
	}
	return c, nil
}

func cronField(s string, lo, hi int, set *[64]bool) error {
	for part := range strings.SplitSeq(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step %q", part)
			}
			step = n
		}
		from, to := lo, hi
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			x, err := strconv.Atoi(a)
			if err != nil {
				return fmt.Errorf("bad value %q", part)
			}
			from, to = x, x
			if isRange {
				if to, err = strconv.Atoi(b); err != nil {
					return fmt.Errorf("bad value %q", part)
				}
			} else if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi || from > to {
			return fmt.Errorf("value %q out of range %d-%d", part, lo, hi)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cronSpec) dayMatches(t time.Time) bool {
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domAll && c.dowAll:
		return true
	case c.domAll:
		return dow
	case c.dowAll:
		return dom
	default: // cron's rule: either restricted field matching is enough
		return dom || dow
	}
}

// next is the first fire time strictly after t (in t's location), within five years.
func (c *cronSpec) next(t time.Time) (time.Time, bool) {
	t = t.Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		switch {
		case !c.month[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
		case !c.hour[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, t.Location())
		case !c.minute[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

// CronPeriod is the time between the next two runs after now of a cron expression in time zone
// tz ("" is UTC): a weekly schedule's is 7 days.
func CronPeriod(expr, tz string, now time.Time) (time.Duration, error) {
	c, err := parseCron(expr)
	if err != nil {
		return 0, err
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return 0, fmt.Errorf("time zone %q: %w", tz, err)
		}
	}
	a, ok := c.next(now.In(loc))
	if !ok {
		return 0, fmt.Errorf("cron expression %q never fires", expr)
	}
	b, ok := c.next(a)
	if !ok {
		return 0, fmt.Errorf("cron expression %q fires once", expr)
	}
	return b.Sub(a), nil
}
