package pgbackrest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timelines after point-in-time restores (docs/architecture.md, "PITR after PITR"). Each restore
// that promotes starts a new timeline, and PostgreSQL archives its history file
// (0000000N.history): one line per ancestor, "parentTLI<TAB>switchpointLSN<TAB>reason". Replay
// along a timeline follows each ancestor up to its switchpoint, so a target time at which an
// older timeline held data that the followed timeline's ancestry skipped is reached on the wrong
// data, silently. The code here finds such targets and the backup sets a timeline can start from.

// LSN is a WAL location.
type LSN uint64

var lsnPartsRE = regexp.MustCompile(`^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$`)

// ParseLSN reads an LSN as PostgreSQL prints it ("0/4B000028").
func ParseLSN(s string) (LSN, error) {
	m := lsnPartsRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not an LSN (such as 0/4B000028)", s)
	}
	hi, _ := strconv.ParseUint(m[1], 16, 32)
	lo, _ := strconv.ParseUint(m[2], 16, 32)
	return LSN(hi<<32 | lo), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// WALSegmentSize is PostgreSQL's default WAL segment size, which the plugin's clusters use.
const WALSegmentSize = 16 << 20

// SegmentTimeline is the timeline of a WAL segment name (its first 8 hex digits); 0 when seg is
// not a segment name.
func SegmentTimeline(seg string) uint32 {
	if len(seg) < 24 {
		return 0
	}
	tl, err := strconv.ParseUint(seg[:8], 16, 32)
	if err != nil {
		return 0
	}
	return uint32(tl)
}

// SegmentEnd is the LSN just past the end of WAL segment seg (16 MB segments); 0 when seg is not
// a segment name.
func SegmentEnd(seg string) LSN {
	if len(seg) < 24 {
		return 0
	}
	log, err1 := strconv.ParseUint(seg[8:16], 16, 32)
	n, err2 := strconv.ParseUint(seg[16:24], 16, 32)
	if err1 != nil || err2 != nil {
		return 0
	}
	return LSN(log<<32 + (n+1)*WALSegmentSize)
}

// HistoryEntry is one line of a timeline history file: timeline Parent was followed up to Switch,
// where the next timeline of the file began. Reason is what ended that recovery.
type HistoryEntry struct {
	Parent uint32 `json:"parent"`
	Switch LSN    `json:"-"`
	Reason string `json:"reason,omitempty"`
}

// ParseHistory reads a timeline history file (comment lines start with #).
func ParseHistory(data string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 2 {
			f = strings.Fields(line)
			if len(f) > 3 {
				f = []string{f[0], f[1], strings.Join(f[2:], " ")}
			}
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("timeline history line %q: want parentTLI, switchpoint and reason", line)
		}
		tl, err := strconv.ParseUint(strings.TrimSpace(f[0]), 10, 32)
		if err != nil || tl == 0 {
			return nil, fmt.Errorf("timeline history line %q: %q is not a timeline", line, f[0])
		}
		lsn, err := ParseLSN(f[1])
		if err != nil {
			return nil, fmt.Errorf("timeline history line %q: %w", line, err)
		}
		e := HistoryEntry{Parent: uint32(tl), Switch: lsn}
		if len(f) == 3 {
			e.Reason = strings.TrimSpace(f[2])
		}
		out = append(out, e)
	}
	return out, nil
}

// reasonTimeRE matches the reason PostgreSQL writes for a time target: "before 2026-12-02
// 01:02:03.456+00" (the first commit not replayed) or "after ..." (the last one replayed).
var reasonTimeRE = regexp.MustCompile(`^(before|after) ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ ?(?:[+-][0-9]{2}(?::?[0-9]{2})?|Z|UTC)?)$`)

// BranchTime is the time of the parent's first record that the child of entry e did not replay,
// from its reason: known for a recovery that stopped at a time target ("before T": the commit at T
// was not replayed), infinite for one that replayed to the end of the archive ("no recovery
// target specified": the parent has nothing after the switchpoint). ok is false when the reason
// names no time (a name, xid, LSN or immediate target).
func (e HistoryEntry) BranchTime() (t time.Time, infinite, ok bool) {
	if e.Reason == "no recovery target specified" {
		return time.Time{}, true, true
	}
	m := reasonTimeRE.FindStringSubmatch(e.Reason)
	if m == nil || m[1] != "before" {
		// "after T" replayed the commit at T; the next one is later but unknown.
		return time.Time{}, false, false
	}
	s := strings.Replace(m[2], "UTC", "+00", 1)
	tm, err := ParseTargetTime(s)
	if err != nil {
		return time.Time{}, false, false
	}
	return tm, false, true
}

