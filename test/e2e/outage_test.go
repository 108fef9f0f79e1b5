//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// s3Server is an S3 server of the test's own: the cluster's versitygw binary and certificate on
// another port of the node, serving the same bucket directory. Freezing or stopping it is an
// outage of this test's clusters only.
type s3Server struct {
	t        *testing.T
	endpoint string // node-ip:port
	cmd      *exec.Cmd
}

func startS3Server(t *testing.T) *s3Server {
	t.Helper()
	host, _, err := net.SplitHostPort(env(t, "PGBR_S3_HOST_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &s3Server{t: t, endpoint: net.JoinHostPort(host, strconv.Itoa(port))}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *s3Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(env(s.t, "PGBR_S3_SERVER_BIN"), "--port", s.endpoint,
		"--cert", env(s.t, "PGBR_S3_CERT"), "--key", env(s.t, "PGBR_S3_CERT_KEY"), "posix", env(s.t, "PGBR_S3_DATA_DIR"))
	// Credentials through the environment, never argv.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+env(s.t, "PGBR_S3_KEY"), "ROOT_SECRET_KEY="+env(s.t, "PGBR_S3_KEY_SECRET"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting the test's S3 server: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.endpoint, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the test's S3 server does not listen on %s: %v", s.endpoint, err)
		}
	}
}

func (s *s3Server) freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *s3Server) thaw()   { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *s3Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// TestArchiveOutage proves that an S3 outage (a hang: the server frozen, as in a network
// partition; a refusal: the server stopped) never stops archiving to the local repository, that
// pg_wal stays bounded, that check names S3 as failing, and that once S3 is back its archive is
// continuous again without a new backup. (The local cluster's hostPath volumes do not enforce
// their size, so the bound is proven by pg_wal's size, not by a full volume.)
func TestArchiveOutage(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"hang", "refuse"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			testArchiveOutage(t, fault)
		})
	}
}

