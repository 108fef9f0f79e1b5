package pgbackrest

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Progress is one file copied (or found unchanged) by a running backup or restore.
type Progress struct {
	// Percent of the backup's total size done so far, as pgBackRest prints it (two decimals).
	Percent float64
	// File is the file's path on the PostgreSQL host (without the "host:" prefix pgBackRest adds
	// when it backs up a remote database).
	File string
	// Bytes is the file's size. pgBackRest prints it rounded ("1.2MB"), so larger files are
	// approximate to about 5 %.
	Bytes int64
}

// pgBackRest 2.45 backupJobResult() logs each file at detail level as
//
//	[2026-11-25 00:24:41.123 ]P01 DETAIL: backup file [host:]/pgdata/pg15/base/5/1259 ([bundle 1/0, ]112KB, 8.78%)[ checksum <sha1>]
//
// where the size comes from strSizeFormat() (B, KB, MB, GB with at most one decimal; 1024 based),
// and unchanged or resumed files say "match file from prior backup" or "checksum resumed file".
// restoreJobCallback() logs the same shape as "restore[ zeroed] file <path>[ - exists and ...] (...)",
// whose bundle part may name the backup it comes from ("bundle 20261125-002616F/1/0, ").
var progressRE = regexp.MustCompile(
	`P[0-9]+ +DETAIL: (?:backup file|match file from prior backup|checksum resumed file|restore file|restore zeroed file) (.+?)(?: - exists and [^()]*)? \((?:bundle (?:[^ ,/]+/)?[0-9]+/[0-9]+, )?([0-9]+(?:\.[0-9]+)?)(B|KB|MB|GB|TB|PB), ([0-9]+(?:\.[0-9]+)?)%\)(?: checksum [0-9a-f]+)?$`)

// ParseProgress reads a backup or restore progress line printed with --log-level-console=detail.
func ParseProgress(line string) (Progress, bool) {
	m := progressRE.FindStringSubmatch(strings.TrimRight(line, "\r\n"))
	if m == nil {
		return Progress{}, false
	}
	size, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return Progress{}, false
	}
	pct, err := strconv.ParseFloat(m[4], 64)
	if err != nil || pct > 100 {
		return Progress{}, false
	}
	unit := map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}[m[3]]
	bytes := size * unit
	if bytes > math.MaxInt64 {
		return Progress{}, false
	}
	file := m[1]
	// A remote file is "host:/path"; a local path starts with "/".
	if !strings.HasPrefix(file, "/") {
		if i := strings.Index(file, ":/"); i >= 0 {
			file = file[i+1:]
		}
	}
	return Progress{Percent: pct, File: file, Bytes: int64(math.Round(bytes))}, true
}

var labelRE = regexp.MustCompile(`P[0-9]+ +INFO: new backup label = ([0-9]{8}-[0-9]{6}F(?:_[0-9]{8}-[0-9]{6}[DI])?)$`)

// ParseBackupLabel reads the label of the backup just made from "INFO: new backup label = ...".
func ParseBackupLabel(line string) (string, bool) {
	m := labelRE.FindStringSubmatch(strings.TrimRight(line, "\r\n"))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// CommandEnd is the last line pgBackRest logs for a command.
type CommandEnd struct {
	Command string // "backup", "restore", ...
	Success bool
	// Code is pgBackRest's error code when the command failed (e.g. 82 for archive timeout), else 0.
	Code int
	// Message is what follows "command end: ".
	Message string
}

var commandEndRE = regexp.MustCompile(`P[0-9]+ +INFO: ([a-z:-]+) command end: (.*)$`)
var exceptionRE = regexp.MustCompile(`aborted with exception \[([0-9]{3})\]`)

// ParseCommandEnd reads "INFO: backup command end: completed successfully" (with " (1234ms)" when
// timestamps are logged) or "... aborted with exception [082]".
func ParseCommandEnd(line string) (CommandEnd, bool) {
	m := commandEndRE.FindStringSubmatch(strings.TrimRight(line, "\r\n"))
	if m == nil {
		return CommandEnd{}, false
	}
	end := CommandEnd{Command: m[1], Message: m[2], Success: strings.HasPrefix(m[2], "completed successfully")}
	if e := exceptionRE.FindStringSubmatch(m[2]); e != nil {
		end.Code, _ = strconv.Atoi(e[1])
	}
	return end, true
}
