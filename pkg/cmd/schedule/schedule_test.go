package schedule

import (
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

func TestCreateValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CreateOptions
		want string // "" = valid
	}{
		{"ok", CreateOptions{Type: "full", Storage: "local", Schedule: "0 1 * * 0"}, ""},
		{"ok with zone", CreateOptions{Type: "incr", Storage: "s3", Schedule: "@daily", TimeZone: "Europe/Paris", DryRun: "client"}, ""},
		{"bad type", CreateOptions{Type: "weekly", Storage: "local", Schedule: "0 1 * * 0"}, "--type"},
		{"no type", CreateOptions{Storage: "local", Schedule: "0 1 * * 0"}, "--type is required"},
		{"bad storage", CreateOptions{Type: "full", Storage: "nfs", Schedule: "0 1 * * 0"}, "--storage"},
		{"two storages", CreateOptions{Type: "full", Storage: "local,s3", Schedule: "0 1 * * 0"}, "one repository"},
		{"no storage", CreateOptions{Type: "full", Schedule: "0 1 * * 0"}, "--storage is required"},
		{"no schedule", CreateOptions{Type: "full", Storage: "local"}, "--schedule is required"},
		{"bad schedule", CreateOptions{Type: "full", Storage: "local", Schedule: "0 25 * * *"}, "--schedule"},
		{"bad zone", CreateOptions{Type: "full", Storage: "local", Schedule: "0 1 * * 0", TimeZone: "Paris"}, "--time-zone"},
		{"bad dry-run", CreateOptions{Type: "full", Storage: "local", Schedule: "0 1 * * 0", DryRun: "server"}, "--dry-run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.For(err) != exitcode.UsageError {
				t.Fatalf("got %v (exit %d), want a usage error with %q", err, exitcode.For(err), tc.want)
			}
		})
	}
}

func TestTargetValidate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        TargetOptions
		args     []string
		wantName string
		wantErr  string
	}{
		{"by name", TargetOptions{}, []string{"pg1", "pg1-full-local"}, "pg1-full-local", ""},
		{"by type and storage", TargetOptions{Type: "diff", Storage: "s3"}, []string{"pg1"}, "pg1-diff-s3", ""},
		{"both", TargetOptions{Type: "diff", Storage: "s3"}, []string{"pg1", "x"}, "", "not both"},
		{"neither", TargetOptions{}, []string{"pg1"}, "", "name the schedule"},
		{"type only", TargetOptions{Type: "full"}, []string{"pg1"}, "", "--storage is required"},
		{"bad type", TargetOptions{Type: "monthly", Storage: "local"}, []string{"pg1"}, "", "--type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			err := o.Validate(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || exitcode.For(err) != exitcode.UsageError {
					t.Fatalf("got %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || o.Name != tc.wantName {
				t.Fatalf("got %q, %v; want %q", o.Name, err, tc.wantName)
			}
		})
	}
}
