package pgbackrest

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		in   string
		want []string
	}{
		{"empty", Backup, "", nil},
		{"blank", Backup, "   ", nil},
		{"bools and values", Backup, "--start-fast --process-max=4 --no-resume", []string{"--start-fast", "--process-max=4", "--no-resume"}},
		{"value as next word", Backup, "--compress-type lz4 --compress-level 1", []string{"--compress-type=lz4", "--compress-level=1"}},
		{"annotations repeat", Backup, `--annotation=reason="before upgrade" --annotation 'by=dba team'`, []string{"--annotation=reason=before upgrade", "--annotation=by=dba team"}},
		{"sizes and times", Backup, "--buffer-size=64KiB --manifest-save-threshold=2GB --io-timeout=0.5 --archive-timeout=120", []string{"--buffer-size=64KiB", "--manifest-save-threshold=2GB", "--io-timeout=0.5", "--archive-timeout=120"}},
		{"log level", Backup, "--log-level-console=debug", []string{"--log-level-console=debug"}},
		{"y and n", Backup, "--start-fast=y --archive-check=n", []string{"--start-fast", "--no-archive-check"}},
		{"restore", Restore, "--delta --force --process-max=8 --archive-mode=off", []string{"--delta", "--force", "--process-max=8", "--archive-mode=off"}},
		{"recovery option with spaces", Restore, `--recovery-option="primary_conninfo=host=a user=b"`, []string{"--recovery-option=primary_conninfo=host=a user=b"}},
		{"escaped", Restore, `--db-include=my\ db --db-include="x\"y"`, []string{"--db-include=my db", `--db-include=x"y`}},
		{"maps", Restore, "--link-all --link-map=pg_wal=/wal --tablespace-map=ts1=/ts --tablespace-map-all=/ts", []string{"--link-all", "--link-map=pg_wal=/wal", "--tablespace-map=ts1=/ts", "--tablespace-map-all=/ts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOptions(tt.cmd, tt.in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		in   string
		kind OptionErrorKind
		want []string // substrings of the message
	}{
		{"type", Backup, "--type=full", OptionOwned, []string{"--type is set by the plugin's --type flag"}},
		{"stanza", Backup, "--stanza=x", OptionOwned, []string{`stanza "db"`}},
		{"repo", Backup, "--repo=1", OptionOwned, []string{"--storage"}},
		{"repo option", Restore, "--repo2-s3-bucket=x", OptionOwned, []string{"--repo2-s3-bucket", "repository"}},
		{"pg option", Backup, "--pg1-path=/x", OptionOwned, []string{"PostgreSQL"}},
		{"config", Restore, "--config=/x", OptionOwned, []string{"pgbackrest.conf"}},
		{"spool", Backup, "--spool-path=/x", OptionOwned, []string{"writable"}},
		{"set", Restore, "--set=20261125-002351F", OptionOwned, []string{"--set flag"}},
		{"target action", Restore, "--target-action=promote", OptionOwned, []string{"--target-action flag"}},
		{"negated owned", Restore, "--no-target-exclusive", OptionOwned, []string{"--target-exclusive flag"}},
		{"target", Restore, "--target=x", OptionOwned, []string{"--target-time, --target-lsn"}},
		{"restore type time (a pgo habit)", Restore, "--type=time", OptionOwned, []string{"use --target-time=..."}},
		{"restore type immediate", Restore, "--type=immediate", OptionOwned, []string{"use --target-immediate"}},
		{"restore type default", Restore, "--type=default", OptionOwned, []string{"leave the target flags out"}},
		{"restore type standby", Restore, "--type=standby", OptionOwned, []string{"--target-time, --target-lsn"}},
		{"unknown", Backup, "--frobnicate", OptionUnknown, []string{"--frobnicate is not accepted for backup", "accepted: --annotation", "--start-fast"}},
		{"wrong command", Restore, "--start-fast", OptionUnknown, []string{"--start-fast is not accepted for restore", "--delta"}},
		{"compress on restore", Restore, "--compress-type=gz", OptionUnknown, []string{"compress-type"}},
		{"bad enum", Backup, "--compress-type=xz", OptionBadValue, []string{"zst"}},
		{"range", Backup, "--process-max=0", OptionBadValue, []string{"1 to 999"}},
		{"not int", Restore, "--process-max=two", OptionBadValue, []string{"whole number"}},
		{"bool value", Backup, "--start-fast=yes", OptionBadValue, []string{"takes no value", "--no-start-fast"}},
		{"negated bool value", Backup, "--no-start-fast=y", OptionBadValue, []string{"--no-start-fast takes no value"}},
		{"force not negatable", Restore, "--no-force", OptionBadValue, []string{"cannot be negated"}},
		{"force=n", Restore, "--force=n", OptionBadValue, []string{"cannot be negated"}},
		{"negated value", Backup, "--no-process-max", OptionBadValue, []string{"only on/off"}},
		{"missing value", Backup, "--process-max", OptionBadValue, []string{"needs a value"}},
		{"missing value before option", Backup, "--process-max --start-fast", OptionBadValue, []string{"needs a value"}},
		{"twice", Backup, "--process-max=2 --process-max=3", OptionBadValue, []string{"twice"}},
		{"bool twice", Backup, "--delta --no-delta", OptionBadValue, []string{"twice"}},
		{"buffer size", Backup, "--buffer-size=3MB", OptionBadValue, []string{"power of two"}},
		{"size", Backup, "--manifest-save-threshold=lots", OptionBadValue, []string{"size"}},
		{"timeout", Backup, "--io-timeout=0", OptionBadValue, []string{"seconds"}},
		{"key value", Restore, "--recovery-option=novalue", OptionBadValue, []string{"key=value"}},
		{"archive mode", Restore, "--archive-mode=on", OptionBadValue, []string{"preserve, off"}},
		{"tablespace path", Restore, "--tablespace-map-all=rel", OptionBadValue, []string{"absolute"}},
		{"bare word", Backup, "start-fast", OptionSyntax, []string{"not an option"}},
		{"dashes", Backup, "--", OptionSyntax, []string{"not an option"}},
		{"single dash", Backup, "-f", OptionSyntax, []string{"not an option"}},
		{"unclosed quote", Backup, `--annotation="x`, OptionSyntax, []string{"unclosed double quote"}},
		{"unclosed single", Backup, `--annotation='x`, OptionSyntax, []string{"unclosed single quote"}},
		{"trailing backslash", Backup, `--delta \`, OptionSyntax, []string{"backslash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOptions(tt.cmd, tt.in)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("want ErrInvalidOption, got %v", err)
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Kind != tt.kind {
				t.Fatalf("want kind %d, got %#v", tt.kind, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseOptionsUnknownCommand(t *testing.T) {
	if _, err := ParseOptions("expire", "--delta"); err == nil {
		t.Fatal("want an error for a command without user options")
	}
}

func TestAcceptedOptionsDisjointFromOwned(t *testing.T) {
	for _, cmd := range []Command{Backup, Restore} {
		for _, name := range AcceptedOptions(cmd) {
			if _, owned := ownedHint(cmd, name, ""); owned {
				t.Errorf("%s: %s is both accepted and owned", cmd, name)
			}
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]uint64{"0": 0, "16KiB": 16 << 10, "1MB": 1 << 20, "2gb": 2 << 30, "5": 5, "7b": 7, "1T": 1 << 40}
	for in, want := range tests {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.5MB", "MB", "1XB", "99999999999999999999", "9999999999999999PB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add("--start-fast --process-max=4")
	f.Add(`--annotation="a b" 'c' \d`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseOptions(Backup, s)
		_, _ = ParseOptions(Restore, s)
	})
}
