package cluster

import (
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// A spec.json edited to carry a line break in an S3 value is refused when it is read back: the
// next render would write it into pgbackrest.conf.
func TestParseRefusesInjectedS3Values(t *testing.T) {
	s := validSpec(pgbackrest.Local, pgbackrest.S3)
	s.S3.Region = "us-east-1\nrepo2-storage-verify-tls=n"
	js, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(js, "ns"); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("Parse: err = %v, want the region refused", err)
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("Validate: err = %v, want the region refused", err)
	}
}
