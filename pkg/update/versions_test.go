package update

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestParseProbe(t *testing.T) {
	for _, c := range []struct {
		msg    string
		pg     int
		br     string
		broken bool
	}{
		{"pg_major=17\npostgres=postgres (PostgreSQL) 17.12 (Debian 17.12-1)\npgbackrest=pgBackRest 2.55.1\n", 17, "2.55.1", false},
		{"pg_major=\npostgres=postgres (PostgreSQL) 15.14\npgbackrest=pgBackRest 2.45\n", 15, "2.45", false},
		{"pg_major=\npostgres=\npgbackrest=\n", 0, "", false}, // neither binary
		{"exec format error", 0, "", true},
	} {
		pg, br, err := ParseProbe(c.msg)
		if pg != c.pg || br != c.br || (err != nil) != c.broken {
			t.Errorf("ParseProbe(%q) = %d, %q, %v; want %d, %q, broken %v", c.msg, pg, br, err, c.pg, c.br, c.broken)
		}
	}
}

func TestRepositoryVersion(t *testing.T) {
	var st pgbackrest.Stanza
	for _, v := range []string{"2.45", "2.55.1", "2.9"} {
		b := pgbackrest.BackupInfo{}
		b.Backrest.Version = v
		st.Backup = append(st.Backup, b)
	}
	if got := RepositoryVersion([]pgbackrest.Stanza{st}); got != "2.55.1" {
		t.Errorf("RepositoryVersion = %q, want 2.55.1 (numeric, not string, order)", got)
	}
	if got := RepositoryVersion(nil); got != "" {
		t.Errorf("no backups: %q", got)
	}
}

// Decide is where a wrong image is refused before anything changes, and where the roll's order
// is chosen.
func TestDecide(t *testing.T) {
	cur := Current{PGMajor: 17, PGBackRest: "2.55.1", Repository: "2.55.1"}
	for _, c := range []struct {
		name    string
		cur     Current
		next    ImageFacts
		changes bool
		refused string
	}{
		{"same versions, new digest", cur, ImageFacts{PGMajor: 17, PGBackRest: "2.55.1"}, false, ""},
		{"new pgBackRest minor", cur, ImageFacts{PGMajor: 17, PGBackRest: "2.56.0"}, true, ""},
		{"older pgBackRest that still reads the repository", Current{PGMajor: 17, PGBackRest: "2.55.1", Repository: "2.54"},
			ImageFacts{PGMajor: 17, PGBackRest: "2.54.2"}, true, ""},
		{"half-rolled version change (re-run): the primary still has the old", Current{PGMajor: 17, PGBackRest: "2.56.0", PrimaryPGBackRest: "2.55.1", Repository: "2.55.1"},
			ImageFacts{PGMajor: 17, PGBackRest: "2.56.0"}, true, ""},
		{"primary unreadable", Current{PGMajor: 17, PGBackRest: "2.55.1", Repository: "2.55.1"}, ImageFacts{PGMajor: 17, PGBackRest: "2.55.1"}, false, ""},
		{"another PostgreSQL major", cur, ImageFacts{PGMajor: 15, PGBackRest: "2.55.1"}, false, "create NEW --from pg1"},
		{"no PostgreSQL", cur, ImageFacts{PGBackRest: "2.55.1"}, false, "no PostgreSQL"},
		{"no pgBackRest", cur, ImageFacts{PGMajor: 17}, false, "no pgBackRest"},
		{"another pgBackRest major", cur, ImageFacts{PGMajor: 17, PGBackRest: "3.0"}, false, "another major version of pgBackRest"},
		{"older than the backups", cur, ImageFacts{PGMajor: 17, PGBackRest: "2.45"}, false, "older than the 2.55.1 that wrote"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.next.Image = "img:new"
			changes, err := Decide("pg1", c.cur, c.next)
			if c.refused == "" {
				if err != nil || changes != c.changes {
					t.Errorf("Decide = %v, %v; want %v, nil", changes, err, c.changes)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.refused) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("Decide err = %v, want a refusal saying %q", err, c.refused)
			}
		})
	}
}
