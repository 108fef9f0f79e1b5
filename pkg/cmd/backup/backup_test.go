package backup

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		o        Options
		err      string
		storages []pgbackrest.Storage
		extra    []string
	}{
		{name: "defaults", o: Options{Type: "incr", Output: "table", Timeout: 2 * time.Hour}},
		{name: "full to both with options", o: Options{Type: "full", Storage: "s3,local", Options: "--start-fast --process-max 4", Output: "json", Timeout: time.Hour},
			storages: []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}, extra: []string{"--start-fast", "--process-max=4"}},
		{name: "bad type", o: Options{Type: "weekly", Output: "table", Timeout: time.Hour}, err: `--type "weekly" must be one of full, diff, incr`},
		{name: "bad storage", o: Options{Type: "incr", Storage: "gcs", Output: "table", Timeout: time.Hour}, err: "--storage"},
		{name: "owned option", o: Options{Type: "incr", Options: "--stanza=x", Output: "table", Timeout: time.Hour}, err: "--stanza"},
		{name: "type in options", o: Options{Type: "incr", Options: "--type=full", Output: "table", Timeout: time.Hour}, err: "--type"},
		{name: "unknown option lists accepted", o: Options{Type: "incr", Options: "--frobnicate", Output: "table", Timeout: time.Hour}, err: "start-fast"},
		{name: "bad output", o: Options{Type: "incr", Output: "wide", Timeout: time.Hour}, err: "-o/--output"},
		{name: "bad timeout", o: Options{Type: "incr", Output: "table"}, err: "--timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(tt.o.storages, tt.storages) || !slices.Equal(tt.o.extra, tt.extra) {
					t.Errorf("storages %v extra %q", tt.o.storages, tt.o.extra)
				}
				if tt.o.format == "" || tt.o.format != output.Format(tt.o.Output) {
					t.Errorf("format %q", tt.o.format)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if !errors.Is(err, exitcode.ErrUsage) {
				t.Errorf("not a usage error: %v", err)
			}
		})
	}
}
