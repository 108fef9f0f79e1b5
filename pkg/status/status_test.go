package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// healthy is a cluster every rule passes.
func healthy() *Status {
	return &Status{Cluster: "db", Namespace: "ns", Time: now,
		Primary:   Primary{Pod: "db-1", Ready: true, State: "Running", Version: "17.2", Timeline: 1, LSN: "0/3000060", DataUsedBytes: 50, DataSizeBytes: 100},
		Archiving: Archiving{LastArchived: ago(time.Minute), LastArchivedWAL: "000000010000000000000002", ArchivedCount: 2},
		Repositories: []Repository{
			{Storage: pgbackrest.Local, Key: 1, Backups: 1, Newest: &Backup{Label: "F", Type: "full", Stop: now.Add(-24 * time.Hour)}},
			{Storage: pgbackrest.S3, Key: 2, Backups: 1, Newest: &Backup{Label: "F", Type: "full", Stop: now.Add(-24 * time.Hour)}},
		},
		CertificatesNotAfter: ago(-365 * 24 * time.Hour),
	}
}

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		change func(*Status)
		want   []string // "check storage" of each problem, in order
	}{
		{"healthy", Limits{}, func(*Status) {}, nil},
		{"no primary", Limits{}, func(s *Status) { s.Primary = Primary{} }, []string{"primary "}},
		{"primary not ready", Limits{}, func(s *Status) { s.Primary.Ready = false }, []string{"primary "}},
		{"primary unreadable", Limits{}, func(s *Status) { s.Primary.Error = "psql: no" }, []string{"primary "}},
		{"data volume at 86%", Limits{}, func(s *Status) { s.Primary.DataUsedBytes = 86 }, []string{"data-volume "}},
		{"data volume at 85%", Limits{}, func(s *Status) { s.Primary.DataUsedBytes = 85 }, nil},
		{"archiving failing", Limits{}, func(s *Status) { s.Archiving.LastFailed, s.Archiving.LastFailedWAL = ago(time.Second), "X" }, []string{"archiving "}},
		{"archiving failed before a success", Limits{}, func(s *Status) { s.Archiving.LastFailed = ago(time.Hour) }, nil},
		{"archiving behind", Limits{}, func(s *Status) { s.Archiving.Ready, s.Archiving.LastArchived = 3, ago(6*time.Minute) }, []string{"archiving "}},
		{"archiving behind within the lag", Limits{MaxArchiveLag: 10 * time.Minute}, func(s *Status) { s.Archiving.Ready, s.Archiving.LastArchived = 3, ago(6*time.Minute) }, nil},
		{"idle database, old last archive", Limits{}, func(s *Status) { s.Archiving.LastArchived = ago(48 * time.Hour) }, nil},
		{"s3 queue", Limits{}, func(s *Status) {
			s.Archiving.Queues = []pgbackrest.ArchiveGap{{Storage: pgbackrest.S3, Segments: 3, Since: now.Unix() - 30, First: "A", Last: "C"}}
		}, []string{"archiving s3"}},
		{"lost segments", Limits{}, func(s *Status) {
			s.Archiving.Queues = []pgbackrest.ArchiveGap{{Storage: pgbackrest.Local, Lost: true, Segments: 1, First: "A", Last: "A"}}
		}, []string{"archiving local"}},
		{"no backup in s3", Limits{}, func(s *Status) { s.Repositories[1].Backups, s.Repositories[1].Newest = 0, nil }, []string{"no-backup s3"}},
		{"s3 unreadable", Limits{}, func(s *Status) { s.Repositories[1].Error = "timed out" }, []string{"repository s3"}},
		{"local backup 9 days old", Limits{}, func(s *Status) { s.Repositories[0].Newest.Stop = now.Add(-9 * 24 * time.Hour) }, []string{"backup-age local"}},
		{"7 days old with the default", Limits{}, func(s *Status) { s.Repositories[0].Newest.Stop = now.Add(-7 * 24 * time.Hour) }, nil},
		{"older than --max-backup-age", Limits{MaxBackupAge: 12 * time.Hour}, func(*Status) {}, []string{"backup-age local", "backup-age s3"}},
		{"daily full schedule: 3 days is too old", Limits{}, func(s *Status) {
			s.Schedules = []Schedule{{Name: "db-full-local", Type: "full", Storage: pgbackrest.Local, Period: DurationOf(24 * time.Hour)}}
			s.Repositories[0].Newest.Stop = now.Add(-72 * time.Hour)
			s.Repositories[1].Newest.Stop = now.Add(-72 * time.Hour)
		}, []string{"backup-age local"}},
		{"a suspended schedule leaves the default", Limits{}, func(s *Status) {
			s.Schedules = []Schedule{{Name: "db-full-local", Type: "full", Storage: pgbackrest.Local, Period: DurationOf(24 * time.Hour), Suspended: true}}
			s.Repositories[0].Newest.Stop = now.Add(-72 * time.Hour)
		}, nil},
		{"certificates in 29 days", Limits{}, func(s *Status) { s.CertificatesNotAfter = ago(-29 * 24 * time.Hour) }, []string{"certificates "}},
		{"certificates expired", Limits{}, func(s *Status) { s.CertificatesNotAfter = ago(time.Hour) }, []string{"certificates "}},
		{"certificates unread", Limits{}, func(s *Status) { s.CertificatesNotAfter = nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := healthy()
			tc.change(s)
			Evaluate(s, tc.limits, now)
			var got []string
			for _, p := range s.Problems {
				got = append(got, p.Check+" "+string(p.Storage))
				if p.Message == "" || p.Fix == "" {
					t.Errorf("problem %+v: says no what or no fix", p)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("problems %q, want %q\n%+v", got, tc.want, s.Problems)
			}
			if s.Healthy != (len(tc.want) == 0) {
				t.Errorf("Healthy = %v with problems %q", s.Healthy, got)
			}
		})
	}
}

