package pgbackrest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Restore target types, as pgBackRest's restore --type spells them.
const (
	TargetDefault   = "default"   // replay to the end of the archive
	TargetTime      = "time"      // stop at a time
	TargetLSN       = "lsn"       // stop at a WAL location
	TargetXID       = "xid"       // stop at a transaction id
	TargetName      = "name"      // stop at a restore point made with pg_create_restore_point()
	TargetImmediate = "immediate" // stop as soon as the backup is consistent
)

// Target actions the plugin offers. pgBackRest's third, shutdown, leaves nothing for the plugin to
// wait for, so it is not offered.
const (
	ActionPromote = "promote"
	ActionPause   = "pause"
)

// TargetTypes lists the accepted Target.Type values.
var TargetTypes = []string{TargetDefault, TargetTime, TargetLSN, TargetXID, TargetName, TargetImmediate}

// Target is where a restore stops replaying WAL.
type Target struct {
	Type  string // one of TargetTypes; "" means default
	Value string // the target for time, lsn, xid and name; empty otherwise
	// Timeline is "", "current", "latest" or a timeline number. After a point-in-time restore the
	// rest of the old timeline is reachable only by naming it here.
	Timeline string
	// Exclusive stops just before the target instead of just after it (time, lsn, xid).
	Exclusive bool
	// Action is what PostgreSQL does at the target: promote or pause; "" leaves pgBackRest's default
	// (pause). With pause PostgreSQL stays read-only until pg_wal_replay_resume().
	Action string
}

// ErrInvalidTarget is wrapped by every Target and target-time validation error.
var ErrInvalidTarget = errors.New("invalid restore target")

func targetErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTarget, fmt.Sprintf(format, a...))
}

func (t Target) typ() string {
	if t.Type == "" {
		return TargetDefault
	}
	return t.Type
}

var (
	lsnRE      = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`)
	timelineRE = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)
)

// Validate checks t the way pgBackRest 2.45 and PostgreSQL would, before anything is changed.
func (t Target) Validate() error {
	typ := t.typ()
	if !slices.Contains(TargetTypes, typ) {
		return targetErr("target type %q must be one of %s (the flags %s)", t.Type, strings.Join(TargetTypes, ", "), targetFlags)
	}
	switch typ {
	case TargetDefault, TargetImmediate:
		if t.Value != "" {
			return targetErr("%s takes no value (got %q): use --target-time, --target-lsn, --target-xid or --target-name to stop at a target", flagFor(typ), t.Value)
		}
	case TargetTime:
		if _, err := ParseTargetTime(t.Value); err != nil {
			return err
		}
	case TargetLSN:
		if !lsnRE.MatchString(t.Value) {
			return targetErr("--target-lsn %q is not an LSN: use the form 0/4B000028 (as pg_current_wal_lsn() prints it)", t.Value)
		}
	case TargetXID:
		if n, err := strconv.ParseUint(t.Value, 10, 64); err != nil || n < 3 {
			return targetErr("--target-xid %q is not a transaction id: use a number such as 1234 (as pg_current_xact_id() prints it)", t.Value)
		}
	case TargetName:
		// PostgreSQL limits restore point names to 63 bytes.
		if t.Value == "" || len(t.Value) > 63 || hasControl(t.Value) {
			return targetErr("--target-name %q is not a restore point name: give the name passed to pg_create_restore_point() (at most 63 bytes)", t.Value)
		}
		if strings.Contains(t.Value, "'") {
			// recovery_target_name is written between single quotes in postgresql.auto.conf.
			return targetErr("--target-name %q: a restore point name with a single quote cannot be a recovery target; create another restore point without one", t.Value)
		}
	}

	if t.Timeline != "" {
		if typ == TargetImmediate {
			return targetErr("--target-timeline cannot be used with --target-immediate: the backup's own timeline is used")
		}
		if t.Timeline != "current" && t.Timeline != "latest" && !timelineRE.MatchString(t.Timeline) {
			return targetErr("--target-timeline %q must be current, latest or a timeline number such as 2", t.Timeline)
		}
	}
	if t.Exclusive && typ != TargetTime && typ != TargetLSN && typ != TargetXID {
		return targetErr("--target-exclusive needs --target-time, --target-lsn or --target-xid (not %s)", flagFor(typ))
	}
	switch t.Action {
	case "":
	case ActionPromote, ActionPause:
		if typ == TargetDefault {
			return targetErr("--target-action needs a target: a restore to the end of the archive always promotes")
		}
	default:
		return targetErr("--target-action %q must be promote or pause", t.Action)
	}
	return nil
}

// flagFor is the plugin's restore flag for a target type: the messages name the flag the user
// typed, not pgBackRest's --type and --target.
func flagFor(typ string) string {
	if typ == TargetDefault || typ == "" {
		return "a restore without a --target-* flag"
	}
	return "--target-" + typ
}

// Args returns the pgBackRest restore options for t, one argument each, for exec without a shell
// (so a time's space needs no quoting). A time target is normalised with FormatTargetTime. Call
// Validate first: Args does not check t.
func (t Target) Args() []string {
	var args []string
	typ := t.typ()
	if typ != TargetDefault {
		args = append(args, "--type="+typ)
	}
	switch typ {
	case TargetTime:
		v := t.Value
		if tm, err := ParseTargetTime(v); err == nil {
			v = FormatTargetTime(tm)
		}
		args = append(args, "--target="+v)
	case TargetLSN, TargetXID, TargetName:
		args = append(args, "--target="+t.Value)
	}
	if t.Timeline != "" {
		args = append(args, "--target-timeline="+t.Timeline)
	}
	if t.Exclusive {
		args = append(args, "--target-exclusive")
	}
	if t.Action != "" {
		args = append(args, "--target-action="+t.Action)
	}
	return args
}

var targetTimeRE = regexp.MustCompile(
	`^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:[.,]([0-9]{1,9}))? ?(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?$`)

// ParseTargetTime reads a restore target time: RFC 3339 ("2026-11-25T00:24:41Z") or PostgreSQL's
// form "2026-11-25 00:24:41[.ffffff]±TZ" with a zone of ±HH, ±HHMM, ±HH:MM or Z.
//
// A time without a zone is refused: pgBackRest would read it in the repository host's zone and
// PostgreSQL in its own, and neither need be the user's.
func ParseTargetTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	m := targetTimeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, targetErr("--target-time %q is not a time: use 2006-01-02 15:04:05+00 or RFC 3339 (2006-01-02T15:04:05Z)", s)
	}
	date, clock, frac, zone := m[1], m[2], m[3], m[4]
	if zone == "" {
		return time.Time{}, targetErr("--target-time %q has no time zone: add one, e.g. %q", s, s+"+00")
	}
	switch {
	case zone == "Z" || zone == "z":
		zone = "+00:00"
	case len(zone) == 3:
		zone += ":00"
	case len(zone) == 5:
		zone = zone[:3] + ":" + zone[3:]
	}
	if frac != "" {
		frac = "." + frac
	}
	tm, err := time.Parse("2006-01-02T15:04:05.999999999-07:00", date+"T"+clock+frac+zone)
	if err != nil {
		return time.Time{}, targetErr("--target-time %q is not a valid time: %v", s, err)
	}
	if h, _ := strconv.Atoi(zone[1:3]); h > 15 {
		return time.Time{}, targetErr("--target-time %q has a zone offset beyond ±15 hours", s)
	}
	if u := tm.UTC(); u.Year() < 1 || u.Year() > 9999 {
		return time.Time{}, targetErr("--target-time %q is out of range", s)
	}
	// PostgreSQL keeps microseconds; finer digits would be dropped by it anyway.
	return tm.UTC().Truncate(time.Microsecond), nil
}

// FormatTargetTime spells t the way pgBackRest 2.45 parses a target time (to pick the backup set)
// and PostgreSQL reads recovery_target_time: UTC, microseconds only when present, zone "+00".
func FormatTargetTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
}
