package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// The primary's facts come from one exec of PrimaryScript: key=value lines (psql's, then df's and
// the archive state's), parsed by ParsePrimary. Pure, so both are tested without a cluster.

// primaryQuery prints one key=value line per fact. Timeline and LSN: on a primary the current WAL
// file names the timeline; in recovery the last replayed LSN and the checkpoint's timeline.
const primaryQuery = `select 'version=' || current_setting('server_version')
union all select 'inRecovery=' || pg_is_in_recovery()::text
union all select 'lsn=' || (case when pg_is_in_recovery() then coalesce(pg_last_wal_replay_lsn()::text, '') else pg_current_wal_lsn()::text end)
union all select 'timeline=' || (case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())::text
  else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text end)
union all select 'walBytes=' || coalesce((select sum(size) from pg_ls_waldir()), 0)::bigint::text
union all select 'archivedCount=' || archived_count || E'\nlastArchivedWAL=' || coalesce(last_archived_wal, '') ||
  E'\nlastArchivedTime=' || coalesce(extract(epoch from last_archived_time)::bigint::text, '') ||
  E'\nfailedCount=' || failed_count || E'\nlastFailedWAL=' || coalesce(last_failed_wal, '') ||
  E'\nlastFailedTime=' || coalesce(extract(epoch from last_failed_time)::bigint::text, '') from pg_stat_archiver
union all select 'now=' || extract(epoch from now())::bigint::text`

// PrimaryScript is the one command run in the primary's postgres container: psql's facts, the
// .ready count of pg_wal/archive_status, df of the data volume and the per-repository archive
// state (gap and lost lists, archive-backfill.sh --status).
func PrimaryScript(pgdata, dataMount, socketDir, configDir string) []string {
	script := fmt.Sprintf(`psql -h %[3]s -U postgres -X -v ON_ERROR_STOP=1 -Atc %[5]s 2>&1 | sed 's/^/psql: /;s/^psql: \([a-zA-Z]*=\)/\1/'
echo "ready=$(ls %[1]s/pg_wal/archive_status 2>/dev/null | grep -c '\.ready$')"
df -P -B1 %[2]s 2>/dev/null | awk 'NR==2 {print "dataSize=" $2; print "dataUsed=" $3}'
sh %[4]s/%[6]s --status 2>/dev/null | sed 's/^/archive: /'
exit 0`, pgdata, dataMount, socketDir, configDir, shellQuote(primaryQuery), pgbackrest.ArchiveBackfillScript)
	return []string{"sh", "-c", script}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Primary is what status says of the PostgreSQL primary.
type Primary struct {
	// Pod is the primary's pod; "" when none runs.
	Pod string `json:"pod"`
	// Ready is the pod's readiness; State its phase or the reason it is not ready.
	Ready bool   `json:"ready"`
	State string `json:"state"`
	// Version is PostgreSQL's server_version.
	Version string `json:"version"`
	// Timeline is the current timeline; LSN the current WAL position (the last replayed in recovery).
	Timeline   int    `json:"timeline"`
	LSN        string `json:"lsn"`
	InRecovery bool   `json:"inRecovery"`
	// DataUsedBytes and DataSizeBytes are the data volume's use (df); WALBytes is pg_wal's size.
	DataUsedBytes int64 `json:"dataUsedBytes"`
	DataSizeBytes int64 `json:"dataSizeBytes"`
	WALBytes      int64 `json:"walBytes"`
	// Error says why the facts could not be read (the exec failed); the rest is then empty.
	Error string `json:"error,omitempty"`
}

// Archiving is WAL archiving as pg_stat_archiver and the per-repository archive state see it.
type Archiving struct {
	ArchivedCount   int64      `json:"archivedCount"`
	LastArchivedWAL string     `json:"lastArchivedWAL"`
	LastArchived    *time.Time `json:"lastArchived"`
	FailedCount     int64      `json:"failedCount"`
	LastFailedWAL   string     `json:"lastFailedWAL"`
	LastFailed      *time.Time `json:"lastFailed"`
	// LastFailure is the last archive-push error line of the primary's log, when the last failure
	// is newer than the last success.
	LastFailure string `json:"lastFailure,omitempty"`
	// Ready is the number of segments waiting for archive_command (.ready files).
	Ready int `json:"ready"`
	// Queues are the segments waiting for each repository other than the first (its gap list),
	// or given up (lost).
	Queues []pgbackrest.ArchiveGap `json:"queues"`
}

// Failing says archive_command's last attempt failed (newer than its last success).
func (a Archiving) Failing() bool {
	return a.LastFailed != nil && (a.LastArchived == nil || a.LastFailed.After(*a.LastArchived))
}

// ParsePrimary reads PrimaryScript's output into p and a; it returns the database's clock (for
// the ages) and an error when psql said nothing usable.
func ParsePrimary(out string, p *Primary, a *Archiving) (time.Time, error) {
	var now time.Time
	var psqlErr []string
	var gapLines []string
	seen := map[string]bool{}
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "archive: "); ok {
			gapLines = append(gapLines, rest)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "psql: "); ok {
			psqlErr = append(psqlErr, rest)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		seen[k] = true
		i, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "version":
			p.Version = v
		case "inRecovery":
			p.InRecovery = v == "true"
		case "lsn":
			p.LSN = v
		case "timeline":
			p.Timeline = int(i)
		case "walBytes":
			p.WALBytes = i
		case "dataSize":
			p.DataSizeBytes = i
		case "dataUsed":
			p.DataUsedBytes = i
		case "ready":
			a.Ready = int(i)
		case "archivedCount":
			a.ArchivedCount = i
		case "lastArchivedWAL":
			a.LastArchivedWAL = v
		case "lastArchivedTime":
			a.LastArchived = epoch(v)
		case "failedCount":
			a.FailedCount = i
		case "lastFailedWAL":
			a.LastFailedWAL = v
		case "lastFailedTime":
			a.LastFailed = epoch(v)
		case "now":
			if t := epoch(v); t != nil {
				now = *t
			}
		}
	}
	a.Queues = pgbackrest.ParseArchiveStatus(strings.Join(gapLines, "\n"))
	if !seen["version"] {
		msg := strings.TrimSpace(strings.Join(psqlErr, " "))
		if msg == "" {
			msg = "psql printed nothing"
		}
		return now, fmt.Errorf("reading PostgreSQL's state: %s", msg)
	}
	return now, nil
}

