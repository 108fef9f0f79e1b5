// Package scripts checks the lab's shell scripts for what a reviewer would flag: credentials on a
// command line (every user of the machine sees argv in ps and /proc) and secrets written to files
// any user can read.
package scripts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretInArgv matches an option given a secret-looking variable: curl --user "$KEY:$SECRET",
// -u "$X", --password=$P, aws --secret-access-key "$S", and pgBackRest's --repo2-s3-key-secret.
var secretInArgv = regexp.MustCompile(`(?i)(--user|\s-u|--password|--pass|--secret[a-z-]*|--[a-z0-9-]*key-secret|--token)[ =]+["']?\$\{?[A-Z0-9_]*(KEY|SECRET|PASS|TOKEN)`)

// secretFile matches a redirect into a file named like a secret.
var secretFile = regexp.MustCompile(`>\s*"?\$\{?[A-Za-z0-9_{}/.-]*(creds|credentials|secret|password|token)`)

func TestNoSecretsInArgvOrReadableFiles(t *testing.T) {
	files := scripts(t)
	if len(files) < 5 {
		t.Fatalf("found only %d scripts: %q", len(files), files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code := strings.TrimSpace(line)
			if strings.HasPrefix(code, "#") {
				continue
			}
			if m := secretInArgv.FindString(code); m != "" {
				t.Errorf("%s:%d: a credential on a command line (%q): pass it in the environment or on stdin", f, i+1, m)
			}
			if secretFile.MatchString(code) && !strings.Contains(code, "umask 077") {
				t.Errorf("%s:%d: a secret written to a file without `umask 077` on the same line: %s", f, i+1, code)
			}
		}
	}
}

// The checks themselves catch what they are for.
func TestChecksCatch(t *testing.T) {
	for _, bad := range []string{
		`curl -sS --user "$S3_KEY:$S3_KEY_SECRET" https://x`,
		`curl -u "$AWS_SECRET" x`,
		`aws s3 ls --secret-access-key $AWS_SECRET_ACCESS_KEY`,
		`pgbackrest --repo2-s3-key-secret=$KEY_SECRET info`,
	} {
		if !secretInArgv.MatchString(bad) {
			t.Errorf("not caught: %s", bad)
		}
	}
	for _, bad := range []string{`printf '%s %s\n' "$a" "$b" >"$creds"`, `echo x >"$STATE/s3-credentials"`} {
		if !secretFile.MatchString(bad) {
			t.Errorf("not caught: %s", bad)
		}
	}
	for _, good := range []string{
		`ROOT_ACCESS_KEY=$S3_KEY ROOT_SECRET_KEY=$S3_KEY_SECRET start_daemon versitygw`,
		`printf 'user = "%s:%s"\n' "$S3_KEY" "$S3_KEY_SECRET" | curl -K - -sS`,
		`kubectl config set-context local --cluster=local --user="$user"`,
	} {
		if secretInArgv.MatchString(good) {
			t.Errorf("flagged: %s", good)
		}
	}
}

// scripts are the shell scripts of test/ and .ci/.
func scripts(t *testing.T) []string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, dir := range []string{"test", ".ci"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".sh") || strings.HasSuffix(p, ".mk") || filepath.Base(p) == "run" {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
