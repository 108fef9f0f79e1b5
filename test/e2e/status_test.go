//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// statusJSON is the part of `status -o json` (docs/output.md, "status") the test reads.
type statusJSON struct {
	Cluster  string `json:"cluster"`
	Healthy  bool   `json:"healthy"`
	Problems []struct {
		Check   string `json:"check"`
		Storage string `json:"storage"`
		Message string `json:"message"`
		Fix     string `json:"fix"`
	} `json:"problems"`
	Primary struct {
		Ready         bool   `json:"ready"`
		Version       string `json:"version"`
		Timeline      int    `json:"timeline"`
		LSN           string `json:"lsn"`
		InRecovery    bool   `json:"inRecovery"`
		DataUsedBytes int64  `json:"dataUsedBytes"`
		DataSizeBytes int64  `json:"dataSizeBytes"`
		WALBytes      int64  `json:"walBytes"`
	} `json:"primary"`
	Archiving struct {
		LastArchivedWAL string     `json:"lastArchivedWAL"`
		LastArchived    *time.Time `json:"lastArchived"`
		Queues          []struct {
			Storage  string `json:"storage"`
			Segments int    `json:"segments"`
		} `json:"queues"`
	} `json:"archiving"`
	Repositories []struct {
		Storage  string `json:"storage"`
		Backups  int    `json:"backups"`
		LastFull *struct {
			Label string    `json:"label"`
			Stop  time.Time `json:"stop"`
		} `json:"lastFull"`
		RecoveryWindow *struct {
			From  time.Time `json:"from"`
			ToWAL string    `json:"toWAL"`
		} `json:"recoveryWindow"`
		VolumeSizeBytes int64 `json:"volumeSizeBytes"`
		Retention       struct {
			Full int `json:"full"`
		} `json:"retention"`
	} `json:"repositories"`
	CertificatesNotAfter *time.Time `json:"certificatesNotAfter"`
}

