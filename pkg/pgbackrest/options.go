package pgbackrest

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Command is a pgBackRest command that accepts user options (--options).
type Command string

const (
	Backup  Command = "backup"
	Restore Command = "restore"
)

// ErrInvalidOption is wrapped by every *OptionError, so callers can map them all to a usage error
// (exit code 2) with errors.Is.
var ErrInvalidOption = errors.New("invalid pgBackRest option")

// OptionErrorKind says why an option was refused.
type OptionErrorKind int

const (
	// OptionSyntax: the string could not be split into options (an unclosed quote, a bare word).
	OptionSyntax OptionErrorKind = iota
	// OptionOwned: the plugin sets this option itself; Hint names the flag to use instead.
	OptionOwned
	// OptionUnknown: the option is not accepted for this command; Hint lists the accepted ones.
	OptionUnknown
	// OptionBadValue: the option is accepted but its value is not.
	OptionBadValue
)

// OptionError is a refused user option.
type OptionError struct {
	Kind    OptionErrorKind
	Command Command
	Option  string // as the user wrote it, e.g. "--type=full"
	Reason  string
	Hint    string // what to do instead
}

func (e *OptionError) Error() string {
	msg := fmt.Sprintf("--options for %s: %s", e.Command, e.Reason)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

func (e *OptionError) Unwrap() error { return ErrInvalidOption }

type optionKind int

const (
	boolOption   optionKind = iota // --name or --no-name, no value
	valueOption                    // --name=value, once
	repeatOption                   // --name=value, any number of times (pgBackRest hash and list options)
)

type optionSpec struct {
	kind  optionKind
	check func(string) error // nil accepts any non-empty value
	// fixed marks a boolean pgBackRest refuses to negate (only options that may also appear in the
	// config file can be): --no-force fails with error 031.
	fixed bool
}

// The options a user may add per command: those of 2.45's backup/restore that change how the job
// runs, not where it reads or writes. pgBackRest rejects a command-line option its command does not
// take (error 031), so these tables stop such mistakes before a pod is touched.
var commandOptions = map[Command]map[string]optionSpec{
	Backup: {
		"start-fast":              {kind: boolOption},
		"archive-copy":            {kind: boolOption},
		"archive-check":           {kind: boolOption},
		"compress-type":           {kind: valueOption, check: oneOf(compressTypes...)},
		"compress-level":          {kind: valueOption, check: intRange(0, 22)},
		"process-max":             {kind: valueOption, check: intRange(1, 999)},
		"resume":                  {kind: boolOption},
		"backup-standby":          {kind: boolOption},
		"delta":                   {kind: boolOption},
		"checksum-page":           {kind: boolOption},
		"manifest-save-threshold": {kind: valueOption, check: checkSize},
		"buffer-size":             {kind: valueOption, check: checkBufferSize},
		"io-timeout":              {kind: valueOption, check: secondsRange(0.1, 3600)},
		"log-level-console":       {kind: valueOption, check: oneOf(logLevels...)},
		"stop-auto":               {kind: boolOption},
		"archive-timeout":         {kind: valueOption, check: secondsRange(0.1, 86400)},
		"annotation":              {kind: repeatOption, check: checkKeyValue},
	},
	Restore: {
		"delta":              {kind: boolOption},
		"force":              {kind: boolOption, fixed: true},
		"process-max":        {kind: valueOption, check: intRange(1, 999)},
		"link-all":           {kind: boolOption},
		"link-map":           {kind: repeatOption, check: checkKeyValue},
		"tablespace-map":     {kind: repeatOption, check: checkKeyValue},
		"tablespace-map-all": {kind: valueOption, check: checkAbsPath},
		"db-include":         {kind: repeatOption},
		"db-exclude":         {kind: repeatOption},
		"archive-mode":       {kind: valueOption, check: oneOf("preserve", "off")},
		"recovery-option":    {kind: repeatOption, check: checkRecoveryOption},
		"log-level-console":  {kind: valueOption, check: oneOf(logLevels...)},
		"io-timeout":         {kind: valueOption, check: secondsRange(0.1, 3600)},
		"buffer-size":        {kind: valueOption, check: checkBufferSize},
	},
}

var logLevels = []string{"off", "error", "warn", "info", "detail", "debug", "trace"}

// ownedHint says, for an option the plugin sets itself, what the user should do instead. Unlike
// unknown options these are refused for every command, with the flag that replaces them.
// value is the option's value as given ("" when none), so a restore --type=time (pgo's way of
// asking for a target) is pointed at the flag that does it.
func ownedHint(cmd Command, name, value string) (string, bool) {
	switch {
	case name == "type" && cmd == Restore:
		return restoreTypeHint(value), true
	case name == "type":
		return "--type is set by the plugin's --type flag", true
	case name == "set":
		return "--set is set by the plugin's --set flag", true
	case name == "target-action", name == "target-timeline", name == "target-exclusive":
		return fmt.Sprintf("--%s is set by the plugin's --%s flag", name, name), true
	case name == "target" || strings.HasPrefix(name, "target-"):
		return "restore targets are set by the plugin's " + targetFlags + " flags", true
	case name == "stanza":
		return fmt.Sprintf("the plugin always uses stanza %q", DefaultStanza), true
	case name == "repo" || repoOptionRE.MatchString(name):
		return "the repository is chosen by the plugin's --storage flag and configured when the cluster is created", true
	case pgOptionRE.MatchString(name):
		return "PostgreSQL hosts and paths are configured by the plugin", true
	case name == "config" || name == "config-path" || name == "config-include-path":
		return "the plugin renders pgbackrest.conf itself", true
	case name == "lock-path" || name == "log-path" || name == "spool-path":
		return "the plugin sets paths that are writable inside its pods", true
	}
	return "", false
}

var (
	repoOptionRE = regexp.MustCompile(`^repo[0-9]*-`)
	pgOptionRE   = regexp.MustCompile(`^pg[0-9]*-`)
)

// AcceptedOptions lists the option names cmd accepts in --options, sorted.
func AcceptedOptions(cmd Command) []string {
	return slices.Sorted(maps.Keys(commandOptions[cmd]))
}

// ParseOptions splits s like a shell would (quotes, backslashes) and validates each option for cmd.
// It returns arguments ready for exec (no shell in between): "--name", "--no-name" or
// "--name=value". A value may also follow its option as the next word ("--process-max 4").
func ParseOptions(cmd Command, s string) ([]string, error) {
	specs, ok := commandOptions[cmd]
	if !ok {
		return nil, fmt.Errorf("options for command %q: only backup and restore take user options", cmd)
	}
	words, err := splitWords(s)
	if err != nil {
		return nil, &OptionError{Kind: OptionSyntax, Command: cmd, Option: s, Reason: err.Error(),
			Hint: `quote values with spaces, e.g. --options="--recovery-option='primary_conninfo=host=x user=y'"`}
	}

	var out []string
	seen := map[string]string{} // option name -> the word that set it
	for i := 0; i < len(words); i++ {
		word := words[i]
		if !strings.HasPrefix(word, "--") || len(word) == 2 {
			return nil, &OptionError{Kind: OptionSyntax, Command: cmd, Option: word,
				Reason: fmt.Sprintf("%q is not an option", word), Hint: "options start with --, e.g. --process-max=4"}
		}
		name, value, hasValue := strings.Cut(word[2:], "=")
		negated := false
		if base, ok := strings.CutPrefix(name, "no-"); ok {
			_, known := specs[base]
			_, owned := ownedHint(cmd, base, "")
			if known || owned {
				name, negated = base, true
			}
		}

		if hint, owned := ownedHint(cmd, name, value); owned {
			return nil, &OptionError{Kind: OptionOwned, Command: cmd, Option: word,
				Reason: fmt.Sprintf("--%s cannot be given in --options", name), Hint: hint}
		}
		spec, known := specs[name]
		if !known {
			return nil, &OptionError{Kind: OptionUnknown, Command: cmd, Option: word,
				Reason: fmt.Sprintf("--%s is not accepted for %s", name, cmd),
				Hint:   "accepted: --" + strings.Join(AcceptedOptions(cmd), ", --")}
		}
		bad := func(reason, hint string) error {
			return &OptionError{Kind: OptionBadValue, Command: cmd, Option: word, Reason: reason, Hint: hint}
		}

		if prev, dup := seen[name]; dup && spec.kind != repeatOption {
			return nil, bad(fmt.Sprintf("--%s is given twice (%s and %s)", name, prev, word), "give it once")
		}
		seen[name] = word

		if spec.kind == boolOption {
			// pgBackRest also reads --name=y and --name=n; pass them on in one spelling.
			if hasValue {
				switch {
				case value == "y" && !negated:
				case value == "n" && !negated:
					negated = true
				default:
					return nil, bad(fmt.Sprintf("--%s takes no value", word[2:strings.IndexByte(word, '=')]),
						fmt.Sprintf("use --%s or --no-%s", name, name))
				}
			}
			if negated && spec.fixed {
				return nil, bad(fmt.Sprintf("--%s cannot be negated", name), fmt.Sprintf("leave --%s out", name))
			}
			if negated {
				out = append(out, "--no-"+name)
			} else {
				out = append(out, "--"+name)
			}
			continue
		}
		if negated {
			return nil, bad(fmt.Sprintf("--no-%s: only on/off options can be negated", name), fmt.Sprintf("give --%s=<value>", name))
		}
		if !hasValue && i+1 < len(words) && !strings.HasPrefix(words[i+1], "--") {
			i++
			value, hasValue = words[i], true
		}
		if !hasValue || value == "" {
			return nil, bad(fmt.Sprintf("--%s needs a value", name), fmt.Sprintf("give --%s=<value>", name))
		}
		if hasControl(value) {
			return nil, bad(fmt.Sprintf("--%s=%q: a value cannot hold a line break or control character", name, value), "")
		}
		if spec.check != nil {
			if err := spec.check(value); err != nil {
				return nil, bad(fmt.Sprintf("--%s=%s: %v", name, value, err), "")
			}
		}
		out = append(out, "--"+name+"="+value)
	}
	return out, nil
}

// splitWords tokenises like a POSIX shell without expansions: whitespace separates words, single
// quotes keep everything, double quotes keep everything but \" \\ \$ \`, a backslash outside
// quotes escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\':
			if i+1 >= len(rs) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case r == '\'':
			end := slices.Index(rs[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unclosed single quote")
			}
			cur.WriteString(string(rs[i+1 : i+1+end]))
			i += end + 1
			inWord = true
		case r == '"':
			i++
			for ; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]) {
					i++
				}
				cur.WriteRune(rs[i])
			}
			if i >= len(rs) {
				return nil, errors.New("unclosed double quote")
			}
			inWord = true
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(values, v) {
			return nil
		}
		return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
	}
}

