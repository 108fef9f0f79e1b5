package status

import (
	"fmt"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/schedule"
)

// CronPeriod is the time between the next two runs after now of a CronJob's schedule expr in time
// zone tz ("" is UTC), read with the schedule command's own cron parser: a weekly schedule's is 7
// days. --max-backup-age's default is twice the full schedule's.
func CronPeriod(expr, tz string, now time.Time) (time.Duration, error) {
	c, err := schedule.ParseCron("schedule", expr)
	if err != nil {
		return 0, err
	}
	loc, err := schedule.ParseTimeZone("timeZone", tz)
	if err != nil {
		return 0, err
	}
	a := c.Next(now, loc)
	if a.IsZero() {
		return 0, fmt.Errorf("schedule %q never runs", expr)
	}
	b := c.Next(a, loc)
	if b.IsZero() {
		return 0, fmt.Errorf("schedule %q runs once", expr)
	}
	return b.Sub(a), nil
}
