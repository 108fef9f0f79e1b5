package cluster

import (
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestRetentionFlags(t *testing.T) {
	both := []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}
	local := []pgbackrest.Storage{pgbackrest.Local}
	tests := []struct {
		name     string
		flags    RetentionFlags
		storages []pgbackrest.Storage
		want     map[pgbackrest.Storage]Retention
		err      string
	}{
		{"one value for all", RetentionFlags{Full: "4"}, both,
			map[pgbackrest.Storage]Retention{pgbackrest.Local: {Full: 4}, pgbackrest.S3: {Full: 4}}, ""},
		{"per repository", RetentionFlags{Full: "local=4,s3=14", FullType: "s3=time"}, both,
			map[pgbackrest.Storage]Retention{pgbackrest.Local: {Full: 4}, pgbackrest.S3: {Full: 14, FullType: "time"}}, ""},
		{"diff and archive", RetentionFlags{Diff: "3", Archive: "1", ArchiveType: "diff"}, local,
			map[pgbackrest.Storage]Retention{pgbackrest.Local: {Diff: 3, Archive: 1, ArchiveType: "diff"}}, ""},
		{"zero", RetentionFlags{Full: "0"}, local, nil, `invalid --retention-full "0"`},
		{"negative", RetentionFlags{Diff: "-2"}, local, nil, `invalid --retention-diff "-2"`},
		{"not a number", RetentionFlags{Full: "two"}, local, nil, "whole number"},
		{"unknown storage", RetentionFlags{Full: "nfs=2"}, local, nil, `unknown storage "nfs"`},
		{"storage the cluster lacks", RetentionFlags{Full: "s3=2"}, local, nil, "has no s3 repository"},
		{"twice", RetentionFlags{Full: "local=2,local=3"}, local, nil, "given twice"},
		{"empty pair", RetentionFlags{Full: "local="}, local, nil, "storage=value pairs"},
		{"bad type", RetentionFlags{FullType: "days"}, local, nil, "--retention-full-type"},
		{"archive type alone", RetentionFlags{ArchiveType: "full"}, local, nil, "needs --retention-archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.Apply(nil, tt.storages)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want error containing %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for st, w := range tt.want {
				if got[st] != w {
					t.Errorf("%s: got %+v, want %+v", st, got[st], w)
				}
			}
		})
	}
}

func TestApplyKeepsBase(t *testing.T) {
	base := map[pgbackrest.Storage]Retention{pgbackrest.Local: {Full: 5, Diff: 2}}
	got, err := RetentionFlags{Diff: "4"}.Apply(base, []pgbackrest.Storage{pgbackrest.Local})
	if err != nil {
		t.Fatal(err)
	}
	if got[pgbackrest.Local] != (Retention{Full: 5, Diff: 4}) {
		t.Fatalf("got %+v", got[pgbackrest.Local])
	}
	if base[pgbackrest.Local].Diff != 2 {
		t.Fatal("base changed")
	}
}
