package status

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

// Render writes one cluster's status as sections; c colours the verdict (nil: none).
func Render(w io.Writer, st *Status, c *output.Color) {
	w = output.CleanWriter(w) // messages come from pgBackRest and PostgreSQL
	now := st.Time
	verdict := c.Green("healthy")
	if !st.Healthy {
		verdict = c.Red(fmt.Sprintf("UNHEALTHY (%d problems)", len(st.Problems)))
	}
	fmt.Fprintf(w, "%s %s/%s: %s, at %s\n", c.Bold("cluster"), st.Namespace, st.Cluster, verdict, ts(now))
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  %s %s\n    → %s\n", c.Red("✗"), p.Message, p.Fix)
	}

	p := st.Primary
	fmt.Fprintf(w, "\n%s\n", c.Bold("primary"))
	switch {
	case p.Pod == "":
		fmt.Fprintln(w, "  no pod")
	case !p.Ready:
		fmt.Fprintf(w, "  pod %s: %s\n", p.Pod, p.State)
	case p.Error != "":
		fmt.Fprintf(w, "  pod %s: ready; %s\n", p.Pod, p.Error)
	default:
		role := "primary, not in recovery"
		if p.InRecovery {
			role = "in recovery"
		}
		fmt.Fprintf(w, "  pod %s: ready, PostgreSQL %s, %s\n", p.Pod, p.Version, role)
		fmt.Fprintf(w, "  timeline %d, LSN %s\n", p.Timeline, p.LSN)
		use := ""
		if p.DataSizeBytes > 0 {
			use = fmt.Sprintf(" (%.0f%%)", 100*float64(p.DataUsedBytes)/float64(p.DataSizeBytes))
		}
		fmt.Fprintf(w, "  data volume %s used of %s%s, pg_wal %s\n", fmtBytes(p.DataUsedBytes), fmtBytes(p.DataSizeBytes), use, fmtBytes(p.WALBytes))
	}

	a := st.Archiving
	fmt.Fprintf(w, "\n%s\n", c.Bold("WAL archiving"))
	if a.LastArchived != nil {
		fmt.Fprintf(w, "  last archived %s, %s ago (%d in all)\n", a.LastArchivedWAL, age(now, *a.LastArchived), a.ArchivedCount)
	} else {
		fmt.Fprintln(w, "  nothing archived yet")
	}
	if a.LastFailed != nil {
		state := "since succeeded"
		if a.Failing() {
			state = c.Red("failing")
		}
		fmt.Fprintf(w, "  last failure %s, %s ago (%s, %d in all)\n", a.LastFailedWAL, age(now, *a.LastFailed), state, a.FailedCount)
		if a.LastFailure != "" {
			fmt.Fprintf(w, "    %s\n", a.LastFailure)
		}
	}
	fmt.Fprintf(w, "  segments waiting: %d\n", a.Ready)
	if len(a.Queues) == 0 {
		fmt.Fprintln(w, "  every repository is current (no queue)")
	}
	for _, q := range a.Queues {
		fmt.Fprintf(w, "  queue: %s\n", q.Describe(now.Unix()))
	}

	for _, r := range st.Repositories {
		fmt.Fprintf(w, "\n%s %s (repo%d)", c.Bold("repository"), r.Storage, r.Key)
		if r.Status != "" {
			fmt.Fprintf(w, ": %s", r.Status)
		}
		fmt.Fprintln(w)
		if r.Error != "" {
			fmt.Fprintf(w, "  %s\n", r.Error)
		}
		for _, b := range []struct {
			what string
			b    *Backup
		}{{"last full", r.LastFull}, {"last diff", r.LastDiff}, {"last incr", r.LastIncr}, {"oldest", r.Oldest}} {
			if b.b == nil {
				fmt.Fprintf(w, "  %-10s -\n", b.what)
				continue
			}
			fmt.Fprintf(w, "  %-10s %s, %s ago\n", b.what, b.b.Label, age(now, b.b.Stop))
		}
		if rw := r.RecoveryWindow; rw != nil {
			fmt.Fprintf(w, "  recoverable from %s to the end of the archive (WAL %s, at least %s)\n", ts(rw.From), rw.ToWAL, ts(rw.AtLeastUntil))
		} else {
			fmt.Fprintln(w, "  recoverable: nothing")
		}
		size := fmt.Sprintf("  %d backups take %s", r.Backups, fmtBytes(r.BackupBytes))
		if r.VolumeSizeBytes > 0 {
			size += fmt.Sprintf("; volume %s used of %s", fmtBytes(r.VolumeUsedBytes), fmtBytes(r.VolumeSizeBytes))
		}
		fmt.Fprintln(w, size)
		ret := fmt.Sprintf("  retention: %d full (%s)", r.Retention.Full, r.Retention.FullType)
		if r.Retention.Diff > 0 {
			ret += fmt.Sprintf(", %d diff", r.Retention.Diff)
		}
		if r.Retention.Archive > 0 {
			ret += fmt.Sprintf(", archive %d (%s)", r.Retention.Archive, r.Retention.ArchiveType)
		}
		fmt.Fprintln(w, ret)
		if r.MaxBackupAge.Seconds > 0 {
			fmt.Fprintf(w, "  newest backup may be %s old (%s)\n", r.MaxBackupAge.Text, r.MaxBackupAgeSource)
		}
	}

	fmt.Fprintf(w, "\n%s\n", c.Bold("schedules"))
	if len(st.Schedules) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, s := range st.Schedules {
		line := fmt.Sprintf("  %s: %s to %s, %q", s.Name, s.Type, s.Storage, s.Schedule)
		if s.Suspended {
			line += " (suspended)"
		}
		if s.LastSchedule != nil {
			line += ", last run " + age(now, *s.LastSchedule) + " ago"
		}
		if s.LastResult != "" {
			line += ": " + s.LastResult
		}
		fmt.Fprintln(w, line)
	}

	var other []string
	if st.Lease != nil {
		l := fmt.Sprintf("lease held by %s (%s)", st.Lease.Holder, orDash(st.Lease.Purpose))
		if st.Lease.Since != nil {
			l += " since " + ts(*st.Lease.Since)
		}
		other = append(other, l)
	} else {
		other = append(other, "lease: free")
	}
	if r := st.Restore; r != nil {
		other = append(other, fmt.Sprintf("restore %s in progress: phase %s, target %s", r.ID, orDash(r.Phase), orDash(r.Target)))
	}
	if t := st.CertificatesNotAfter; t != nil {
		other = append(other, fmt.Sprintf("certificates expire %s (in %s)", ts(*t), age(*t, now)))
	}
	fmt.Fprintf(w, "\n%s\n  %s\n", c.Bold("other"), strings.Join(other, "\n  "))
}

// Line is --all's one line of a cluster: its verdict and first problem.
func Line(st *Status) []string {
	if st.Healthy {
		return []string{st.Cluster, "healthy", "-"}
	}
	first := st.Problems[0].Message
	if n := len(st.Problems); n > 1 {
		first += fmt.Sprintf(" (+%d more)", n-1)
	}
	return []string{st.Cluster, "unhealthy", first}
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