// Timeline is one timeline of a repository's archive.
type Timeline struct {
	ID uint32 `json:"id"`
	// History are its ancestors, oldest first, each followed up to its switchpoint (empty for 1).
	History []HistoryEntry `json:"history,omitempty"`
	// Began is when its history file was archived, right after it was promoted (zero: unknown,
	// or timeline 1, which began with the cluster).
	Began time.Time `json:"began,omitempty"`
}

// Parent is the timeline this one branched from (0 for the first).
func (t Timeline) Parent() uint32 {
	if len(t.History) == 0 {
		return 0
	}
	return t.History[len(t.History)-1].Parent
}

// Timelines are the timelines of one archive, by ascending id; timeline 1 is always there.
type Timelines []Timeline

// HistoryFile is one history file read from a repository: its timeline, content and modification
// time (when it was archived).
type HistoryFile struct {
	Timeline uint32
	Data     string
	Time     time.Time
}

// BuildTimelines makes the timelines of an archive from its history files.
func BuildTimelines(files []HistoryFile) (Timelines, error) {
	ts := Timelines{{ID: 1}}
	for _, f := range files {
		if f.Timeline <= 1 {
			continue
		}
		h, err := ParseHistory(f.Data)
		if err != nil {
			return nil, fmt.Errorf("history file of timeline %d: %w", f.Timeline, err)
		}
		if len(h) == 0 {
			return nil, fmt.Errorf("history file of timeline %d is empty", f.Timeline)
		}
		ts = append(ts, Timeline{ID: f.Timeline, History: h, Began: f.Time.UTC()})
	}
	slices.SortFunc(ts, func(a, b Timeline) int { return cmp.Compare(a.ID, b.ID) })
	return slices.CompactFunc(ts, func(a, b Timeline) bool { return a.ID == b.ID }), nil
}

// Get returns timeline id.
func (ts Timelines) Get(id uint32) (Timeline, bool) {
	for _, t := range ts {
		if t.ID == id {
			return t, true
		}
	}
	return Timeline{}, false
}

// Newest is the highest timeline: what recovery_target_timeline=latest follows.
func (ts Timelines) Newest() uint32 {
	if len(ts) == 0 {
		return 1
	}
	return ts[len(ts)-1].ID
}

// Contains says that recovery along timeline follow replays WAL of timeline tl at lsn: tl is
// follow, or an ancestor of it that follow's history leaves at or after lsn.
func (ts Timelines) Contains(follow, tl uint32, lsn LSN) bool {
	if tl == follow {
		return true
	}
	t, ok := ts.Get(follow)
	if !ok {
		return false
	}
	for _, e := range t.History {
		if e.Parent == tl {
			return lsn <= e.Switch
		}
	}
	return false
}

// LiveAt is the timeline that took writes at time at: the newest one that began by then. The
// plugin's restores replace the live primary, so timelines took writes one after the other.
func (ts Timelines) LiveAt(at time.Time) uint32 {
	live := uint32(1)
	for _, t := range ts {
		if t.ID > 1 && !t.Began.IsZero() && !t.Began.After(at) && t.ID > live {
			live = t.ID
		}
	}
	return live
}

// ends says when timeline id stopped taking writes: when the next one began (zero: it still does).
func (ts Timelines) ends(id uint32) time.Time {
	var end time.Time
	for _, t := range ts {
		if t.ID > id && !t.Began.IsZero() && (end.IsZero() || t.Began.Before(end)) {
			end = t.Began
		}
	}
	return end
}

// Describe is one line per timeline for the plan, the newest last.
func (ts Timelines) Describe(follow uint32) []string {
	var out []string
	for _, t := range ts {
		var b strings.Builder
		fmt.Fprintf(&b, "%d: ", t.ID)
		if t.ID == 1 || len(t.History) == 0 {
			b.WriteString("the cluster's first")
		} else {
			e := t.History[len(t.History)-1]
			fmt.Fprintf(&b, "branched from %d at %s (%s)", e.Parent, e.Switch, orText(e.Reason, "no reason recorded"))
			if !t.Began.IsZero() {
				b.WriteString(", began " + FormatTargetTime(t.Began.Truncate(time.Second)))
			}
		}
		if end := ts.ends(t.ID); !end.IsZero() {
			b.WriteString(", took writes until " + FormatTargetTime(end.Truncate(time.Second)))
		}
		if t.ID == follow {
			b.WriteString("  <- followed")
		}
		out = append(out, b.String())
	}
	return out
}

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// ErrShadowed is wrapped when a target time lies where the followed timeline does not hold the
// data that was live then.
var ErrShadowed = errors.New("the target time is on another timeline")

