package pgbackrest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakePGBackRest is a `pgbackrest` for the archive scripts: archive-push copies the file into
// $FAKE/repo-<storage>/, archive-get copies it back (exit 1 when absent, as pgBackRest does), and
// $FAKE/<storage> says how the repository behaves: "ok", "fail" or "hang".
const fakePGBackRest = `#!/bin/sh
for a; do case $a in --config=*) conf=${a#--config=} ;; esac; done
s=$(basename "$conf" .conf); s=${s#archive-}
mode=$(cat "$FAKE/$s" 2>/dev/null || echo ok)
case $mode in fail) echo "ERROR: [049]: $s unreachable" >&2; exit 49 ;; hang) sleep 30 ;; esac
mkdir -p "$FAKE/repo-$s"
for verb; do :; done
case "$*" in
  *archive-push*) eval "f=\${$#}"; cp "$f" "$FAKE/repo-$s/"; echo "$s $(basename "$f")" >>"$FAKE/pushes" ;;
  *archive-get*) shift $(($# - 2)); [ -f "$FAKE/repo-$s/$1" ] || exit 1; cp "$FAKE/repo-$s/$1" "$2" ;;
esac
`

type archiveRig struct {
	t                         *testing.T
	fake, conf, state, pgdata string
	params                    ArchiveParams
}