func TestBackupAgeSource(t *testing.T) {
	s := healthy()
	s.Schedules = []Schedule{{Name: "db-full-s3", Type: "full", Storage: pgbackrest.S3, Period: DurationOf(7 * 24 * time.Hour)}}
	Evaluate(s, Limits{}, now)
	if r := s.Repositories[1]; r.MaxBackupAge.Seconds != 14*24*3600 || !strings.Contains(r.MaxBackupAgeSource, "db-full-s3") {
		t.Errorf("s3: %+v %q", r.MaxBackupAge, r.MaxBackupAgeSource)
	}
	if r := s.Repositories[0]; r.MaxBackupAge.Seconds != 8*24*3600 {
		t.Errorf("local: %+v", r.MaxBackupAge)
	}
}

func TestCronPeriod(t *testing.T) {
	for _, tc := range []struct {
		expr, tz string
		want     time.Duration
		err      bool
	}{
		{"0 1 * * 0", "", 7 * 24 * time.Hour, false},
		{"*/15 * * * *", "", 15 * time.Minute, false},
		{"0 1 * * *", "Europe/Paris", 24 * time.Hour, false},
		{"@daily", "", 24 * time.Hour, false},
		{"@hourly", "", time.Hour, false},
		{"30 2 1 * *", "", 31 * 24 * time.Hour, false}, // Jan 1 → Feb 1 after Dec 2
		{"0 0 * * 1-5", "", 24 * time.Hour, false},     // Thu 3 → Fri 4
		{"0 1 * * 7", "", 7 * 24 * time.Hour, false},
		{"0 1 * *", "", 0, true},
		{"61 * * * *", "", 0, true},
		{"0 1 * * sun", "", 7 * 24 * time.Hour, false},
		{"0 0 30 2 *", "", 0, true},
		{"0 1 * * *", "Nowhere/City", 0, true},
	} {
		got, err := CronPeriod(tc.expr, tc.tz, now)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("CronPeriod(%q, %q) = %s, %v; want %s, error %v", tc.expr, tc.tz, got, err, tc.want, tc.err)
		}
	}
}