func intRange(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

func secondsRange(lo, hi float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lo || f > hi || strings.ContainsAny(v, "eEnN") {
			return fmt.Errorf("must be seconds from %g to %g", lo, hi)
		}
		return nil
	}
}

func checkKeyValue(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return errors.New("must be key=value")
	}
	return nil
}

// ownedRecoverySettings are the recovery settings the restore writes itself: another value would
// change where WAL comes from, where recovery stops, or run a command on the restored primary.
var ownedRecoverySettings = []string{"restore_command", "archive_cleanup_command", "recovery_end_command"}

// checkRecoveryOption checks a --recovery-option: key=value, not a setting the plugin owns, and no
// single quote (pgBackRest writes the value into postgresql.auto.conf between single quotes).
func checkRecoveryOption(v string) error {
	if err := checkKeyValue(v); err != nil {
		return err
	}
	key, value, _ := strings.Cut(v, "=")
	if slices.Contains(ownedRecoverySettings, key) || strings.HasPrefix(key, "recovery_target") {
		return fmt.Errorf("%s is set by the plugin (its --target-* flags and the restore_command that reads the repository)", key)
	}
	if strings.Contains(value, "'") {
		return errors.New("a single quote would end the value in postgresql.auto.conf")
	}
	return nil
}

func checkAbsPath(v string) error {
	if !strings.HasPrefix(v, "/") {
		return errors.New("must be an absolute path")
	}
	return nil
}

