package create

import (
	"context"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
)

// hostileS3Values are values a hand-written (or tampered) S3 Secret may carry, each of which
// would add a pgBackRest option, break the config, or point pgBackRest somewhere unintended.
var hostileS3Values = []struct{ key, value string }{
	{"region", "us-east-1\nrepo2-storage-verify-tls=n"},
	{"region", "us-east-1\r\nrepo2-s3-key=x"},
	{"region", "us-east-1\x00"},
	{"region", "us-east-1 repo2-path=/"},
	{"region", "us-east-1=x"},
	{"region", "us-east-1#x"},
	{"region", "US-EAST-1"},
	{"region", "us-east-1\u2028x=y"},
	{"region", "[global]"},
	{"region", "us'east"},
	{"region", "us-east-1\trepo2"},
	{"endpoint", "s3.example\nrecovery-option=restore_command=sh -c id"},
	{"endpoint", "s3.example\rrepo2-path=/"}, // (a trailing line break alone is trimmed, harmlessly)
	{"endpoint", "s3.example#x"},
	{"endpoint", "a=b"},
	{"endpoint", "[s3.example]:443"},
	{"endpoint", "s3.example:0"},
	{"endpoint", "s3.example:99999"},
	{"endpoint", "s3.example:"},
	{"endpoint", "s3_x.example"},
	{"endpoint", "fd00::1"},
	{"endpoint", "[fd00::1"},
	{"endpoint", "s3.example\x1b[2J"},
	{"endpoint", "https://s3.example"},
	{"endpoint", "s3.example/bucket"},
	{"endpoint", "s3 example"},
	{"endpoint", "user@s3.example"},
	{"endpoint", "-s3.example"},
	{"endpoint", ""},
	{"bucket", "backups\nrepo2-storage-verify-tls=n"},
	{"bucket", "backups=x"},
	{"bucket", "back#ups"},
	{"bucket", "Backups"},
	{"bucket", "backups/../other"},
	{"bucket", "backups\x00"},
	{"bucket", "[backups]"},
	{"uri-style", "path\nrepo2-storage-verify-tls=n"},
	{"verify-tls", "false\nx=y"},
}

// Every hostile value is refused at create, with exit 2, before anything in the cluster changes.
func TestHostileS3SecretRefusedBeforeAnyWrite(t *testing.T) {
	if len(hostileS3Values) < 30 {
		t.Fatalf("only %d hostile values", len(hostileS3Values))
	}
	for _, h := range hostileS3Values {
		sec := s3Secret()
		sec.Data[h.key] = []byte(h.value)
		cs := newClient(t, sec)
		_, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local, pgbackrest.S3))
		if err == nil || exitcode.For(err) != exitcode.UsageError {
			t.Errorf("%s=%q: err = %v (exit %d), want a refusal with exit 2", h.key, h.value, err, exitcode.For(err))
		}
		if w := writes(cs); len(w) > 0 {
			t.Errorf("%s=%q: wrote %q before refusing", h.key, h.value, w)
		}
	}
}

// The same values given to `s3 configure` are refused by its validation, before any write.
func TestHostileS3SettingsRefused(t *testing.T) {
	for _, h := range hostileS3Values {
		s := s3settings.Defaults()
		s.Bucket, s.Endpoint, s.Region, s.Key, s.KeySecret = "backups", "s3.example.svc:9443", "us-east-1", "k", "s"
		switch h.key {
		case "bucket":
			s.Bucket = h.value
		case "endpoint":
			s.Endpoint = h.value
		case "region":
			s.Region = h.value
		case "uri-style":
			s.URIStyle = h.value
		default:
			continue // a flag of type bool: the shell cannot pass it a line break
		}
		if err := s.Validate(); err == nil {
			t.Errorf("%s=%q accepted", h.key, h.value)
		}
	}
}