// ErrNoSetOnTimeline is wrapped when no backup set lies on the followed timeline's history.
var ErrNoSetOnTimeline = errors.New("no backup set on the timeline's history")

// TimelinePlan is what a restore follows once the timelines are known.
type TimelinePlan struct {
	// Follow is the timeline recovery follows (0: the backup's own, --target-timeline=current or
	// immediate).
	Follow uint32
	// Set is the backup set on Follow's history that the restore must start from ("" leaves
	// pgBackRest's choice, which is then right).
	Set string
}

// PlanTimeline decides which timeline a restore to t follows and which set it starts from, over
// the repository's backups (oldest first, as Summarize orders them). set is --set ("" for none).
// With one timeline nothing changes. Errors say what to pass instead.
func (ts Timelines) PlanTimeline(t Target, set string, backups []BackupSummary) (TimelinePlan, error) {
	if len(ts) <= 1 || t.typ() == TargetImmediate || t.Timeline == "current" {
		return TimelinePlan{}, nil
	}
	follow := ts.Newest()
	if t.Timeline != "" && t.Timeline != "latest" {
		n, err := strconv.ParseUint(t.Timeline, 10, 32)
		if _, ok := ts.Get(uint32(n)); err != nil || !ok {
			return TimelinePlan{}, fmt.Errorf("--target-timeline=%s: the archive has no timeline %s; its timelines are %s",
				t.Timeline, t.Timeline, ts.ids())
		}
		follow = uint32(n)
	}
	var at time.Time
	if t.typ() == TargetTime {
		tm, err := ParseTargetTime(t.Value)
		if err != nil {
			return TimelinePlan{}, err
		}
		at = tm
		if t.Timeline == "" {
			if err := ts.checkShadow(at, follow); err != nil {
				return TimelinePlan{}, err
			}
		}
	}

	// LSNs continue across a timeline's history, so an LSN target is compared with a set's stop
	// LSN along it: recovery cannot stop before the set is consistent.
	var toLSN LSN
	if t.typ() == TargetLSN {
		toLSN, _ = ParseLSN(t.Value)
	}
	var fits []BackupSummary
	var labels []string
	for _, b := range backups {
		lsn, err := ParseLSN(b.LSNStop)
		if err != nil || !ts.Contains(follow, SegmentTimeline(b.WALStart), lsn) {
			continue
		}
		labels = append(labels, b.Label)
		if !b.WALInArchive || b.Error || (!at.IsZero() && b.Stop.After(at)) || (toLSN != 0 && lsn > toLSN) {
			continue
		}
		fits = append(fits, b)
	}
	if set != "" {
		if !slices.Contains(labels, set) {
			return TimelinePlan{}, fmt.Errorf("%w: --set %s is not on the history of timeline %d, which the restore follows (replay "+
				"would leave its timeline before it, or never reach it); sets on that history: %s", ErrNoSetOnTimeline, set, follow, orText(strings.Join(labels, ", "), "none"))
		}
		return TimelinePlan{Follow: follow, Set: set}, nil
	}
	if len(fits) == 0 {
		return TimelinePlan{}, fmt.Errorf("%w: no backup set on the history of timeline %d can reach the target (sets on that history: %s); "+
			"take a backup, or choose another --target-timeline (timelines %s)", ErrNoSetOnTimeline, follow, orText(strings.Join(labels, ", "), "none"), ts.ids())
	}
	newest := fits[0]
	for _, b := range fits {
		if !b.Stop.Before(newest.Stop) {
			newest = b
		}
	}
	return TimelinePlan{Follow: follow, Set: newest.Label}, nil
}

