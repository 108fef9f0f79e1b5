//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEncryptedRepositories creates a local,s3 cluster with --encrypt and proves what a user
// relies on: create says, loudly, where the passphrase is and how to export it (and the command it
// prints works); the passphrase is in no ConfigMap and not in `kubectl describe`; every object the
// S3 server holds for the cluster is pgBackRest ciphertext ("Salted__", no table data), and so is
// the local repository; info says encrypted; a point-in-time restore from s3 brings back exactly
// the rows before the target; and a re-run of create without --encrypt is refused.
func TestEncryptedRepositories(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "encrypt")
	c := clusterName(ns)
	s3Configure(t, ns)
	removeS3Repo(t, c)
	start := time.Now()
	created := ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local,s3"), "--encrypt")...)
	t.Logf("create --encrypt took %.1fs", time.Since(start).Seconds())

	// The note, and the export command it gives.
	if !strings.Contains(created.Stderr, "losing the Secret") || !strings.Contains(created.Stderr, c+"-pgbackrest-cipher") {
		t.Errorf("create printed no note on the passphrase:\n%s", created.Stderr)
	}
	var export string
	for l := range strings.SplitSeq(created.Stderr, "\n") {
		if strings.Contains(l, "kubectl get secret") {
			export = strings.TrimSpace(l)
		}
	}
	if export == "" {
		t.Fatalf("create printed no export command:\n%s", created.Stderr)
	}
	pass := must(t, time.Minute, "sh", "-c", export)
	if len(pass) < 64 || strings.ContainsAny(pass, " \n") {
		t.Fatalf("the export command printed %d characters, want the 64-character passphrase", len(pass))
	}
	for _, what := range [][]string{
		{"get", "configmaps", "-o", "yaml"},
		{"describe", "pods"},
		{"get", "pods", "-o", "yaml"},
	} {
		if out := ns.kubectl(time.Minute, what...); strings.Contains(out, pass) {
			t.Errorf("kubectl %s shows the passphrase", strings.Join(what, " "))
		}
	}
	// The passphrase and the S3 key pair are in the repository host alone: the primary reaches both
	// repositories through it, whose remote encrypts and decrypts.
	for _, container := range []string{"postgres", "pgbackrest"} {
		out := ns.kubectl(time.Minute, "exec", "deploy/"+c, "-c", container, "--", "env")
		if !strings.Contains(out, "PATH=") {
			t.Fatalf("env of the primary's %s container read nothing", container)
		}
		if strings.Contains(out, pass) || strings.Contains(out, "CIPHER_PASS") || strings.Contains(out, env(t, "PGBR_S3_KEY_SECRET")) {
			t.Errorf("the primary's %s container has the passphrase or the S3 secret key in its environment", container)
		}
	}

	// Data with a marker that would be readable in an unencrypted repository, a full backup to
	// s3, then a target time between two batches.
	const marker = "ENCRYPTION-MARKER-7f3a9c"
	count := func() int {
		t.Helper()
		n, err := strconv.Atoi(ns.sql(c, "select count(*) from t where note = '"+marker+"'"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	insert := func(rows int) {
		ns.sql(c, "insert into t (note) select '"+marker+"' from generate_series(1, "+strconv.Itoa(rows)+")")
	}
	ns.sql(c, "create table t (id serial primary key, note text)")
	insert(100)
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage=s3", "--type=full")
	insert(100)
	time.Sleep(1100 * time.Millisecond)
	ts := ns.sql(c, "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	time.Sleep(1100 * time.Millisecond)
	insert(100)
	ns.sql(c, "select pg_switch_wal()")

	// info says so, in both forms.
	var info struct {
		Repositories []struct {
			Storage   string `json:"storage"`
			Encrypted bool   `json:"encrypted"`
			Cipher    string `json:"cipher"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal([]byte(ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Repositories) != 2 {
		t.Fatalf("info: %d repositories, want 2", len(info.Repositories))
	}
	for _, r := range info.Repositories {
		if !r.Encrypted || r.Cipher != "aes-256-cbc" {
			t.Errorf("info: repository %s encrypted=%v cipher=%q", r.Storage, r.Encrypted, r.Cipher)
		}
	}
	if table := ns.mustPlugin(2*time.Minute, "info", c).Stdout; strings.Count(table, "encrypted (aes-256-cbc)") != 2 {
		t.Errorf("info does not say each repository is encrypted:\n%s", table)
	}

	// The bytes the S3 server keeps: archive.info, WAL segments, the backup's manifest and files.
	checkCiphertext(t, s3RepoDir(t, c), marker)
	// The local repository, on the repository host's volume.
	head := ns.kubectl(time.Minute, "exec", "deploy/"+c+"-backrest-shared-repo", "-c", "pgbackrest", "--",
		"head", "-c", "8", "/pgbackrest/repo1/archive/db/archive.info")
	if head != "Salted__" {
		t.Errorf("local repository: archive.info starts with %q, want Salted__", head)
	}

	// A point-in-time restore from the encrypted s3 repository.
	start = time.Now()
	r := ns.mustPlugin(15*time.Minute, "restore", c, "--storage=s3", "--target-time="+ts, "--yes", "--timeout=8m")
	t.Logf("restore took %.1fs\nstdout: %sstderr:\n%s", time.Since(start).Seconds(), r.Stdout, r.Stderr)
	if n := count(); n != 200 {
		t.Fatalf("after restoring to %s: %d rows, want 200", ts, n)
	}

	// The cipher is fixed: the same create without --encrypt is refused, naming the flag.
	again := ns.plugin(2*time.Minute, createArgs(t, c, "local,s3")...)
	if again.Code != 2 || !strings.Contains(again.Stderr, "keep --cipher=aes-256-cbc") {
		t.Errorf("create without --encrypt on an encrypted cluster: exit %d, want 2\n%s", again.Code, again.Stderr)
	}
}

// checkCiphertext fails unless every file of the repository in dir (WAL, backup files, info
// files and manifests) is aes-256-cbc as pgBackRest writes it (OpenSSL's "Salted__" header), and
// none holds marker; it needs at least one WAL segment and one backup file.
func checkCiphertext(t *testing.T, dir, marker string) {
	t.Helper()
	var files, wal, backup int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files++
		if !bytes.HasPrefix(b, []byte("Salted__")) {
			t.Errorf("%s is not encrypted: starts with %q", rel, b[:min(len(b), 16)])
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the marker in plain text", rel)
		}
		switch {
		case strings.HasPrefix(rel, "archive/") && len(filepath.Base(rel)) > 24 && !strings.Contains(rel, ".info"):
			wal++
		case strings.HasPrefix(rel, "backup/") && strings.Contains(rel, "/pg_data/"):
			backup++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the S3 server's files in %s: %v", dir, err)
	}
	if wal == 0 || backup == 0 {
		t.Fatalf("%s: %d files, %d WAL segments and %d backup files; want some of each", dir, files, wal, backup)
	}
	t.Logf("%s: %d files, all encrypted (%d WAL segments, %d backup files)", dir, files, wal, backup)
}

// TestEncryptedPassphraseBroughtBack is the disaster the note at create is about: the cluster and
// its passphrase Secret are gone, the S3 repository is not. With the passphrase the user exported
// put back as the Secret, create finds the old database's repository, restore brings its data back
// (decrypting backup and WAL), and the re-run of create finishes.
func TestEncryptedPassphraseBroughtBack(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "encrypt-back")
	c := clusterName(ns)
	s3Configure(t, ns)
	removeS3Repo(t, c)
	created := ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "s3"), "--encrypt")...)
	var export string
	for l := range strings.SplitSeq(created.Stderr, "\n") {
		if strings.Contains(l, "kubectl get secret") {
			export = strings.TrimSpace(l)
		}
	}
	pass := must(t, time.Minute, "sh", "-c", export)
	ns.sql(c, "create table t (id serial primary key)")
	ns.sql(c, "insert into t select from generate_series(1, 150)")
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage=s3", "--type=full")

	// Lost: the cluster with its volumes, and the passphrase Secret (delete keeps it: remove it by
	// hand, as a lost namespace would).
	ns.mustPlugin(5*time.Minute, "delete", c, "--delete-data", "--yes")
	ns.kubectl(time.Minute, "get", "secret", c+"-pgbackrest-cipher")
	ns.kubectl(time.Minute, "delete", "secret", c+"-pgbackrest-cipher")

	// Brought back from the exported value.
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte(pass), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.kubectl(time.Minute, "create", "secret", "generic", c+"-pgbackrest-cipher", "--from-file=cipher-pass="+file)
	r := ns.plugin(10*time.Minute, append(createArgs(t, c, "s3"), "--encrypt")...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "restore "+c+" --storage=s3 --force") {
		t.Fatalf("create over the old repository: exit %d, want the mismatch error\n%s", r.Code, r.Stderr)
	}
	r = ns.mustPlugin(15*time.Minute, "restore", c, "--storage=s3", "--force", "--yes", "--timeout=8m")
	t.Logf("restore: %s%s", r.Stdout, r.Stderr)
	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "s3"), "--encrypt")...)
	if n := ns.sql(c, "select count(*) from t"); n != "150" {
		t.Fatalf("after bringing the passphrase back and restoring: %s rows, want 150", n)
	}
	if got := must(t, time.Minute, "sh", "-c", export); got != pass {
		t.Error("the passphrase Secret was replaced")
	}
}