func testArchiveOutage(t *testing.T, fault string) {
	ns := newNamespace(t, "outage-"+fault)
	s3 := startS3Server(t)
	c := clusterName(ns)
	s3ConfigureEndpoint(t, ns, s3.endpoint)
	removeS3Repo(t, c)
	ns.mustPlugin(10*time.Minute, createArgs(t, c, "local,s3")...)
	ns.sql(c, "create table t (id bigserial primary key, pad text)")
	ns.mustPlugin(5*time.Minute, "backup", c, "--storage=s3", "--type=full")

	// A writer: a segment every two seconds, for as long as the test runs.
	ctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	writer := exec.CommandContext(ctx, "kubectl", "-n", ns.Name, "exec", "deploy/"+c, "-c", "postgres", "--",
		"psql", "-h", "/var/run/postgresql", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qc",
		`do $$ begin for i in 1..600 loop
		   insert into t (pad) select repeat(md5(g::text), 8) from generate_series(1, 2000) g;
		   commit; perform pg_switch_wal(); perform pg_sleep(2);
		 end loop; end $$`)
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	repo1 := ns.localRepoArchive(t, c)
	s3Dir := filepath.Join(s3RepoDir(t, c), "archive", "db")
	time.Sleep(5 * time.Second)

	if fault == "hang" {
		s3.freeze()
	} else {
		s3.stop()
	}
	t.Logf("S3 %s from %s", map[string]string{"hang": "frozen", "refuse": "stopped"}[fault], time.Now().Format("15:04:05"))
	outage := time.Now()
	maxWAL, maxReady := 0, 0
	for time.Since(outage) < 60*time.Second {
		time.Sleep(5 * time.Second)
		// The local repository is current within seconds: at most a few segments behind.
		current := ns.sql(c, "select pg_walfile_name(pg_current_wal_lsn())")
		newest := newestSegment(t, repo1)
		// A push to the hung S3 holds archiving for at most 5 s, once: a few segments.
		if lag := segmentDistance(newest, current); lag > 5 {
			t.Errorf("%.0fs into the outage repo1's newest segment is %s while PostgreSQL writes %s (%d behind)",
				time.Since(outage).Seconds(), newest, current, lag)
		}
		f := strings.Split(ns.sql(c, "select (select sum(size) from pg_ls_waldir())::bigint/1048576 || ' ' || (select count(*) from pg_ls_dir('pg_wal/archive_status') f where f like '%.ready')"), " ")
		mb, _ := strconv.Atoi(f[0])
		ready, _ := strconv.Atoi(f[1])
		maxWAL, maxReady = max(maxWAL, mb), max(maxReady, ready)
	}
	t.Logf("over the outage: pg_wal at most %d MB, at most %d segments waiting for archiving", maxWAL, maxReady)
	// Twice max_wal_size (a soft limit; 128 MB on this 1 GiB volume) plus the backlog bound (256 MB).
	if maxWAL > 512 || maxReady > 4 {
		t.Errorf("pg_wal grew to %d MB with %d segments waiting while S3 was down", maxWAL, maxReady)
	}
	chk := ns.plugin(5*time.Minute, "check", c, "--timeout", "4m")
	t.Logf("check during the outage: exit %d\n%s%s", chk.Code, chk.Stdout, chk.Stderr)
	if chk.Code == 0 || !strings.Contains(chk.Stdout, "✓ archiving to local (repo1) works") ||
		!strings.Contains(chk.Stdout, "✗ archiving to s3 (repo2)") || !strings.Contains(chk.Stdout, "missing from s3 (repo2)") ||
		!strings.Contains(chk.Stdout, "a restore from s3 (repo2) replays only up to WAL") {
		t.Errorf("check during the outage must pass for local and name s3 with its gap:\n%s", chk.Stdout)
	}

	if fault == "hang" {
		s3.thaw()
	} else {
		s3.start()
	}
	t.Logf("S3 back after %.0fs", time.Since(outage).Seconds())
	time.Sleep(10 * time.Second)
	// Ending kubectl exec does not end the psql it started in the pod: end the writer's session,
	// so no segment is archived after check has proven both archives.
	stopWriter()
	_ = writer.Wait()
	ns.sql(c, `select count(pg_terminate_backend(pid)) from pg_stat_activity where pid <> pg_backend_pid() and query like 'do $$%'`)
	// The archive path's own backfills run from the next segment on; check fills the rest.
	for attempt := 1; ; attempt++ {
		chk = ns.plugin(5*time.Minute, "check", c)
		if chk.Code == 0 {
			break
		}
		if attempt == 3 {
			t.Fatalf("check after S3 returned: exit %d\n%s%s", chk.Code, chk.Stdout, chk.Stderr)
		}
		t.Logf("check %d after S3 returned: exit %d\n%s%s", attempt, chk.Code, chk.Stdout, chk.Stderr)
	}
	// Both archives are continuous again: every segment repo1 has since the S3 backup is in S3.
	local, remote := segments(t, repo1), segments(t, s3Dir)
	if len(remote) == 0 {
		t.Fatal("no segment in the S3 archive")
	}
	var missing []string
	for _, s := range local {
		if s >= remote[0] && !slices.Contains(remote, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		t.Errorf("after S3 returned, %d segments of repo1 are not in S3: %v", len(missing), missing)
	}
	for i := 1; i < len(remote); i++ {
		if d := segmentDistance(remote[i-1], remote[i]); d != 1 {
			t.Errorf("S3 archive not continuous: %s then %s", remote[i-1], remote[i])
		}
	}
	var info infoSummary
	if err := json.Unmarshal([]byte(ns.mustPlugin(time.Minute, "info", c, "-o", "json").Stdout), &info); err != nil {
		t.Fatal(err)
	}
	for _, repo := range info.Repositories {
		if repo.Archive == nil || repo.Archive.Max < local[len(local)-1] {
			t.Errorf("info: %s archive %+v, repo1's newest is %s", repo.Storage, repo.Archive, local[len(local)-1])
		}
	}
	t.Logf("repo1 %d segments, S3 %d (%s … %s), continuous", len(local), len(remote), remote[0], remote[len(remote)-1])
}

// localRepoArchive is the directory of the cluster's local repository archive on this node: the
// hostPath of the repository PVC's volume.
func (ns *Namespace) localRepoArchive(t *testing.T, c string) string {
	t.Helper()
	pv := strings.TrimSpace(ns.kubectl(time.Minute, "get", "pvc", c+"-pgbr-repo", "-o", "jsonpath={.spec.volumeName}"))
	dir := strings.TrimSpace(must(t, time.Minute, "kubectl", "get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}"))
	if dir == "" {
		t.Fatalf("PV %s has no hostPath", pv)
	}
	return filepath.Join(dir, "repo1", "archive", "db")
}

// segments lists the WAL segment names archived under an archive directory (archive/db/<id>/
// <timeline+log>/<segment>-<sha1>.<ext>), oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
	var out []string
	for _, f := range files {
		b := filepath.Base(f)
		if len(b) > 24 && b[24] == '-' {
			out = append(out, b[:24])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func newestSegment(t *testing.T, dir string) string {
	s := segments(t, dir)
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// segmentDistance is how many segments b is after a (same timeline, 16 MB segments).
func segmentDistance(a, b string) int {
	n := func(s string) int64 {
		if len(s) != 24 {
			return 0
		}
		log, _ := strconv.ParseInt(s[8:16], 16, 64)
		seg, _ := strconv.ParseInt(s[16:24], 16, 64)
		return log*256 + seg
	}
	if a == "" {
		return 1 << 20
	}
	return int(n(b) - n(a))
}