func newArchiveRig(t *testing.T, storages []Storage, backlogMB int64) *archiveRig {
	t.Helper()
	for _, tool := range []string{"sh", "flock", "timeout", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the archive scripts need it", tool)
		}
	}
	dir := t.TempDir()
	r := &archiveRig{t: t, fake: filepath.Join(dir, "fake"), conf: filepath.Join(dir, "conf"),
		state: filepath.Join(dir, "state"), pgdata: filepath.Join(dir, "pgdata")}
	for _, d := range []string{r.fake, r.conf, filepath.Join(r.pgdata, "pg_wal", "archive_status"), filepath.Join(dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.params = ArchiveParams{Stanza: "db", Storages: storages, BacklogMB: backlogMB, ConfigDir: r.conf,
		StateDir: r.state, MustTimeout: 2, PushTimeout: 1}
	write(t, filepath.Join(dir, "bin", "pgbackrest"), fakePGBackRest, 0o755)
	write(t, filepath.Join(r.conf, ArchivePushScript), RenderArchivePushScript(r.params), 0o444)
	write(t, filepath.Join(r.conf, ArchiveBackfillScript), RenderArchiveBackfillScript(r.params), 0o444)
	t.Setenv("PATH", filepath.Join(dir, "bin")+":"+os.Getenv("PATH"))
	t.Setenv("FAKE", r.fake)
	return r
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func (r *archiveRig) mode(s Storage, mode string) {
	write(r.t, filepath.Join(r.fake, string(s)), mode, 0o644)
}

// archive runs archive_command for a new segment seg, as PostgreSQL does (from PGDATA, with a
// .ready file for it and for ready more segments waiting).
func (r *archiveRig) archive(seg string, ready int) (int, time.Duration, string) {
	r.t.Helper()
	write(r.t, filepath.Join(r.pgdata, "pg_wal", seg), "wal "+seg, 0o600)
	status := filepath.Join(r.pgdata, "pg_wal", "archive_status")
	entries, _ := os.ReadDir(status)
	for _, e := range entries {
		_ = os.Remove(filepath.Join(status, e.Name()))
	}
	for i := range ready {
		write(r.t, filepath.Join(status, seg+strings.Repeat("x", i)+".ready"), "", 0o600)
	}
	cmd := strings.ReplaceAll(strings.ReplaceAll(ArchiveCommand(r.conf), "%p", "pg_wal/"+seg), "%f", seg)
	c := exec.Command("sh", "-c", cmd)
	c.Dir = r.pgdata
	start := time.Now()
	out, err := c.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return code, time.Since(start), string(out)
}

func (r *archiveRig) repo(s Storage) []string {
	entries, _ := os.ReadDir(filepath.Join(r.fake, "repo-"+string(s)))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func (r *archiveRig) status() []ArchiveGap {
	r.t.Helper()
	out, err := exec.Command("sh", filepath.Join(r.conf, ArchiveBackfillScript), "--status").CombinedOutput()
	if err != nil {
		r.t.Fatalf("--status: %v: %s", err, out)
	}
	return ParseArchiveStatus(string(out))
}

func (r *archiveRig) backfill(s Storage) string {
	r.t.Helper()
	out, _ := exec.Command("sh", filepath.Join(r.conf, ArchiveBackfillScript), string(s), "10").CombinedOutput()
	return string(out)
}

// eventually polls cond for up to 10 s: the archive path's backfill runs in the background.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within 10 s: %s", what)
}

const (
	seg1 = "000000010000000000000001"
	seg2 = "000000010000000000000002"
	seg3 = "000000010000000000000003"
)

func TestArchiveBothHealthy(t *testing.T) {
	r := newArchiveRig(t, []Storage{Local, S3}, 256)
	if code, _, out := r.archive(seg1, 1); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if !slices.Equal(r.repo(Local), []string{seg1}) || !slices.Equal(r.repo(S3), []string{seg1}) {
		t.Fatalf("local %v, s3 %v", r.repo(Local), r.repo(S3))
	}
	if g := r.status(); len(g) != 0 {
		t.Fatalf("gaps %+v", g)
	}
}

// A hung or refusing second repository never fails or holds archiving for long; its segments are
// recorded and, once it is back, copied from the first in order.
func TestArchiveSecondRepositoryOutage(t *testing.T) {
	for _, mode := range []string{"fail", "hang"} {
		t.Run(mode, func(t *testing.T) {
			r := newArchiveRig(t, []Storage{Local, S3}, 256)
			r.mode(S3, mode)
			code, took, out := r.archive(seg1, 1)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			if took > 4*time.Second {
				t.Errorf("archive_command took %s with s3 %s; the bound is %ds", took, mode, r.params.PushTimeout)
			}
			// In gap mode the next segment costs no push to s3 at all.
			code, took, out = r.archive(seg2, 1)
			if code != 0 || took > 2*time.Second {
				t.Fatalf("second segment: exit %d after %s: %s", code, took, out)
			}
			if !slices.Equal(r.repo(Local), []string{seg1, seg2}) || len(r.repo(S3)) != 0 {
				t.Fatalf("local %v, s3 %v", r.repo(Local), r.repo(S3))
			}
			g := r.status()
			if len(g) != 1 || g[0].Storage != S3 || g[0].Lost || g[0].Segments != 2 || g[0].First != seg1 || g[0].Last != seg2 || g[0].Since == 0 {
				t.Fatalf("status %+v", g)
			}
			// S3 returns: the next segment joins the gap and the backfill copies all three in order.
			r.mode(S3, "ok")
			if code, _, out := r.archive(seg3, 1); code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			eventually(t, "s3 has every segment and no gap", func() bool {
				return slices.Equal(r.repo(S3), []string{seg1, seg2, seg3}) && len(r.status()) == 0
			})
			pushes, _ := os.ReadFile(filepath.Join(r.fake, "pushes"))
			var s3Order []string
			for _, l := range strings.Split(strings.TrimSpace(string(pushes)), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "s3" {
					s3Order = append(s3Order, f[1])
				}
			}
			if !slices.Equal(s3Order, []string{seg1, seg2, seg3}) {
				t.Errorf("s3 received %v, want them in order", s3Order)
			}
		})
	}
}

// The first repository failing keeps the segment (exit 1) until the backlog passes the bound;
// past it the segment is given up for it, still reaches the other repository, and is copied back.
func TestArchiveFirstRepositoryBound(t *testing.T) {
	r := newArchiveRig(t, []Storage{Local, S3}, 64) // 4 segments of 16 MB
	r.mode(Local, "fail")
	if code, _, out := r.archive(seg1, 3); code != 1 || !strings.Contains(out, "PostgreSQL keeps it") {
		t.Fatalf("under the bound: exit %d: %s", code, out)
	}
	if len(r.repo(S3)) != 0 || len(r.status()) != 0 {
		t.Fatalf("under the bound nothing is pushed or recorded: s3 %v, status %+v", r.repo(S3), r.status())
	}
	code, _, out := r.archive(seg1, 4)
	if code != 0 || !strings.Contains(out, "past the bound") {
		t.Fatalf("past the bound: exit %d: %s", code, out)
	}
	if !slices.Equal(r.repo(S3), []string{seg1}) {
		t.Fatalf("s3 %v", r.repo(S3))
	}
	if g := r.status(); len(g) != 1 || g[0].Storage != Local || g[0].Lost || g[0].First != seg1 {
		t.Fatalf("status %+v", g)
	}
	r.mode(Local, "ok")
	r.backfill(Local)
	if !slices.Equal(r.repo(Local), []string{seg1}) || len(r.status()) != 0 {
		t.Fatalf("after backfill: local %v, status %+v", r.repo(Local), r.status())
	}
}

// With one repository there is nothing to copy from: past the bound a segment is lost, and said so.
func TestArchiveSingleRepositoryLost(t *testing.T) {
	r := newArchiveRig(t, []Storage{S3}, 32)
	r.mode(S3, "hang")
	code, took, out := r.archive(seg1, 1)
	if code != 1 {
		t.Fatalf("under the bound: exit %d: %s", code, out)
	}
	if took > 10*time.Second {
		t.Errorf("a hung push took %s; bounded by %ds", took, r.params.MustTimeout)
	}
	if code, _, out := r.archive(seg2, 2); code != 0 {
		t.Fatalf("past the bound: exit %d: %s", code, out)
	}
	g := r.status()
	if len(g) != 1 || !g[0].Lost || g[0].Storage != S3 || g[0].First != seg2 {
		t.Fatalf("status %+v", g)
	}
}

// A backup history file is archived but never recorded in a gap: recovery never needs it.
func TestArchiveBackupFileNotRecorded(t *testing.T) {
	r := newArchiveRig(t, []Storage{Local, S3}, 256)
	r.mode(S3, "fail")
	if code, _, out := r.archive(seg1+".00000028.backup", 1); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if g := r.status(); len(g) != 0 {
		t.Fatalf("status %+v", g)
	}
}

func TestParseArchiveStatus(t *testing.T) {
	out := "gap s3 3 1700000000 " + seg1 + " " + seg3 + "\nlog s3 archive-backfill.sh: pushing x to s3 failed\n" +
		"lost local 1 1700000100 " + seg2 + " " + seg2 + "\ngarbage\ngap s3 x 1 a b\n"
	got := ParseArchiveStatus(out)
	want := []ArchiveGap{
		{Storage: Local, Lost: true, Segments: 1, Since: 1700000100, First: seg2, Last: seg2},
		{Storage: S3, Segments: 3, Since: 1700000000, First: seg1, Last: seg3, LastLog: "archive-backfill.sh: pushing x to s3 failed"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestRenderArchiveConfigsNameOneRepository(t *testing.T) {
	p := DefaultConfigParams()
	p.Storages = []Storage{Local, S3}
	p.RepoHost, p.PGHost, p.PGPath = "repo", "pg", "/pgdata/pg17"
	p.S3 = S3Settings{Bucket: "bkt", Endpoint: "s3:9000", Region: "r", Path: "/p"}
	for _, tc := range []struct {
		s                         Storage
		archive, check, elsewhere string
	}{{Local, "repo1-host=repo", "repo1-path=", "repo2-"}, {S3, "repo2-host=repo", "repo2-type=s3", "repo1-"}} {
		for name, conf := range map[string]string{"archive": must(t)(RenderArchiveConfig(p, tc.s)), "check": must(t)(RenderCheckConfig(p, tc.s))} {
			has := map[string]string{"archive": tc.archive, "check": tc.check}[name]
			if !strings.Contains(conf, has) || strings.Contains(conf, tc.elsewhere) {
				t.Errorf("%s config of %s:\n%s", name, tc.s, conf)
			}
			if strings.Contains(conf, "tls-server-") {
				t.Errorf("%s config of %s has a TLS server section", name, tc.s)
			}
		}
	}
}
