//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgVersions are the PostgreSQL majors create accepts, with the pgBackRest their image carries
// (manifests/image/Dockerfile: 15 on Debian 12, 17 on Debian 13).
var pgVersions = []struct{ major, pgbackrest string }{
	{"15", "pgBackRest 2.45"},
	{"17", "pgBackRest 2.55"},
}

// TestPGVersions runs the seed's workflow on each PostgreSQL major, side by side, with the default
// image (no --image: ghcr.io/kubectl-pgbackrest/postgres:<major>-<version>, which the lab's
// containerd pulls through its mirror of the registry `make lab-images` pushed to): create with
// local and s3, a full backup to both, info, and a point-in-time restore from s3 to a time between
// two batches of rows (exact row count); the data directory, the archive and the image follow the
// major throughout.
func TestPGVersions(t *testing.T) {
	for _, v := range pgVersions {
		t.Run("pg"+v.major, func(t *testing.T) {
			t.Parallel()
			testPGVersion(t, v.major, v.pgbackrest)
		})
	}
}

func testPGVersion(t *testing.T, major, pgbackrest string) {
	ns := newNamespace(t, "pg"+major)
	c := clusterName(ns)
	s3Configure(t, ns)
	removeS3Repo(t, c)
	start := time.Now()
	ns.mustPlugin(10*time.Minute, "create", c, "--storage=local,s3", "--pg-version", major,
		"--pgdata-size", "1Gi", "--repo-size", "1Gi", "--timeout", "8m")
	t.Logf("create --pg-version %s took %.1fs", major, time.Since(start).Seconds())

	// The major everywhere: the server, its data directory, the image, list, pgBackRest's version.
	if v := ns.sql(c, "show server_version_num"); !strings.HasPrefix(v, major) || len(v) != 6 {
		t.Errorf("server_version_num %s, want PostgreSQL %s", v, major)
	}
	if d := ns.sql(c, "show data_directory"); d != "/pgdata/pg"+major {
		t.Errorf("data_directory %s, want /pgdata/pg%s", d, major)
	}
	var l struct {
		Clusters []struct {
			PGVersion int    `json:"pgVersion"`
			Image     string `json:"image"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(ns.mustPlugin(time.Minute, "list", "-o", "json").Stdout), &l); err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(strings.TrimPrefix(must(t, time.Minute, "kubectl-pgbackrest", "version"), "kubectl-pgbackrest "))
	version = strings.SplitN(version, "\n", 2)[0]
	wantImage := "ghcr.io/kubectl-pgbackrest/postgres:" + major + "-" + version
	if len(l.Clusters) != 1 || strconv.Itoa(l.Clusters[0].PGVersion) != major || l.Clusters[0].Image != wantImage {
		t.Errorf("list: %+v, want pgVersion %s and image %s", l.Clusters, major, wantImage)
	}
	repo := "deploy/" + c + "-backrest-shared-repo"
	if v := ns.kubectl(time.Minute, "exec", repo, "-c", "pgbackrest", "--", "pgbackrest", "version"); !strings.HasPrefix(v, pgbackrest) {
		t.Errorf("pgbackrest version %q, want %s", v, pgbackrest)
	}

	count := func() int {
		t.Helper()
		n, err := strconv.Atoi(ns.sql(c, "select count(*) from t"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	ns.sql(c, "create table t (id serial primary key, batch int)")
	ns.sql(c, "insert into t (batch) select 1 from generate_series(1, 1000)")
	var b backupResult
	if err := json.Unmarshal([]byte(ns.mustPlugin(10*time.Minute, "backup", c, "--storage=local,s3", "--type=full", "-o", "json").Stdout), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Backups) != 2 || b.Backups[0].Storage != "local" || b.Backups[1].Storage != "s3" {
		t.Fatalf("backup to both: %+v", b.Backups)
	}

	// The archive of each repository is the major's: archive/db/<major>-1. (A write first: after
	// the backup's own switch there would be nothing to switch.)
	ns.sql(c, "insert into t (batch) select 0")
	seg := ns.sql(c, "select pg_walfile_name(pg_switch_wal())")
	waitFor(t, 2*time.Minute, "segment "+seg+" in both repositories' archive/db/"+major+"-1", func() bool {
		r := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "exec", repo, "-c", "pgbackrest", "--",
			"ls", "/pgbackrest/repo1/archive/db/"+major+"-1/"+seg[:16]+"/")
		m, _ := filepath.Glob(filepath.Join(s3RepoDir(t, c), "archive", "db", major+"-1", seg[:16], seg+"-*"))
		return r.Code == 0 && strings.Contains(r.Stdout, seg+"-") && len(m) > 0
	})

	var info struct {
		Repositories []struct {
			Storage string `json:"storage"`
			Backups []struct {
				Label     string `json:"label"`
				PGVersion string `json:"pgVersion"`
			} `json:"backups"`
			RecoveryWindow *struct{ From string } `json:"recoveryWindow"`
		} `json:"repositories"`
	}
	infoOut := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout
	if err := json.Unmarshal([]byte(infoOut), &info); err != nil {
		t.Fatalf("info -o json: %v\n%s", err, infoOut)
	}
	if len(info.Repositories) != 2 {
		t.Fatalf("info: %s", infoOut)
	}
	for i, r := range info.Repositories {
		if len(r.Backups) != 1 || r.Backups[0].Label != b.Backups[i].Label || r.Backups[0].PGVersion != major || r.RecoveryWindow == nil {
			t.Errorf("info of %s: %+v, want backup %s of PostgreSQL %s and a recovery window", r.Storage, r, b.Backups[i].Label, major)
		}
	}
	table := ns.mustPlugin(2*time.Minute, "info", c).Stdout
	for _, set := range b.Backups {
		found := false
		for l := range strings.SplitSeq(table, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == set.Label {
				found = f[1] == "full" && f[2] == major
			}
		}
		if !found {
			t.Errorf("info table lacks %s as a full backup of PostgreSQL %s:\n%s", set.Label, major, table)
		}
	}
	if path := os.Getenv("PGBR_CAPTURE_INFO_DIR"); path != "" {
		// pgBackRest's own JSON, for the parser's fixtures (pkg/pgbackrest/testdata).
		raw := ns.kubectl(time.Minute, "exec", repo, "-c", "pgbackrest", "--", "pgbackrest", "--stanza=db", "--output=json", "info")
		if err := os.WriteFile(filepath.Join(path, "pgbackrest-info-pg"+major+".json"), []byte(raw), 0o644); err != nil {
			t.Error(err)
		}
	}

	ns.sql(c, "delete from t where batch = 0")
	ns.sql(c, "insert into t (batch) select 2 from generate_series(1, 1000)")
	time.Sleep(1500 * time.Millisecond)
	ts := ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	time.Sleep(1500 * time.Millisecond)
	ns.sql(c, "insert into t (batch) select 3 from generate_series(1, 1000)")

	start = time.Now()
	ns.mustPlugin(15*time.Minute, "restore", c, "--storage=s3", "--target-time="+ts, "--yes", "--timeout=8m")
	t.Logf("restore of PostgreSQL %s from s3 to %s took %.1fs", major, ts, time.Since(start).Seconds())
	if n := count(); n != 2000 {
		t.Fatalf("after restoring to %s: %d rows, want 2000 (batches 1 and 2)", ts, n)
	}
	if d := ns.sql(c, "show data_directory"); d != "/pgdata/pg"+major {
		t.Errorf("restored data_directory %s, want /pgdata/pg%s", d, major)
	}
	ns.sql(c, "insert into t (batch) select 4 from generate_series(1, 10)") // writable, on the new timeline
	ns.mustPlugin(3*time.Minute, "check", c)
}
