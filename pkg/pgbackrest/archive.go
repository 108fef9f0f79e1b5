package pgbackrest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Per-repository archiving (docs/architecture.md, "Archiving that survives a repository outage").
//
// One `pgbackrest archive-push` writes a segment to every repository together, so one hung
// repository stalls them all, and pgBackRest's archive-push-queue-max drops the segment for every
// repository at once. The primary's archive_command is therefore a script of ours that pushes to
// each repository on its own, with a configuration that names only that repository:
//
//   - the first repository (local when the cluster has it) must receive every segment: a failure
//     fails archive_command and PostgreSQL keeps the segment and retries, until the segments waiting
//     pass the backlog bound; past it the segment is given up for that repository (a lost segment,
//     reported) so that pg_wal never fills the data volume and PostgreSQL never stops;
//   - every other repository is pushed to with a bounded time; a failure records the segment in
//     that repository's gap list and never fails archive_command. While a gap exists, new segments
//     join the gap (so the repository's archive stays one continuous run that pgBackRest's own info
//     reports truthfully) and a backfill copies them in order from another repository
//     (archive-get, then archive-push with the gap's configuration).
//
// The state lives on the data volume, outside PGDATA (a restore's new volume starts clean).

// Names of the files in the cluster ConfigMap that the per-repository archiving uses, and where
// the primary's pod sees them (the ConfigMap volume at /etc/pgbackrest).
const (
	ArchivePushScript     = "archive-push.sh"
	ArchiveBackfillScript = "archive-backfill.sh"
	// ArchiveStateDir is on the data volume (mounted at /pgdata), beside PGDATA.
	ArchiveStateDir = "/pgdata/archive-state"
	// ArchivePushTimeout bounds one push to a repository that is not the first, and each step of a
	// backfill, in seconds: a hung S3 then delays the archiving of one segment by at most this
	// long, after which the repository is in gap mode and costs nothing more. A healthy push of a
	// 16 MB segment takes well under a second in a cluster; a slow one only goes to the gap.
	ArchivePushTimeout = 5
	// CheckTimeout bounds one repository's `pgbackrest check`, in seconds: archive-timeout (60 s)
	// plus time to connect.
	CheckTimeout = 120
	// ArchiveMustTimeout bounds a push to the first repository, in seconds: pgBackRest's own
	// retries stop at io-timeout, this is the backstop for a connection that hangs.
	ArchiveMustTimeout = 60
	// WALSegmentMB is the WAL segment size initdb gives (the plugin never changes it).
	WALSegmentMB = 16
)

// ArchiveConfigFile is the configuration file of storage s used by archive-push and backfills in
// the primary's pod ("archive-s3.conf").
func ArchiveConfigFile(s Storage) string { return "archive-" + string(s) + ".conf" }

// CheckConfigFile is the configuration file of storage s alone in the repository host's pod
// ("check-s3.conf"): `check` uses it (pgBackRest's check has no --repo option).
func CheckConfigFile(s Storage) string { return "check-" + string(s) + ".conf" }

// RemoteConfigFile is the repository host's configuration for the remote that serves the
// primary's and restore Jobs' requests to S3 (writeRepoHost): every repository, as in its
// pgbackrest.conf, with S3's own lock-path. Every repository, because the repository host's
// environment has the passphrase of each (PGBACKREST_REPO<n>_CIPHER_PASS), and pgBackRest 2.45
// refuses a remote for --repo=2 in a file where repo1 is known only from the environment ("key
// '2' is not valid for 'repo' option"; measured).
const RemoteConfigFile = "remote-s3.conf"

// RepoLockPath is the lock-path of storage s's own configuration on the repository host, apart
// from every other repository's (writeRepoHost says why).
func RepoLockPath(s Storage) string { return LockPath + "/" + string(s) }

// only returns p configured for storage s alone.
func (p ConfigParams) only(s Storage) ConfigParams {
	p.Storages = []Storage{s}
	return p
}

