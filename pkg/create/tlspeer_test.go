package create

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// stanzaCreate245CertRejected is what pgBackRest 2.45 printed when stanza-create reached a server
// whose certificate the cluster's CA did not sign (seen once on the local cluster).
const stanzaCreate245CertRejected = `2026-12-02 00:08:03.990 P00   INFO: stanza-create command begin 2.45: --exec-id=9-b3d505e4 --pg1-host=pg1 --pg1-host-ca-file=/etc/pgbackrest/tls/ca.crt --pg1-host-port=8432 --pg1-host-type=tls --stanza=db
WARN: unable to check pg1: [CryptoError] unable to verify certificate presented by 'pg1:8432': [19] self-signed certificate in certificate chain
2026-12-02 00:08:04.711 P00   INFO: stanza-create command end: aborted with exception [056]
ERROR: [056]: unable to find primary cluster - cannot proceed
       HINT: are all available clusters in recovery?
`

// peerOther is the second look's output when another cluster's server answers.
const peerOther = `address: 10.96.228.134
subject=CN = pg9
issuer=CN = kubectl-pgbackrest CA pg9
X509v3 Subject Alternative Name: 
    DNS:pg9, DNS:pg9.ns9, DNS:pg9.ns9.svc, DNS:pg9.ns9.svc.cluster.local
Verify return code: 19 (self-signed certificate in certificate chain)
`

// peerOwn is the second look's output when the cluster's own server answers again.
const peerOwn = `address: 10.96.228.134
subject=CN = pg1
issuer=CN = kubectl-pgbackrest CA pg1
X509v3 Subject Alternative Name: 
    DNS:pg1, DNS:pg1.ns1, DNS:pg1.ns1.svc, DNS:pg1.ns1.svc.cluster.local
Verify return code: 0 (ok)
`

func TestStanzaCreateRejectedCertificateSaysWhoAnswered(t *testing.T) {
	cases := []struct {
		name, peer string
		want       []string
	}{
		{"another server still answers", peerOther, []string{
			"the server that answered pg1:8432 presented a certificate that cluster pg1's CA (Secret pg1-pgbackrest-tls) does not verify ([19] self-signed certificate in certificate chain)",
			`pg1 resolves to 10.96.228.134; the server there presents subject "CN = pg9" issued by "CN = kubectl-pgbackrest CA pg9" for DNS:pg9, DNS:pg9.ns9`,
			"the cluster's CA now says: 19 (self-signed certificate in certificate chain)",
			"kubectl -n ns1 get endpointslices -l kubernetes.io/service-name=pg1 -o wide",
		}},
		{"own server answers again", peerOwn, []string{
			`presents subject "CN = pg1" issued by "CN = kubectl-pgbackrest CA pg1"`,
			"the cluster's CA now says: 0 (ok)",
			"the first connection reached another server for a moment",
		}},
		{"no openssl in the image", "", []string{
			"Asking pg1:8432 again from the repository host failed (exit code 127; the image may lack openssl)",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := &fakeExec{
				out: map[string]string{"stanza-create": stanzaCreate245CertRejected},
				err: map[string]error{"stanza-create": &kube.ExitError{Code: 56}},
			}
			if c.peer != "" {
				ex.out["pg1:8432"] = c.peer
			} else {
				ex.err["pg1:8432"] = &kube.ExitError{Code: 127}
			}
			_, err := Run(context.Background(), deps(newClient(t), ex, &reporter{}), config(pgbackrest.Local))
			if err == nil {
				t.Fatal("create succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "exit code 56") {
				t.Errorf("error lost pgBackRest's own report:\n%v", err)
			}
			want := []string{ns + "/pg1-backrest-shared-repo-pod/pgbackrest stanza-create", ns + "/pg1-backrest-shared-repo-pod/pgbackrest pg1:8432"}
			if !slices.Equal(ex.calls, want) {
				t.Errorf("exec calls = %q, want %q", ex.calls, want)
			}
		})
	}
}

func TestOtherPGBackRestErrorsAskNothingMore(t *testing.T) {
	ex := &fakeExec{
		out: map[string]string{"stanza-create": "P00  ERROR: [039]: unable to connect\n"},
		err: map[string]error{"stanza-create": &kube.ExitError{Code: 39}},
	}
	_, err := Run(context.Background(), deps(newClient(t), ex, &reporter{}), config(pgbackrest.Local))
	if err == nil || strings.Contains(err.Error(), "presented a certificate") {
		t.Fatalf("err = %v", err)
	}
	if len(ex.calls) != 1 {
		t.Errorf("exec calls = %q, want stanza-create only", ex.calls)
	}
}
