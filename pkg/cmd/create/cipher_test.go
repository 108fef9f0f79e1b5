package create

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

func TestValidateCipher(t *testing.T) {
	for _, tc := range []struct {
		name    string
		encrypt bool
		cipher  string
		want    string // the parsed cipher
		err     string
	}{
		{"default", false, "", "", ""},
		{"none", false, "none", "", ""},
		{"encrypt", true, "", "aes-256-cbc", ""},
		{"cipher", false, "aes-256-cbc", "aes-256-cbc", ""},
		{"both agree", true, "aes-256-cbc", "aes-256-cbc", ""},
		{"unknown cipher", false, "aes", "", `invalid --cipher "aes": use aes-256-cbc (or --encrypt) or none`},
		{"contradiction", true, "none", "", "--encrypt and --cipher=none contradict each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			o.Encrypt, o.Cipher = tc.encrypt, tc.cipher
			err := o.Validate()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || o.cipher != tc.want || o.config().Cipher != tc.want {
				t.Fatalf("err = %v, cipher %q, want %q", err, o.cipher, tc.want)
			}
		})
	}
}

// A dry run of an encrypted cluster prints the cipher Secret beside the TLS Secret, its value
// redacted or a placeholder like every dry-run Secret value.
func TestClientDryRunEncrypted(t *testing.T) {
	for _, show := range []bool{false, true} {
		o, stdout, _ := dryRunOptions(t, "local", "yaml")
		o.Encrypt, o.ShowSecrets = true, show
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		docs := strings.Split(out, "---\n")
		if len(docs) < 3 || !strings.Contains(docs[2], "name: pg1-pgbackrest-cipher") {
			t.Fatalf("the cipher Secret is not the third object:\n%s", out)
		}
		want := "cipher-pass: REDACTED (64 bytes"
		if show {
			want = "cipher-pass: PLACEHOLDER ("
		}
		if !strings.Contains(docs[2], want) || strings.Contains(docs[2], "\ndata:") {
			t.Errorf("show-secrets %v: cipher Secret is not %q:\n%s", show, want, docs[2])
		}
		if !strings.Contains(docs[0], "repo1-cipher-type=aes-256-cbc") || !strings.Contains(out, "PGBACKREST_REPO1_CIPHER_PASS") {
			t.Errorf("the dry run's objects lack the cipher:\n%s", out)
		}
	}
}

func TestNoteCipher(t *testing.T) {
	spec := cluster.New("pg1", "ns1")
	streams, _, _, stderr := genericiooptions.NewTestIOStreams()
	o := NewOptions(streams)
	o.noteCipher(spec)
	if stderr.Len() != 0 {
		t.Errorf("a note for an unencrypted cluster: %s", stderr)
	}
	spec.Cipher = "aes-256-cbc"
	for _, colored := range []bool{false, true} {
		stderr.Reset()
		o.Color = output.NewColor(colored)
		o.noteCipher(spec)
		for _, want := range []string{
			"Secret ns1/pg1-pgbackrest-cipher",
			"losing the Secret",
			"kubectl get secret pg1-pgbackrest-cipher -n ns1 -o jsonpath='{.data.cipher-pass}' | base64 -d",
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("note lacks %q:\n%s", want, stderr)
			}
		}
		if yellow := bytes.Contains(stderr.Bytes(), []byte("\x1b[33m")); yellow != colored {
			t.Errorf("color %v: yellow %v", colored, yellow)
		}
	}
}
