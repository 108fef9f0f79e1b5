package certs

import (
	"crypto/x509"
	"fmt"
	"testing"
)

// side is what one end of a pgBackRest TLS connection holds: the CAs it trusts and its certificate.
type side struct {
	roots *x509.CertPool
	leaf  *x509.Certificate
}

func sideOf(t *testing.T, data map[string][]byte, leafKey string) side {
	t.Helper()
	cas, err := ParsePEM(data[KeyCACert])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	leaves, err := ParsePEM(data[leafKey])
	if err != nil {
		t.Fatal(err)
	}
	return side{roots: roots, leaf: leaves[0]}
}

// connects says whether a client holding files cli reaches a server that started with srv: each
// verifies the other's certificate with its own CAs.
func connects(t *testing.T, cli, srv map[string][]byte) error {
	c, s := sideOf(t, cli, KeyClientCert), sideOf(t, srv, KeyServerCert)
	if _, err := s.leaf.Verify(x509.VerifyOptions{Roots: c.roots, DNSName: "c1-backrest-shared-repo", CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("client rejects the server: %w", err)
	}
	if _, err := c.leaf.Verify(x509.VerifyOptions{Roots: s.roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("server rejects the client: %w", err)
	}
	return nil
}

// TestRotationNeverMismatches is the design of the rotation: while pods move from one state of the
// Secret to the next, some hold the old state and some the new, in any mix; each consecutive pair
// connects both ways. Skipping a state does not, which is why there are three.
func TestRotationNeverMismatches(t *testing.T) {
	names := []string{"c1", "c1-backrest-shared-repo"}
	old, err := Generate(names, ClientCN, now, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	next, err := Generate(names, ClientCN, now, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	s0 := old.SecretData()
	s1 := Trust(s0, next)
	s2, err := Issue(s1)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := Drop(s2)
	if err != nil {
		t.Fatal(err)
	}
	states := []map[string][]byte{s0, s1, s2, s3}
	for i := 0; i+1 < len(states); i++ {
		a, b := states[i], states[i+1]
		for _, pair := range [][2]map[string][]byte{{a, a}, {a, b}, {b, a}, {b, b}} {
			if err := connects(t, pair[0], pair[1]); err != nil {
				t.Errorf("states %d and %d: %v", i, i+1, err)
			}
		}
	}
	// The end state is the new bundle, and nothing of the old one is trusted.
	if string(s3[KeyCACert]) != string(next.CACert) || string(s3[KeyServerKey]) != string(next.ServerKey) {
		t.Error("the last state is not the new bundle")
	}
	if err := connects(t, s0, s3); err == nil {
		t.Error("the old certificates still connect after the rotation")
	}
	for _, skip := range [][2]int{{0, 2}, {1, 3}} {
		if connects(t, states[skip[0]], states[skip[1]]) == nil && connects(t, states[skip[1]], states[skip[0]]) == nil {
			t.Errorf("states %d and %d connect both ways: the state between them would not be needed", skip[0], skip[1])
		}
	}
	for k := range s2 {
		if len(k) > 5 && k[:5] == "next." {
			t.Errorf("PhaseIssue data keeps %s", k)
		}
	}
	if Fingerprint(s0) == Fingerprint(s1) || Fingerprint(s1) == Fingerprint(s2) || Fingerprint(s2) == Fingerprint(s3) {
		t.Error("two consecutive states have the same fingerprint: the pods would not roll")
	}
}

func TestPhase(t *testing.T) {
	for _, p := range []Phase{"", "bogus", PhaseDone} {
		if p.InProgress() {
			t.Errorf("%q is in progress", p)
		}
	}
	for _, p := range []Phase{PhaseTrust, PhaseIssue, PhaseDrop} {
		if !p.InProgress() {
			t.Errorf("%q is not in progress", p)
		}
	}
	if _, err := Issue(map[string][]byte{}); err == nil {
		t.Error("Issue without next.* keys: want an error")
	}
}
