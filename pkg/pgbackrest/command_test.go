package pgbackrest

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBackupArgs(t *testing.T) {
	tests := []struct {
		name  string
		repo  int
		typ   string
		extra []string
		want  []string
	}{
		{"full to s3", 2, "full", nil,
			[]string{"pgbackrest", "--stanza=db", "--repo=2", "--type=full", "--log-level-console=detail", "backup"}},
		{"extra options", 1, "incr", []string{"--start-fast", "--process-max=4"},
			[]string{"pgbackrest", "--stanza=db", "--repo=1", "--type=incr", "--log-level-console=detail", "--start-fast", "--process-max=4", "backup"}},
		{"user log level wins", 1, "diff", []string{"--log-level-console=info"},
			[]string{"pgbackrest", "--stanza=db", "--repo=1", "--type=diff", "--log-level-console=info", "backup"}},
		{"default type and repo", 0, "", nil,
			[]string{"pgbackrest", "--stanza=db", "--log-level-console=detail", "backup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BackupArgs("db", tt.repo, tt.typ, tt.extra); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateBackupType(t *testing.T) {
	for _, typ := range BackupTypes {
		if err := ValidateBackupType(typ); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	for _, typ := range []string{"", "FULL", "differential", "time"} {
		err := ValidateBackupType(typ)
		if !errors.Is(err, ErrInvalidBackupType) || !strings.Contains(err.Error(), "--type") || !strings.Contains(err.Error(), "full, diff, incr") {
			t.Errorf("%q: want an error naming --type and the valid values, got %v", typ, err)
		}
	}
}

func TestSimpleArgs(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"info all", InfoArgs("db", 0), []string{"pgbackrest", "--stanza=db", "--output=json", "info"}},
		{"info repo", InfoArgs("db", 2), []string{"pgbackrest", "--stanza=db", "--repo=2", "--output=json", "info"}},
		{"info set", InfoSetArgs("db", 1, "20261125-002441F"), []string{"pgbackrest", "--stanza=db", "--repo=1", "--set=20261125-002441F", "--output=json", "info"}},
		{"check all", CheckArgs("db", 0), []string{"pgbackrest", "--stanza=db", "check"}},
		{"check repo", CheckArgs("db", 1), []string{"pgbackrest", "--stanza=db", "--repo=1", "check"}},
		{"stanza-create", StanzaCreateArgs("db"), []string{"pgbackrest", "--stanza=db", "stanza-create"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestRestoreArgs(t *testing.T) {
	tests := []struct {
		name   string
		repo   int
		set    string
		target Target
		extra  []string
		want   []string
	}{
		{"end of archive", 1, "", Target{}, nil,
			[]string{"pgbackrest", "--stanza=db", "--repo=1", "--log-level-console=detail", "restore"}},
		{"set and time", 2, "20261125-002351F", Target{Type: TargetTime, Value: "2026-11-25T00:24:41Z", Action: ActionPromote}, []string{"--archive-mode=off"},
			[]string{"pgbackrest", "--stanza=db", "--repo=2", "--set=20261125-002351F", "--type=time", "--target=2026-11-25 00:24:41+00", "--target-action=promote", "--log-level-console=detail", "--archive-mode=off", "restore"}},
		{"immediate quiet", 1, "20261125-002441F", Target{Type: TargetImmediate}, []string{"--log-level-console=info", "--delta"},
			[]string{"pgbackrest", "--stanza=db", "--repo=1", "--set=20261125-002441F", "--type=immediate", "--log-level-console=info", "--delta", "restore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RestoreArgs("db", tt.repo, tt.set, tt.target, tt.extra); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// User options must combine with the plugin's own into a command pgBackRest accepts: no option twice.
func TestParsedOptionsDoNotClash(t *testing.T) {
	extra, err := ParseOptions(Backup, "--start-fast --log-level-console=warn --annotation=a=b --annotation=c=d")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range BackupArgs("db", 1, "full", extra) {
		name, _, _ := strings.Cut(a, "=")
		if name == "--annotation" {
			continue
		}
		if seen[name] {
			t.Errorf("%s given twice", name)
		}
		seen[name] = true
	}
}