// RenderArchiveConfig renders the primary's configuration for pushing to (and getting from)
// storage s alone. It has no TLS server section: no server loads it.
func RenderArchiveConfig(p ConfigParams, s Storage) (string, error) {
	return renderDB(p.only(s), "Role: PostgreSQL primary, archive-push to "+string(s)+" only.", false)
}

// RenderCheckConfig renders the repository host's configuration of storage s alone, for check,
// with s's own lock-path.
func RenderCheckConfig(p ConfigParams, s Storage) (string, error) {
	return renderRepo(p.only(s), "Role: repository host, check of "+string(s)+" only.", false, RepoLockPath(s))
}

// RenderRemoteConfig renders RemoteConfigFile.
func RenderRemoteConfig(p ConfigParams) (string, error) {
	return renderRepo(p, "Role: repository host, the remote serving the primary's and restore Jobs' requests to s3.", false, RepoLockPath(S3))
}

// ArchiveParams are the values the archive scripts are rendered with.
type ArchiveParams struct {
	Stanza string
	// Storages of the cluster, the first being the one that must receive every segment.
	Storages []Storage
	// BacklogMB bounds the WAL kept in pg_wal for a failing first repository.
	BacklogMB int64
	// ConfigDir holds the scripts and the archive-*.conf files; StateDir the gap lists.
	ConfigDir, StateDir string
	// MustTimeout and PushTimeout are in seconds (ArchiveMustTimeout, ArchivePushTimeout).
	MustTimeout, PushTimeout int
}

// NewArchiveParams returns the parameters of a cluster's scripts with the plugin's defaults.
func NewArchiveParams(storages []Storage, backlogMB int64, configDir string) ArchiveParams {
	return ArchiveParams{Stanza: DefaultStanza, Storages: storages, BacklogMB: backlogMB, ConfigDir: configDir,
		StateDir: ArchiveStateDir, MustTimeout: ArchiveMustTimeout, PushTimeout: ArchivePushTimeout}
}

// ArchiveCommand is PostgreSQL's archive_command: the push script, with %p and %f.
func ArchiveCommand(configDir string) string {
	return "sh " + configDir + "/" + ArchivePushScript + " %p %f"
}

// RenderArchivePushScript renders archive-push.sh.
func RenderArchivePushScript(a ArchiveParams) string {
	var others []string
	for _, s := range a.Storages[1:] {
		others = append(others, string(s))
	}
	return fmt.Sprintf(archivePushTemplate, a.ConfigDir, a.StateDir, a.Stanza, a.Storages[0],
		strings.Join(others, " "), a.MustTimeout, a.PushTimeout, a.BacklogMB, WALSegmentMB)
}

// RenderArchiveBackfillScript renders archive-backfill.sh.
func RenderArchiveBackfillScript(a ArchiveParams) string {
	var all []string
	for _, s := range a.Storages {
		all = append(all, string(s))
	}
	return fmt.Sprintf(archiveBackfillTemplate, a.ConfigDir, a.StateDir, a.Stanza, strings.Join(all, " "), a.PushTimeout)
}

// The scripts are POSIX sh with coreutils' timeout and util-linux's flock (docs/image.md). They
// run from PGDATA (archive_command's working directory) or from a plugin exec.
const scriptCommon = `# Generated by kubectl-pgbackrest. Do not edit: the plugin rewrites this file.
set -u
conf=%[1]s
state=%[2]s
stanza=%[3]s
mkdir -p "$state"
log() { echo "$(basename "$0"): $*" >&2; }
# note STORAGE KIND SEGMENT: append SEGMENT to the gap (or lost) list of STORAGE, under its lock.
note() {
  ( flock 8
    echo "$3" >>"$state/$1.$2"
    [ -s "$state/$1.$2-since" ] || date -u +%%s >"$state/$1.$2-since"
  ) 8>>"$state/$1.lock"
}
push() { # push STORAGE FILE SECONDS
  timeout -k 5 "$3" pgbackrest --config="$conf/archive-$1.conf" --stanza="$stanza" archive-push "$2"
}
`