// checkShadow refuses a time at that recovery along follow would not reach on the data that was
// live then: the rule of docs/architecture.md, "PITR after PITR".
func (ts Timelines) checkShadow(at time.Time, follow uint32) error {
	live := ts.LiveAt(at)
	if live == follow {
		return nil
	}
	ft, _ := ts.Get(follow)
	for _, e := range ft.History {
		if e.Parent != live {
			continue
		}
		// follow replays live up to e.Switch, then its next timeline, whose first commit came after
		// its promotion. Up to the first commit on live that was not replayed, both hold the same data.
		bt, infinite, ok := e.BranchTime()
		if infinite || (ok && at.Before(bt)) {
			return nil
		}
		how := "the time of that branch is not recorded (its recovery stopped at a name, xid or LSN), so it may be"
		if ok {
			how = fmt.Sprintf("timeline %d's records from %s on are not on that history, so it is", live, FormatTargetTime(bt))
		}
		return ts.shadowErr(at, live, follow, fmt.Sprintf("timeline %d leaves timeline %d at %s; %s", follow, live, e.Switch, how))
	}
	return ts.shadowErr(at, live, follow, fmt.Sprintf("timeline %d does not descend from timeline %d past its start, so it is", follow, live))
}

func (ts Timelines) shadowErr(at time.Time, live, follow uint32, why string) error {
	span := ""
	if lt, _ := ts.Get(live); !lt.Began.IsZero() {
		span = " from " + FormatTargetTime(lt.Began.Truncate(time.Second))
	}
	if end := ts.ends(live); !end.IsZero() {
		span += " until " + FormatTargetTime(end.Truncate(time.Second))
	}
	return fmt.Errorf("%w: at --target-time %s timeline %d took the writes (it did%s), but recovery follows timeline %d, the newest: %s "+
		"silently restored to other data. Pass --target-timeline=%d to restore the data of timeline %d at that time, or "+
		"--target-timeline=%d to stop on timeline %d's own history; the timelines: %s",
		ErrShadowed, FormatTargetTime(at), live, span, follow, why, live, live, follow, follow, strings.Join(ts.Describe(0), "; "))
}

func (ts Timelines) ids() string {
	var s []string
	for _, t := range ts {
		s = append(s, strconv.FormatUint(uint64(t.ID), 10))
	}
	return strings.Join(s, ", ")
}

// RepoFile is one entry of `pgbackrest repo-ls --output=json`.
type RepoFile struct {
	Name string
	Type string // file, path or link
	Size uint64
	Time time.Time
}

// ParseRepoLs reads `pgbackrest repo-ls --output=json` (2.45): an object keyed by name, "."
// being the listed path itself. Empty output is an empty listing.
func ParseRepoLs(data []byte) ([]RepoFile, error) {
	if strings.TrimSpace(string(data)) == "" {
		return nil, nil
	}
	var m map[string]struct {
		Type string `json:"type"`
		Size uint64 `json:"size"`
		Time int64  `json:"time"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parsing pgbackrest repo-ls output: %w", err)
	}
	var out []RepoFile
	for name, f := range m {
		if name == "." {
			continue
		}
		out = append(out, RepoFile{Name: name, Type: f.Type, Size: f.Size, Time: time.Unix(f.Time, 0).UTC()})
	}
	slices.SortFunc(out, func(a, b RepoFile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// HistoryFileTimeline is the timeline of a history file name ("00000002.history"); 0 otherwise.
func HistoryFileTimeline(name string) uint32 {
	base, ok := strings.CutSuffix(name, ".history")
	if !ok || len(base) != 8 {
		return 0
	}
	tl, err := strconv.ParseUint(base, 16, 32)
	if err != nil {
		return 0
	}
	return uint32(tl)
}

// RepoLsArgs builds `repo-ls --output=json` of path (relative to the repository's path) in
// repository repo, keeping names matching filter (a regular expression, "" for all).
func RepoLsArgs(repo int, path, filter string) []string {
	args := []string{Binary, "--repo=" + strconv.Itoa(repo), "--output=json"}
	if filter != "" {
		args = append(args, "--filter="+filter)
	}
	return append(args, "repo-ls", path)
}

// RepoGetArgs builds `repo-get` of path (relative to the repository's path) in repository repo:
// the file's content on stdout.
func RepoGetArgs(repo int, path string) []string {
	return []string{Binary, "--repo=" + strconv.Itoa(repo), "repo-get", path}
}

// ArchivePath is a stanza's archive directory for one PostgreSQL history ("archive/db/15-1").
func ArchivePath(stanza, archiveID string) string {
	return "archive/" + stanza + "/" + archiveID
}

// ArchiveID is the archive id ("15-1") of repository repoKey's current PostgreSQL history.
func (st Stanza) ArchiveID(repoKey int) string {
	id, best := "", 0
	for _, a := range st.Archive {
		if a.Database.RepoKey == repoKey && a.Database.ID >= best {
			id, best = a.ID, a.Database.ID
		}
	}
	return id
}