func epoch(v string) *time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil {
		return nil
	}
	t := time.Unix(n, 0).UTC()
	return &t
}

// The repository host's facts come from one exec of RepoScript: pgBackRest's info of each
// repository on its own, in parallel and bounded (a hung S3 must not hide the local repository),
// and df of the local repository volume.

// RepoScript runs info of each repository key at once, each within timeout seconds, and prints
// "== repo<key> <exit code>" then its JSON; then df of repoMount when it is not "".
func RepoScript(stanza string, keys []int, timeout int, repoMount string) []string {
	var b strings.Builder
	b.WriteString("d=$(mktemp -d)\n")
	for _, k := range keys {
		args := pgbackrest.InfoArgs(stanza, k)
		fmt.Fprintf(&b, "( timeout -k 2 %d %s >$d/%d 2>$d/%d.err; echo $? >$d/%d.rc ) &\n", timeout, strings.Join(args, " "), k, k, k)
	}
	b.WriteString("wait\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "echo \"== repo%d $(cat $d/%d.rc)\"; cat $d/%d; echo; grep -E 'ERROR|WARN' $d/%d.err | tail -n1 | sed 's/^/stderr: /'\n", k, k, k, k)
	}
	if repoMount != "" {
		fmt.Fprintf(&b, "df -P -B1 %s 2>/dev/null | awk 'NR==2 {print \"== df \" $2 \" \" $3}'\n", repoMount)
	}
	b.WriteString("rm -rf $d\n")
	return []string{"sh", "-c", b.String()}
}

// RepoOutput is one repository's part of RepoScript's output.
type RepoOutput struct {
	Key  int
	Code int
	JSON string
	// Stderr is pgBackRest's last error or warning line.
	Stderr string
}

// ParseRepoScript splits RepoScript's output; dfSize and dfUsed are 0 without a df line.
func ParseRepoScript(out string) (repos []RepoOutput, dfSize, dfUsed int64) {
	var cur *RepoOutput
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "== "); ok {
			f := strings.Fields(rest)
			if len(f) == 3 && f[0] == "df" {
				dfSize, _ = strconv.ParseInt(f[1], 10, 64)
				dfUsed, _ = strconv.ParseInt(f[2], 10, 64)
				continue
			}
			if len(f) >= 1 && strings.HasPrefix(f[0], "repo") {
				key, _ := strconv.Atoi(strings.TrimPrefix(f[0], "repo"))
				code := -1
				if len(f) == 2 {
					code, _ = strconv.Atoi(f[1])
				}
				repos = append(repos, RepoOutput{Key: key, Code: code})
				cur = &repos[len(repos)-1]
				continue
			}
		}
		if cur == nil {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "stderr: "); ok {
			cur.Stderr = strings.TrimSpace(rest)
			continue
		}
		cur.JSON += line
	}
	return repos, dfSize, dfUsed
}
