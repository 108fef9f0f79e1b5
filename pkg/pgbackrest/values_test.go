package pgbackrest

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckS3Values(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"region", CheckS3Region("us-east-1"), true},
		{"region with a line break", CheckS3Region("us-east-1\nrepo2-storage-verify-tls=n"), false},
		{"region with =", CheckS3Region("a=b"), false},
		{"region uppercase", CheckS3Region("US-EAST-1"), false},
		{"endpoint name", CheckS3Endpoint("s3.eu-west-1.amazonaws.com"), true},
		{"endpoint name and port", CheckS3Endpoint("minio.minio.svc:9000"), true},
		{"endpoint IPv4", CheckS3Endpoint("10.0.0.1:9000"), true},
		{"endpoint IPv6 with port", CheckS3Endpoint("[fd00::1]:9000"), true},
		{"endpoint IPv6 bare in brackets", CheckS3Endpoint("[fd00::1]"), true},
		{"endpoint IPv6 without brackets", CheckS3Endpoint("fd00::1"), false},
		{"endpoint with a line break", CheckS3Endpoint("s3.example\nrecovery-option=restore_command=sh"), false},
		{"endpoint with #", CheckS3Endpoint("s3.example#x"), false},
		{"endpoint with =", CheckS3Endpoint("a=b"), false},
		{"endpoint brackets around a name", CheckS3Endpoint("[s3.example]:443"), false},
		{"endpoint bad port", CheckS3Endpoint("s3.example:0"), false},
		{"endpoint underscore", CheckS3Endpoint("s3_x.example"), false},
		{"bucket", CheckS3Bucket("backups"), true},
		{"bucket with a line break", CheckS3Bucket("backups\nx=y"), false},
	} {
		if (tc.err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, tc.err, tc.ok)
		}
	}
}

// The writer itself refuses a value that would end its line, whatever checked it before: no path
// can add an option to pgbackrest.conf.
func TestConfigWriterRefusesLineBreaks(t *testing.T) {
	p := DefaultConfigParams()
	p.Storages = []Storage{S3}
	p.RepoHost, p.PGHost, p.PGPath, p.TLSDir = "repo", "pg", "/pgdata/pg15", "/tls"
	p.S3 = S3Settings{Bucket: "bkt", Endpoint: "s3.example", Region: "us-east-1\nrepo2-storage-verify-tls=n", Path: "/p", VerifyTLS: true}
	// The region is in the repository host's files only (the primary's reach S3 through it); the
	// repository path is in all of them.
	badPath := p
	badPath.S3.Region, badPath.S3.Path = "us-east-1", "/p\nrepo2-storage-verify-tls=n"
	for _, tc := range []struct {
		name, option string
		render       func() (string, error)
	}{
		{"repo", "repo2-s3-region", func() (string, error) { return RenderRepoConfig(p) }},
		{"check", "repo2-s3-region", func() (string, error) { return RenderCheckConfig(p, S3) }},
		{"db", "repo2-path", func() (string, error) { return RenderDBConfig(badPath) }},
		{"archive", "repo2-path", func() (string, error) { return RenderArchiveConfig(badPath, S3) }},
		{"repo path", "repo2-path", func() (string, error) { return RenderRepoConfig(badPath) }},
	} {
		conf, err := tc.render()
		if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.option) {
			t.Errorf("%s: err = %v, want %s refused", tc.name, err, tc.option)
		}
		if conf != "" {
			t.Errorf("%s: rendered %q despite the refusal", tc.name, conf)
		}
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("Validate: %v, want the region refused", err)
	}
}

// --options cannot set the recovery settings the restore owns, nor break out of their quotes.
func TestRecoveryOptionsThePluginOwns(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want string
	}{
		{"--recovery-option=restore_command=sh -c x", "restore_command is set by the plugin"},
		{"--recovery-option=recovery_target_time=2026-01-01", "recovery_target_time is set by the plugin"},
		{"--recovery-option=recovery_target=immediate", "recovery_target is set by the plugin"},
		{"--recovery-option=archive_cleanup_command=rm", "archive_cleanup_command is set by the plugin"},
		{"--recovery-option=recovery_end_command=x", "recovery_end_command is set by the plugin"},
		{`--recovery-option="primary_conninfo=host=x' restore_command='sh"`, "single quote"},
		{"--recovery-option='work_mem=4MB\n'", "control character"},
	} {
		_, err := ParseOptions(Restore, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := ParseOptions(Restore, "--recovery-option=work_mem=4MB"); err != nil {
		t.Errorf("an ordinary recovery option refused: %v", err)
	}
}

func TestTargetNameWithQuoteRefused(t *testing.T) {
	err := Target{Type: TargetName, Value: "before'x", Action: ActionPromote}.Validate()
	if err == nil || !strings.Contains(err.Error(), "single quote") {
		t.Fatalf("err = %v, want the quote refused", err)
	}
}