var archivePushTemplate = scriptCommon + `# archive_command: archive-push.sh %%p %%f
wal=$1
name=$2
must=%[4]s
others="%[5]s"
case $name in *.backup) backup_file=y ;; *) backup_file=n ;; esac
if ! push "$must" "$wal" %[6]d; then
  ready=$(ls pg_wal/archive_status 2>/dev/null | grep -c '\.ready$')
  if [ $((ready * %[9]d)) -lt %[8]d ]; then
    log "pushing $name to $must failed; PostgreSQL keeps it and retries ($ready segments wait, bound %[8]dMB)"
    exit 1
  fi
  log "pushing $name to $must failed with $ready segments waiting, past the bound of %[8]dMB: $name is given up for $must so that PostgreSQL does not stop (kubectl pgbackrest check reports it)"
  # With another repository the segment goes there and is copied back later; without, it is lost.
  kind=lost
  [ -n "$others" ] && kind=gap
  [ $backup_file = y ] || note "$must" $kind "$name"
fi
for r in $others; do
  if [ -s "$state/$r.gap" ]; then
    # The repository has a gap: keep its archive one continuous run, and try to fill it.
    [ $backup_file = y ] || note "$r" gap "$name"
    : >"$state/$r.backfill-wanted"
    setsid sh "$conf/archive-backfill.sh" "$r" </dev/null >>"$state/$r.backfill.log" 2>&1 &
  elif ! push "$r" "$wal" %[7]d; then
    log "pushing $name to $r failed or took over %[7]ds: recorded in its gap, filled from another repository later"
    [ $backup_file = y ] || note "$r" gap "$name"
  fi
done
exit 0
`

var archiveBackfillTemplate = scriptCommon + `# archive-backfill.sh STORAGE [WAIT_SECONDS [RETRIES]]: copy the segments of STORAGE's gap, oldest first,
# from another repository. archive-backfill.sh --status prints every gap and lost list.
all="%[4]s"
if [ "${1:-}" = --status ]; then
  for r in $all; do
    for kind in gap lost; do
      f="$state/$r.$kind"
      [ -s "$f" ] || continue
      echo "$kind $r $(wc -l <"$f") $(cat "$f-since" 2>/dev/null || echo 0) $(head -n1 "$f") $(tail -n1 "$f")"
    done
    [ -s "$state/$r.backfill.log" ] && echo "log $r $(tail -n1 "$state/$r.backfill.log")"
  done
  exit 0
fi
r=$1
exec 7>>"$state/$r.backfill.lock"
flock -w "${2:-0}" 7 || exit 0
: >"$state/$r.backfill.log"
tmp="$state/backfill-$r"
# fill copies the gap's segments in order; it fails at the first that cannot be copied now.
fill() {
  while :; do
    seg=$(head -n1 "$state/$r.gap" 2>/dev/null)
    [ -n "$seg" ] || return 0
    got=n
    missing=y
    for o in $all; do
      [ "$o" = "$r" ] && continue
      timeout -k 5 %[5]d pgbackrest --config="$conf/archive-$o.conf" --stanza="$stanza" archive-get "$seg" "$tmp/$seg" >/dev/null
      rc=$?
      [ $rc = 0 ] && { got=y; break; }
      # archive-get exits 1 when the segment is not in the repository; anything else is a failure.
      [ $rc = 1 ] || missing=n
    done
    if [ $got = n ] && [ $missing = n ]; then
      log "getting $seg for $r failed: the gap stays and is tried again"
      return 1
    fi
    if [ $got = n ]; then
      log "$seg is in no other repository: lost for $r"
      note "$r" lost "$seg"
    elif ! push "$r" "$tmp/$seg" %[5]d; then
      log "pushing $seg to $r failed: the gap stays and is tried again"
      return 1
    else
      log "copied $seg to $r"
    fi
    rm -f "$tmp/$seg"
    ( flock 8
      sed -i 1d "$state/$r.gap"
      [ -s "$state/$r.gap" ] || rm -f "$state/$r.gap" "$state/$r.gap-since"
    ) 8>>"$state/$r.lock"
  done
}
# A segment archived while an attempt runs asks for another (archive-push.sh touches the flag):
# its own start found this backfill holding the lock and left. Two more at most: while the
# repository stays down, the next segment's own backfill tries again.
tries=0
while :; do
  rm -f "$state/$r.backfill-wanted"
  rm -rf "$tmp" && mkdir -p "$tmp"
  fill && break
  tries=$((tries + 1))
  [ -e "$state/$r.backfill-wanted" ] && [ $tries -le "${3:-2}" ] || exit 1
done
rm -rf "$tmp"
exit 0
`

