package cluster

import (
	"strings"
	"testing"
)

// The cipher is read back from a ConfigMap anyone with edit rights can change; it reaches
// pgbackrest.conf, so only a known cipher is accepted.
func TestSpecCipher(t *testing.T) {
	for _, c := range []string{"aes-128-cbc", "aes-256-cbc\nrepo2-storage-verify-tls=n"} {
		if _, err := Parse(`{"name":"pg1","storage":["local"],"cipher":`+quote(c)+`}`, "ns"); err == nil || !strings.Contains(err.Error(), "cipher") {
			t.Errorf("Parse accepted cipher %q: %v", c, err)
		}
	}
	s, err := Parse(`{"name":"pg1","storage":["local"],"cipher":"aes-256-cbc"}`, "ns")
	if err != nil || !s.Encrypted() || s.ConfigParams().Cipher != "aes-256-cbc" {
		t.Fatalf("Parse: %v, %+v", err, s)
	}
	s.Cipher = "bogus"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `cipher "bogus"`) {
		t.Errorf("Validate: %v", err)
	}
	if got := CipherCommand("ns1", "pg1"); got != "kubectl get secret pg1-pgbackrest-cipher -n ns1 -o jsonpath='{.data.cipher-pass}' | base64 -d" {
		t.Errorf("CipherCommand = %s", got)
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }
