package pgbackrest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Binary is the pgBackRest executable, on PATH in the plugin's image.
const Binary = "pgbackrest"

// Backup types for BackupArgs.
const (
	BackupFull = "full"
	BackupDiff = "diff"
	BackupIncr = "incr"
)

// BackupTypes lists the accepted backup types.
var BackupTypes = []string{BackupFull, BackupDiff, BackupIncr}

// ErrInvalidBackupType is wrapped by ValidateBackupType's errors.
var ErrInvalidBackupType = errors.New("invalid backup type")

// ValidateBackupType checks the backup --type flag.
func ValidateBackupType(typ string) error {
	if slices.Contains(BackupTypes, typ) {
		return nil
	}
	return fmt.Errorf("%w: --type %q must be one of %s (incr and diff need an earlier full backup)",
		ErrInvalidBackupType, typ, strings.Join(BackupTypes, ", "))
}

// BackupArgs builds the backup command run on the repository host. It logs at detail level so
// ParseProgress sees every file, unless extra (from ParseOptions) chooses another level: pgBackRest
// refuses an option given twice. typ "" leaves pgBackRest's default (incr, or full when none
// exists). Validate typ with ValidateBackupType first.
func BackupArgs(stanza string, repo int, typ string, extra []string) []string {
	args := base(stanza, repo)
	if typ != "" {
		args = append(args, "--type="+typ)
	}
	if !hasOption(extra, "log-level-console") {
		args = append(args, "--log-level-console=detail")
	}
	args = append(args, extra...)
	return append(args, "backup")
}

// InfoArgs builds `info --output=json` for one stanza; repo 0 means every repository. Its stdout is
// pure JSON: pgBackRest logs info's begin and end at debug level, and warnings go to stderr.
func InfoArgs(stanza string, repo int) []string {
	return append(base(stanza, repo), "--output=json", "info")
}

// InfoSetArgs builds `info --output=json --set=<label>` for one backup set of repository repo (the
// set's details: sizes, times, WAL range). pgBackRest looks the set up in repo only.
func InfoSetArgs(stanza string, repo int, set string) []string {
	return append(base(stanza, repo), "--set="+set, "--output=json", "info")
}

// CheckArgs builds `check`, which proves that archiving reaches every repository (or just repo, if
// not 0) by switching and archiving a WAL segment.
func CheckArgs(stanza string, repo int) []string {
	return append(base(stanza, repo), "check")
}

// StanzaCreateArgs builds `stanza-create`, which initialises the stanza in every configured
// repository; it is safe to repeat when the stanza already matches the database.
func StanzaCreateArgs(stanza string) []string {
	return append(base(stanza, 0), "stanza-create")
}

// RestoreArgs builds the restore command run by a restore Job. set "" lets pgBackRest choose the
// backup set (the newest, or for a time target the newest one that ended before it). Restores log
// at detail level for ParseProgress, unless extra chooses another level. Validate target first.
func RestoreArgs(stanza string, repo int, set string, target Target, extra []string) []string {
	args := base(stanza, repo)
	if set != "" {
		args = append(args, "--set="+set)
	}
	args = append(args, target.Args()...)
	if !hasOption(extra, "log-level-console") {
		args = append(args, "--log-level-console=detail")
	}
	args = append(args, extra...)
	return append(args, "restore")
}

func base(stanza string, repo int) []string {
	args := []string{Binary, "--stanza=" + stanza}
	if repo > 0 {
		args = append(args, "--repo="+strconv.Itoa(repo))
	}
	return args
}

func hasOption(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--"+name || strings.HasPrefix(a, "--"+name+"=")
	})
}

// ExpireArgs builds `expire` of repository repo, applying its retention, or with set, removing
// that set and what depends on it. Expire logs what it removes at info level (detail for WAL).
func ExpireArgs(stanza string, repo int, set string) []string {
	args := base(stanza, repo)
	if set != "" {
		args = append(args, "--set="+set)
	}
	return append(args, "--log-level-console=info", "expire")
}

var backupLabelRE = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?$`)

// ValidLabel says whether s is a backup set label as pgBackRest makes them (20261201-010000F,
// 20261201-010000F_20261202-010000I): checked before a label reaches a command line.
func ValidLabel(s string) bool { return backupLabelRE.MatchString(s) }
