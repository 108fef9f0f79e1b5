package info

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{"defaults", Options{Output: "table"}, ""},
		{"json, s3", Options{Output: "json", Storage: "s3"}, ""},
		{"bad storage", Options{Output: "table", Storage: "local,nfs"}, "--storage"},
		{"bad output", Options{Output: "wide"}, "-o/--output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, exitcode.ErrUsage) {
				t.Fatalf("err = %v, want usage error %q", err, tt.err)
			}
		})
	}
}

func TestRenderGolden(t *testing.T) {
	data, err := os.ReadFile("../../pgbackrest/testdata/pgbackrest-2.45-info-two-repos.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		storages []pgbackrest.Storage
		set      string
	}{
		{"all", nil, ""},
		{"s3", []pgbackrest.Storage{pgbackrest.S3}, ""},
		{"set", nil, "20261125-002616F_20261125-002641I"},
		{"encrypted", []pgbackrest.Storage{pgbackrest.S3}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := data
			if tt.name == "encrypted" {
				data = bytes.ReplaceAll(data, []byte(`"cipher":"none"`), []byte(`"cipher":"aes-256-cbc"`))
			}
			sum, err := backup.Summarize(data, tt.storages, tt.set)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Render(&b, sum); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", b.Bytes())
			b.Reset()
			if err := output.Print(&b, output.JSON, sum); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".json", b.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
