package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Defaults of the health rules.
const (
	DefaultMaxArchiveLag = 5 * time.Minute
	// DefaultMaxBackupAge applies to a repository without a full schedule.
	DefaultMaxBackupAge = 8 * 24 * time.Hour
	// MaxDataVolumeUse is the share of the data volume above which status is unhealthy.
	MaxDataVolumeUse = 0.85
)

// Limits are the thresholds of the health rules.
type Limits struct {
	MaxArchiveLag time.Duration
	// MaxBackupAge, when not 0, applies to every repository; 0 means twice its full schedule's
	// period, or DefaultMaxBackupAge.
	MaxBackupAge time.Duration
}

// backupAgeLimit is the limit for storage st and where it comes from.
func backupAgeLimit(l Limits, st pgbackrest.Storage, schedules []Schedule) (time.Duration, string) {
	if l.MaxBackupAge > 0 {
		return l.MaxBackupAge, "--max-backup-age"
	}
	var best time.Duration
	src := ""
	for _, s := range schedules {
		if s.Type == "full" && s.Storage == st && !s.Suspended && s.Period.Seconds > 0 {
			if p := 2 * time.Duration(s.Period.Seconds) * time.Second; p > best {
				best, src = p, "twice the period of schedule "+s.Name
			}
		}
	}
	if best == 0 {
		return DefaultMaxBackupAge, "default (no full schedule)"
	}
	return best, src
}

// Evaluate applies the health rules to st at now and sets Problems and Healthy (and each
// repository's MaxBackupAge). Pure: st is all it reads.
func Evaluate(st *Status, l Limits, now time.Time) {
	if l.MaxArchiveLag <= 0 {
		l.MaxArchiveLag = DefaultMaxArchiveLag
	}
	c, ns := st.Cluster, st.Namespace
	var ps []Problem
	add := func(check string, s pgbackrest.Storage, msg, fix string) {
		ps = append(ps, Problem{Check: check, Storage: s, Message: msg, Fix: fix})
	}
	p := st.Primary
	switch {
	case p.Pod == "" || !p.Ready:
		what := "no primary pod runs"
		if p.Pod != "" {
			what = fmt.Sprintf("primary pod %s is %s", p.Pod, p.State)
		}
		fix := fmt.Sprintf("see `kubectl -n %s describe deployment %s`", ns, c)
		if st.Restore != nil {
			fix = fmt.Sprintf("a restore is in progress (phase %s): finish it with `kubectl pgbackrest restore %s`", st.Restore.Phase, c)
		}
		add("primary", "", what+": nothing is archived and nothing can be backed up", fix)
	case p.Error != "":
		add("primary", "", "the primary's state could not be read: "+p.Error,
			fmt.Sprintf("see `kubectl -n %s logs deploy/%s -c postgres`", ns, c))
	case p.DataSizeBytes > 0 && float64(p.DataUsedBytes) > MaxDataVolumeUse*float64(p.DataSizeBytes):
		add("data-volume", "", fmt.Sprintf("the data volume is %.0f%% full (%s of %s, pg_wal %s)",
			100*float64(p.DataUsedBytes)/float64(p.DataSizeBytes), fmtBytes(p.DataUsedBytes), fmtBytes(p.DataSizeBytes), fmtBytes(p.WALBytes)),
			fmt.Sprintf("grow PVC %s, or free space; a full volume stops PostgreSQL", c))
	}

	a := st.Archiving
	if a.Failing() {
		msg := fmt.Sprintf("WAL archiving fails: the last attempt, of %s, failed %s ago", a.LastFailedWAL, age(now, *a.LastFailed))
		if a.LastFailure != "" {
			msg += ": " + a.LastFailure
		}
		add("archiving", "", msg, fmt.Sprintf("run `kubectl pgbackrest check %s` to see which repository fails and why", c))
	} else if a.Ready > 1 && a.LastArchived != nil && now.Sub(*a.LastArchived) > l.MaxArchiveLag {
		add("archiving", "", fmt.Sprintf("WAL archiving is behind: %d segments wait and the last was archived %s ago (--max-archive-lag %s)",
			a.Ready, age(now, *a.LastArchived), l.MaxArchiveLag), fmt.Sprintf("run `kubectl pgbackrest check %s`", c))
	}
	for _, q := range a.Queues {
		if q.Lost {
			add("archiving", q.Storage, q.Describe(now.Unix())+": point-in-time recovery across them is impossible from there",
				fmt.Sprintf("take a new full backup: `kubectl pgbackrest backup %s --storage=%s --type=full`", c, q.Storage))
			continue
		}
		msg := "WAL archiving to " + string(q.Storage) + " fails: " + q.Describe(now.Unix())
		if q.LastLog != "" && !strings.Contains(q.LastLog, " INFO: ") { // a command's start line says nothing
			msg += "; last copy attempt: " + q.LastLog
		}
		add("archiving", q.Storage, msg, fmt.Sprintf("make %s reachable again (for s3: `kubectl pgbackrest s3 show`), then `kubectl pgbackrest check %s` copies the gap", q.Storage, c))
	}

	for i := range st.Repositories {
		r := &st.Repositories[i]
		limit, src := backupAgeLimit(l, r.Storage, st.Schedules)
		r.MaxBackupAge, r.MaxBackupAgeSource = DurationOf(limit), src
		backup := fmt.Sprintf("`kubectl pgbackrest backup %s --storage=%s --type=full`", c, r.Storage)
		switch {
		case r.Error != "":
			add("repository", r.Storage, fmt.Sprintf("repository %s could not be read: %s", r.Storage, r.Error),
				fmt.Sprintf("run `kubectl pgbackrest check %s --storage=%s`", c, r.Storage))
		case r.Backups == 0:
			add("no-backup", r.Storage, fmt.Sprintf("repository %s has no backup: nothing can be restored from it", r.Storage), "take one: "+backup)
		case r.Newest != nil && now.Sub(r.Newest.Stop) > limit:
			add("backup-age", r.Storage, fmt.Sprintf("the newest backup in %s, %s, is %s old (limit %s: %s)",
				r.Storage, r.Newest.Label, age(now, r.Newest.Stop), limit, src),
				"take one: "+backup+", and check the schedules (`kubectl -n "+ns+" get cronjobs`)")
		}
	}
	if t := st.CertificatesNotAfter; t != nil && t.Sub(now) <= certs.WarnWithin {
		what := "expire in " + age(*t, now)
		if !t.After(now) {
			what = "expired " + age(now, *t) + " ago"
		}
		add("certificates", "", fmt.Sprintf("the pgBackRest TLS certificates %s (%s): then archiving, backups and restores fail", what, t.Format(time.RFC3339)),
			fmt.Sprintf("run `kubectl pgbackrest rotate-certs %s`", c))
	}
	if ps == nil {
		ps = []Problem{}
	}
	st.Problems, st.Healthy = ps, len(ps) == 0
}

// age formats now-t in whole seconds (days past 48 h).
func age(now, t time.Time) string {
	d := now.Sub(t).Truncate(time.Second)
	if d < 0 {
		d = 0
	}
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%s", d/(24*time.Hour), (d % (24 * time.Hour)).Truncate(time.Hour))
	}
	return d.String()
}

func fmtBytes(n int64) string { return backup.FormatBytes(uint64(max(n, 0))) }
