package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"
)

var now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func parseCert(t *testing.T, name string, b []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("%s: not exactly one PEM CERTIFICATE block", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func parseKey(t *testing.T, name string, b []byte) *ecdsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: not a PEM PRIVATE KEY (PKCS#8) block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("%s: want an ECDSA P-256 key, got %T", name, k)
	}
	return ek
}

func TestGenerate(t *testing.T) {
	names := append(ServiceDNSNames("c1", "ns"), ServiceDNSNames("c1-backrest-shared-repo", "ns")...)
	b, err := Generate(names, ClientCN, now, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	ca := parseCert(t, "ca", b.CACert)
	server := parseCert(t, "server", b.ServerCert)
	client := parseCert(t, "client", b.ClientCert)
	parseKey(t, "server key", b.ServerKey)
	parseKey(t, "client key", b.ClientKey)

	if !ca.IsCA || ca.Subject.CommonName != "kubectl-pgbackrest CA c1" {
		t.Errorf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	if !slices.Equal(server.DNSNames, names) {
		t.Errorf("server SANs = %v, want %v", server.DNSNames, names)
	}
	if client.Subject.CommonName != "pgbackrest-client" {
		t.Errorf("client CN = %q", client.Subject.CommonName)
	}
	if server.IsCA || client.IsCA {
		t.Error("a leaf certificate is a CA")
	}
	if !server.NotBefore.Before(now) || !server.NotAfter.Equal(now.Add(DefaultValidity)) {
		t.Errorf("server validity %s .. %s", server.NotBefore, server.NotAfter)
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	verify := func(name string, c *x509.Certificate, dns string, usage x509.ExtKeyUsage) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: dns, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, n := range names {
		if err := verify("server", server, n, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("server cert as server for %s: %v", n, err)
		}
	}
	if err := verify("server", server, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("server cert as client: %v", err)
	}
	if err := verify("client", client, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("client cert as client: %v", err)
	}
	if err := verify("client", client, "", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("client cert verifies as a server certificate")
	}
	if err := verify("server", server, "other.ns", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("server cert verifies for a name it does not hold")
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(DefaultValidity + time.Hour)}); err == nil {
		t.Error("server cert verifies after it expired")
	}

	// The keys match their certificates.
	if _, err := tls.X509KeyPair(b.ServerCert, b.ServerKey); err != nil {
		t.Errorf("server pair: %v", err)
	}
	if _, err := tls.X509KeyPair(b.ClientCert, b.ClientKey); err != nil {
		t.Errorf("client pair: %v", err)
	}

	d := b.SecretData()
	for _, k := range []string{"ca.crt", "server.crt", "server.key", "client.crt", "client.key"} {
		if len(d[k]) == 0 {
			t.Errorf("SecretData()[%q] is empty", k)
		}
	}
	if len(d) != 5 {
		t.Errorf("SecretData has %d keys, want 5", len(d))
	}
}

func TestGenerateDiffersEachTime(t *testing.T) {
	a, err := Generate([]string{"x"}, ClientCN, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate([]string{"x"}, ClientCN, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.ServerKey) == string(b.ServerKey) || string(a.CACert) == string(b.CACert) {
		t.Error("two bundles share key material")
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name     string
		names    []string
		cn       string
		validity time.Duration
	}{
		{"no names", nil, ClientCN, time.Hour},
		{"no client CN", []string{"x"}, "", time.Hour},
		{"zero validity", []string{"x"}, ClientCN, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(tt.names, tt.cn, now, tt.validity); err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestServiceDNSNames(t *testing.T) {
	got := ServiceDNSNames("c1", "prod")
	want := []string{"c1", "c1.prod", "c1.prod.svc", "c1.prod.svc.cluster.local"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