// ArchiveGap is a repository's gap or lost list, as archive-backfill.sh --status prints it.
type ArchiveGap struct {
	Storage Storage `json:"storage"`
	// Lost segments were given up for the first repository past the backlog bound, or are in no
	// repository at all; a gap is only not yet copied.
	Lost     bool   `json:"lost"`
	Segments int    `json:"segments"`
	Since    int64  `json:"since"` // epoch seconds of the first segment recorded
	First    string `json:"first"`
	Last     string `json:"last"`
	// LastLog is the backfill's last log line, when there is one.
	LastLog string `json:"lastLog,omitempty"`
}

// ParseArchiveStatus parses archive-backfill.sh --status.
func ParseArchiveStatus(out string) []ArchiveGap {
	var gaps []ArchiveGap
	logs := map[Storage]string{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "log":
			logs[Storage(f[1])] = strings.Join(f[2:], " ")
		case len(f) == 6 && (f[0] == "gap" || f[0] == "lost"):
			n, err1 := strconv.Atoi(f[2])
			since, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			gaps = append(gaps, ArchiveGap{Storage: Storage(f[1]), Lost: f[0] == "lost", Segments: n, Since: since, First: f[4], Last: f[5]})
		}
	}
	for i := range gaps {
		if !gaps[i].Lost {
			gaps[i].LastLog = logs[gaps[i].Storage]
		}
	}
	slices.SortFunc(gaps, func(a, b ArchiveGap) int { return RepoKey(a.Storage) - RepoKey(b.Storage) })
	return gaps
}

// CheckRepoArgs builds `check` of storage s alone, with its check-<storage>.conf in configDir.
func CheckRepoArgs(stanza string, s Storage, configDir string) []string {
	return []string{"timeout", "-k", "5", strconv.Itoa(CheckTimeout),
		"pgbackrest", "--config=" + configDir + "/" + CheckConfigFile(s), "--stanza=" + stanza, "check"}
}

// ArchiveStatusArgs prints every gap and lost list (ParseArchiveStatus) in the primary's pod.
func ArchiveStatusArgs(configDir string) []string {
	return []string{"sh", configDir + "/" + ArchiveBackfillScript, "--status"}
}

// BackfillArgs copies storage s's gap from the other repositories in the primary's pod, waiting
// up to waitSeconds for a backfill already running to finish first. It makes one attempt: the
// plugin reports a repository still down rather than wait on it.
func BackfillArgs(configDir string, s Storage, waitSeconds int) []string {
	return []string{"sh", configDir + "/" + ArchiveBackfillScript, string(s), strconv.Itoa(waitSeconds), "0"}
}

// Describe says what a gap means for people.
func (g ArchiveGap) Describe(now int64) string {
	age := ""
	if g.Since > 0 && now >= g.Since {
		age = fmt.Sprintf(" since %s ago", formatAge(now-g.Since))
	}
	what := "not yet copied there"
	if g.Lost {
		what = "lost: in no repository"
	}
	return fmt.Sprintf("%d WAL segments %s–%s missing from %s (repo%d)%s, %s", g.Segments, g.First, g.Last, g.Storage, RepoKey(g.Storage), age, what)
}

func formatAge(s int64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case s < 7200:
		return fmt.Sprintf("%dm", s/60)
	case s < 172800:
		return fmt.Sprintf("%dh", s/3600)
	}
	return fmt.Sprintf("%dd", s/86400)
}
