package create

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// A pgBackRest client that rejects its server's certificate ("unable to verify certificate
// presented by 'pg1:8432': [19] self-signed certificate in certificate chain") has reached a
// server whose CA is not the one in the cluster's TLS Secret: another cluster's pgBackRest server
// answering at that name (DNS, a Service or an address pointing elsewhere), or pods of one cluster
// holding different versions of the Secret. pgBackRest says neither which server answered nor
// where, so the plugin asks again at once, from the same pod, and reports what it sees.

// reCertVerify is pgBackRest's client error (2.45 src/common/io/tls/client.c, tlsClientAuth).
var reCertVerify = regexp.MustCompile(`unable to verify certificate presented by '([^']+)': \[(\d+)\] ([^\n]*)`)

// peerScript prints the address HOST resolves to in the pod, then the subject, issuer and names
// of the certificate HOST:PORT presents and whether the cluster's CA verifies it. $1 is the CA
// file, $2 HOST:PORT (last, as the fake executor of the tests keys on it).
const peerScript = `host=${2%:*}
echo "address: $(getent hosts "$host" | awk '{print $1; exit}')"
out=$(timeout 10 openssl s_client -connect "$2" -servername "$host" -CAfile "$1" </dev/null 2>&1)
printf '%s\n' "$out" | openssl x509 -noout -subject -issuer -ext subjectAltName 2>/dev/null
printf '%s\n' "$out" | grep -m1 -E 'Verify return code|connect:|errno' || true
`

// peerProbeTimeout bounds the second look: it only adds to an error already being reported.
const peerProbeTimeout = 20 * time.Second

// tlsPeer is what the second look saw.
type tlsPeer struct {
	Address, Subject, Issuer, Names, Verify string
}

func parseTLSPeer(out string) tlsPeer {
	var p tlsPeer
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "address:"):
			p.Address = strings.TrimSpace(strings.TrimPrefix(l, "address:"))
		case strings.HasPrefix(l, "subject="):
			p.Subject = strings.TrimPrefix(l, "subject=")
		case strings.HasPrefix(l, "issuer="):
			p.Issuer = strings.TrimPrefix(l, "issuer=")
		case strings.HasPrefix(l, "X509v3 Subject Alternative Name") && i+1 < len(lines):
			p.Names = strings.TrimSpace(lines[i+1])
		case strings.HasPrefix(l, "Verify return code:"):
			p.Verify = strings.TrimSpace(strings.TrimPrefix(l, "Verify return code:"))
		case strings.Contains(l, "connect:") || strings.Contains(l, "errno"):
			p.Verify = "no TLS session (" + l + ")"
		}
	}
	return p
}

// explainTLSPeer returns what to add to a pgBackRest error whose output shows a rejected server
// certificate, after asking again from the repository host; "" when the output shows none.
func (w *run) explainTLSPeer(ctx context.Context, output string) string {
	m := reCertVerify.FindStringSubmatch(output)
	if m == nil {
		return ""
	}
	addr, code, reason := m[1], m[2], m[3]
	n := w.names()
	var b strings.Builder
	fmt.Fprintf(&b, "the server that answered %s presented a certificate that cluster %s's CA (Secret %s) does not verify ([%s] %s): "+
		"it was not this cluster's pgBackRest server, or not with this cluster's current certificates.\n", addr, w.spec.Name, n.TLSSecret(), code, reason)
	ctx, cancel := context.WithTimeout(ctx, peerProbeTimeout)
	defer cancel()
	out, err := w.execRepo(ctx, []string{"sh", "-c", peerScript, "sh", path.Join(cluster.TLSDir, certs.KeyCACert), addr})
	p := parseTLSPeer(out)
	if err != nil && p.Subject == "" {
		why := err.Error()
		var exit *kube.ExitError
		if errors.As(err, &exit) {
			why = fmt.Sprintf("exit code %d; the image may lack openssl", exit.Code)
		}
		fmt.Fprintf(&b, "Asking %s again from the repository host failed (%s): nothing more is known", addr, why)
		return b.String()
	}
	host := addr[:max(strings.LastIndex(addr, ":"), 0)]
	fmt.Fprintf(&b, "Asked again at once from the repository host: %s resolves to %s; the server there presents subject %q issued by %q",
		host, orUnknown(p.Address), p.Subject, p.Issuer)
	if p.Names != "" {
		fmt.Fprintf(&b, " for %s", p.Names)
	}
	fmt.Fprintf(&b, "; the cluster's CA now says: %s.\n", orUnknown(p.Verify))
	if strings.HasPrefix(p.Verify, "0 ") {
		b.WriteString("It now answers as this cluster's own server, so the first connection reached another server for a moment " +
			"(an address or Service that pointed elsewhere)")
	} else {
		fmt.Fprintf(&b, "See what answers there with `kubectl -n %s get endpointslices -l kubernetes.io/service-name=%s -o wide`; "+
			"if Secret %s was changed by hand, give the pods a consistent set of certificates with `kubectl pgbackrest rotate-certs %s -n %s`",
			w.ns(), host, n.TLSSecret(), w.spec.Name, w.ns())
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