var sizeRE = regexp.MustCompile(`(?i)^([0-9]+)(b|kb|kib|mb|mib|gb|gib|tb|tib|pb|pib|k|m|g|t|p)?$`)

// parseSize reads pgBackRest sizes, where KB and KiB both mean 1024 bytes.
func parseSize(v string) (uint64, error) {
	m := sizeRE.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("must be a size such as 64KiB, 1MB or 1GB")
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, errors.New("size is too large")
	}
	unit := strings.ToLower(m[2])
	shift := 0
	if unit != "" && unit != "b" {
		shift = 10 * (strings.IndexByte("kmgtp", unit[0]) + 1)
	}
	if shift > 0 && n > (^uint64(0))>>shift {
		return 0, errors.New("size is too large")
	}
	return n << shift, nil
}

func checkSize(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	if n < 1 || n > 1<<40 {
		return errors.New("must be from 1B to 1TiB")
	}
	return nil
}

func checkBufferSize(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	for s := uint64(16 << 10); s <= 16<<20; s <<= 1 {
		if n == s {
			return nil
		}
	}
	return errors.New("must be a power of two from 16KiB to 16MiB")
}

// targetFlags are the plugin's restore target flags.
const targetFlags = "--target-time, --target-lsn, --target-xid, --target-name or --target-immediate"

// restoreTypeHint points pgBackRest's restore --type=VALUE at the plugin's flag for it.
func restoreTypeHint(value string) string {
	switch value {
	case TargetTime, TargetLSN, TargetXID, TargetName:
		return fmt.Sprintf("the restore target is a flag of its own: use --target-%s=... (not --options=--type=%s --target=...)", value, value)
	case TargetImmediate:
		return "the restore target is a flag of its own: use --target-immediate"
	case TargetDefault:
		return "leave the target flags out: a restore without one replays to the end of the archive"
	}
	return "the restore target is set by the plugin's " + targetFlags + " flag"
}