func TestParsePrimary(t *testing.T) {
	out := `version=17.2
inRecovery=false
lsn=0/5000060
timeline=3
walBytes=33554432
archivedCount=4
lastArchivedWAL=000000030000000000000004
lastArchivedTime=1764676800
failedCount=1
lastFailedWAL=000000030000000000000003
lastFailedTime=1764676700
now=1764676860
ready=2
dataSize=1000
dataUsed=400
archive: gap s3 3 1764676790 000000030000000000000002 000000030000000000000004
archive: log s3 archive-backfill.sh: getting 000000030000000000000002 for s3 failed
`
	var p Primary
	var a Archiving
	dbNow, err := ParsePrimary(out, &p, &a)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "17.2" || p.InRecovery || p.LSN != "0/5000060" || p.Timeline != 3 || p.WALBytes != 33554432 || p.DataSizeBytes != 1000 || p.DataUsedBytes != 400 {
		t.Errorf("primary %+v", p)
	}
	if a.ArchivedCount != 4 || a.LastArchived.Unix() != 1764676800 || a.FailedCount != 1 || a.Ready != 2 || a.Failing() {
		t.Errorf("archiving %+v", a)
	}
	if len(a.Queues) != 1 || a.Queues[0].Storage != pgbackrest.S3 || a.Queues[0].Segments != 3 || !strings.Contains(a.Queues[0].LastLog, "failed") {
		t.Errorf("queues %+v", a.Queues)
	}
	if dbNow.Unix() != 1764676860 {
		t.Errorf("now %s", dbNow)
	}
	_, err = ParsePrimary("psql: error: connection to server failed\nready=0\n", &Primary{}, &Archiving{})
	if err == nil || !strings.Contains(err.Error(), "connection to server failed") {
		t.Errorf("psql failure: %v", err)
	}
}

func TestParseRepoScript(t *testing.T) {
	out := "== repo1 0\n[{\"name\":\"db\"}]\n\n== repo2 124\n\nstderr: ERROR: [104]: timeout\n== df 2000 500\n"
	repos, size, used := ParseRepoScript(out)
	if len(repos) != 2 || repos[0].Key != 1 || repos[0].Code != 0 || repos[0].JSON != `[{"name":"db"}]` ||
		repos[1].Code != 124 || repos[1].Stderr != "ERROR: [104]: timeout" || size != 2000 || used != 500 {
		t.Errorf("%+v %d %d", repos, size, used)
	}
	cmd := RepoScript("db", []int{1, 2}, 10, "/pgbackrest")
	if s := cmd[2]; !strings.Contains(s, "timeout -k 2 10 pgbackrest") || !strings.Contains(s, "--repo=2") || !strings.Contains(s, "df -P -B1 /pgbackrest") {
		t.Errorf("script:\n%s", s)
	}
}

func TestLastErrorLine(t *testing.T) {
	log := "2026-12-02 LOG: x\nP00  ERROR: [082]: WAL segment 0001 was not archived\narchive-push.sh: pushing failed\n"
	if got := LastErrorLine(log); got != "ERROR: [082]: WAL segment 0001 was not archived" {
		t.Errorf("%q", got)
	}
}

func TestRender(t *testing.T) {
	s := healthy()
	s.Repositories[1].Backups, s.Repositories[1].Newest = 0, nil
	s.Archiving.Queues = []pgbackrest.ArchiveGap{{Storage: pgbackrest.S3, Segments: 2, Since: now.Unix() - 60, First: "A", Last: "B"}}
	Evaluate(s, Limits{}, now)
	var b bytes.Buffer
	Render(&b, s, nil)
	out := b.String()
	for _, want := range []string{
		"cluster ns/db: UNHEALTHY (2 problems)", "✗ WAL archiving to s3 fails: 2 WAL segments A–B missing from s3 (repo2) since 60s ago",
		"✗ repository s3 has no backup", "PostgreSQL 17.2, primary, not in recovery", "timeline 1, LSN 0/3000060",
		"data volume 50B used of 100B (50%)", "last archived 000000010000000000000002, 1m0s ago", "repository local (repo1)",
		"schedules\n  none", "lease: free",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour without a Color:\n%s", out)
	}
	if l := Line(s); l[1] != "unhealthy" || !strings.Contains(l[2], "(+1 more)") {
		t.Errorf("line %q", l)
	}
}
