package manifest

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every path that names the PostgreSQL major follows the spec's: a cluster stored with 15 (all
// clusters before 17 became the default) keeps /pgdata/pg15 in every object, one of 17 has
// /pgdata/pg17, and neither names the other's.
func TestObjectsFollowPGVersion(t *testing.T) {
	for _, c := range []struct {
		major      int
		want, not  string
		wantInInit string
	}{
		{15, "/pgdata/pg15", "pg17", "initdb -D /pgdata/pg15 "},
		{17, "/pgdata/pg17", "pg15", "initdb -D /pgdata/pg17 "},
	} {
		s := testSpec(t, "local,s3")
		s.PGVersion = c.major
		s.Image = "registry.example.com/postgres:x"
		objs := append(objects(t, s), RestoreJob(s, "20250102030405", "pg1-20250102030405", []string{"pgbackrest", "restore"}))
		var all strings.Builder
		for _, o := range objs {
			b, err := yaml.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		out := all.String()
		if strings.Contains(out, c.not) {
			t.Errorf("PostgreSQL %d: objects name %s", c.major, c.not)
		}
		for _, want := range []string{
			"pg1-path=" + c.want + "\n",     // db.conf, repo.conf and the per-repository files
			"value: " + c.want + "\n",       // PGDATA of the primary and the restore Job
			c.wantInInit,                    // the primary's start script
			"- " + c.want + "\n",            // pg_ctl stop -D on preStop
			`"pgVersion": ` + itoa(c.major), // the stored spec
		} {
			if !strings.Contains(out, want) {
				t.Errorf("PostgreSQL %d: objects lack %q", c.major, want)
			}
		}
	}
}

// A new spec without a major is PostgreSQL 17's.
func TestNewSpecIsPG17(t *testing.T) {
	s := testSpec(t, "local")
	if s.PGVersion != 17 || s.PGData() != "/pgdata/pg17" {
		t.Errorf("new spec: PostgreSQL %d at %s, want 17 at /pgdata/pg17", s.PGVersion, s.PGData())
	}
}

func itoa(n int) string { return map[int]string{15: "15", 17: "17"}[n] }