func (ns *Namespace) status(t *testing.T, c string) (statusJSON, result) {
	t.Helper()
	r := ns.plugin(2*time.Minute, "status", c, "-o", "json")
	var s statusJSON
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("status -o json (exit %d) does not parse: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	return s, r
}

func hasProblem(s statusJSON, check, storage string) bool {
	for _, p := range s.Problems {
		if p.Check == check && p.Storage == storage {
			return true
		}
	}
	return false
}

// TestStatus proves status's verdict and exit status on a local,s3 cluster: 4 naming each
// repository without a backup; 0 with a backup in both, with the documented fields holding real
// values; 4 naming archiving to s3 while its S3 server is frozen; 0 again once it is back.
func TestStatus(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "status")
	s3 := startS3Server(t)
	c := clusterName(ns)
	s3ConfigureEndpoint(t, ns, s3.endpoint)
	removeS3Repo(t, c)
	ns.mustPlugin(10*time.Minute, createArgs(t, c, "local,s3")...)

	s, r := ns.status(t, c)
	if r.Code != 4 || s.Healthy || !hasProblem(s, "no-backup", "local") || !hasProblem(s, "no-backup", "s3") ||
		!strings.Contains(r.Stderr, "repository s3 has no backup") {
		t.Fatalf("status right after create: exit %d, want 4 naming both repositories without a backup\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	ns.mustPlugin(5*time.Minute, "backup", c, "--storage=local", "--type=full")
	ns.mustPlugin(5*time.Minute, "backup", c, "--storage=s3", "--type=full")
	start := time.Now()
	text := ns.plugin(time.Minute, "status", c)
	t.Logf("status took %s:\n%s", time.Since(start).Round(time.Millisecond), text.Stdout)
	if text.Code != 0 || !strings.Contains(text.Stdout, "healthy") || strings.Contains(text.Stdout, "\x1b[") {
		t.Fatalf("status with a backup in both: exit %d, want 0 and no colour off a terminal\n%s%s", text.Code, text.Stdout, text.Stderr)
	}
	s, r = ns.status(t, c)
	if r.Code != 0 || !s.Healthy || len(s.Problems) != 0 {
		t.Fatalf("status -o json: exit %d, healthy %v, problems %+v", r.Code, s.Healthy, s.Problems)
	}
	p := s.Primary
	if !p.Ready || p.Version == "" || p.Timeline < 1 || !strings.Contains(p.LSN, "/") || p.InRecovery ||
		p.DataSizeBytes <= 0 || p.DataUsedBytes <= 0 || p.WALBytes <= 0 {
		t.Errorf("primary: %+v", p)
	}
	if s.Archiving.LastArchivedWAL == "" || s.Archiving.LastArchived == nil {
		t.Errorf("archiving: %+v", s.Archiving)
	}
	if len(s.Repositories) != 2 {
		t.Fatalf("repositories: %+v", s.Repositories)
	}
	for _, repo := range s.Repositories {
		if repo.Backups != 1 || repo.LastFull == nil || repo.RecoveryWindow == nil || repo.RecoveryWindow.ToWAL == "" ||
			repo.RecoveryWindow.From.IsZero() || repo.Retention.Full < 1 {
			t.Errorf("repository %s: %+v", repo.Storage, repo)
		}
		if (repo.Storage == "local") != (repo.VolumeSizeBytes > 0) {
			t.Errorf("repository %s: volume size %d (local only)", repo.Storage, repo.VolumeSizeBytes)
		}
	}
	all := ns.plugin(time.Minute, "status", "--all")
	if all.Code != 0 || !strings.Contains(all.Stdout, c) || !strings.Contains(all.Stdout, "healthy") {
		t.Errorf("status --all on a healthy namespace: exit %d\n%s%s", all.Code, all.Stdout, all.Stderr)
	}
	if s.CertificatesNotAfter == nil || time.Until(*s.CertificatesNotAfter) < 300*24*time.Hour {
		t.Errorf("certificatesNotAfter %v", s.CertificatesNotAfter)
	}

	checkPSQL(t, ns, c)

	// S3 frozen (a hang): WAL switched; status names archiving to s3 within a bounded wait.
	ns.sql(c, "create table t (id bigserial primary key, pad text)")
	s3.freeze()
	outage := time.Now()
	for {
		ns.sql(c, "insert into t (pad) select md5(g::text) from generate_series(1, 1000) g; select pg_switch_wal()")
		s, r = ns.status(t, c)
		if r.Code == 4 && hasProblem(s, "archiving", "s3") {
			break
		}
		if time.Since(outage) > 2*time.Minute {
			t.Fatalf("2 min into the S3 outage status exits %d without an archiving problem for s3: %+v\n%s", r.Code, s.Problems, r.Stderr)
		}
		time.Sleep(3 * time.Second)
	}
	t.Logf("%.0fs into the outage status exits 4: %+v", time.Since(outage).Seconds(), s.Problems)
	if all = ns.plugin(time.Minute, "status", "--all"); all.Code != 4 || !strings.Contains(all.Stdout, "unhealthy") {
		t.Errorf("status --all during the outage: exit %d, want 4\n%s%s", all.Code, all.Stdout, all.Stderr)
	}
	if hasProblem(s, "archiving", "local") || hasProblem(s, "no-backup", "local") {
		t.Errorf("the local repository is fine during an S3 outage: %+v", s.Problems)
	}

	s3.thaw()
	back := time.Now()
	for attempt := 1; ; attempt++ {
		ns.sql(c, "select pg_switch_wal()") // the next segment's push starts the gap's backfill
		time.Sleep(3 * time.Second)
		s, r = ns.status(t, c)
		if r.Code == 0 {
			break
		}
		if attempt%10 == 0 {
			ns.plugin(5*time.Minute, "check", c) // fills what the archive path's backfills left
		}
		if time.Since(back) > 3*time.Minute {
			t.Fatalf("3 min after S3 returned status still exits %d: %+v", r.Code, s.Problems)
		}
	}
	t.Logf("status healthy %.0fs after S3 returned", time.Since(back).Seconds())
}
