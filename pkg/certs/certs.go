// Package certs makes the TLS material of a cluster's pgBackRest servers: a CA, one server
// certificate for both Services (the primary and the repository host) and one client certificate.
// Standard library only.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ClientCN is the common name of the client certificate. Each side's pgbackrest.conf authorizes it
// with tls-server-auth=pgbackrest-client=db.
const ClientCN = "pgbackrest-client"

// Keys of the TLS Secret (and the file names under /etc/pgbackrest/tls/).
const (
	KeyCACert     = "ca.crt"
	KeyServerCert = "server.crt"
	KeyServerKey  = "server.key"
	KeyClientCert = "client.crt"
	KeyClientKey  = "client.key"
)

// DefaultValidity is how long generated certificates are valid: a year, so that an expiry is met
// (check, info and list warn WarnWithin ahead; rotate-certs replaces them) while the people who
// set the cluster up still remember it, rather than once, unannounced, a decade later.
const DefaultValidity = 365 * 24 * time.Hour

// clockSkew backdates NotBefore so that a node whose clock is slightly behind accepts new certificates.
const clockSkew = 5 * time.Minute

// Bundle holds PEM-encoded TLS material. Keys are PKCS#8 ("PRIVATE KEY"), which OpenSSL reads.
type Bundle struct {
	CACert     []byte
	ServerCert []byte
	ServerKey  []byte
	ClientCert []byte
	ClientKey  []byte
}

// SecretData returns the bundle keyed as the TLS Secret stores it.
func (b Bundle) SecretData() map[string][]byte {
	return map[string][]byte{
		KeyCACert:     b.CACert,
		KeyServerCert: b.ServerCert,
		KeyServerKey:  b.ServerKey,
		KeyClientCert: b.ClientCert,
		KeyClientKey:  b.ClientKey,
	}
}

// ServiceDNSNames returns the DNS names under which a Service is reached inside the cluster:
// svc, svc.ns, svc.ns.svc and svc.ns.svc.cluster.local.
func ServiceDNSNames(svc, ns string) []string {
	return []string{
		svc,
		svc + "." + ns,
		svc + "." + ns + ".svc",
		svc + "." + ns + ".svc.cluster.local",
	}
}

// Generate makes a CA, a server certificate for the given DNS names (EKU server and client: each
// pgBackRest server also connects to the other one), and a client certificate with CN clientCN (EKU
// client). The CA is named after the first DNS name, "kubectl-pgbackrest CA <dnsNames[0]>": pass the
// primary Service's names first (ServiceDNSNames(cluster, ns)), so it reads as the cluster's name.
// All keys are ECDSA P-256, encoded as PKCS#8. Certificates are valid from now (less a few minutes of
// clock skew) for validity.
func Generate(dnsNames []string, clientCN string, now time.Time, validity time.Duration) (Bundle, error) {
	if len(dnsNames) == 0 {
		return Bundle{}, errors.New("generating TLS certificates: no DNS names for the server certificate")
	}
	if clientCN == "" {
		return Bundle{}, errors.New("generating TLS certificates: empty client common name")
	}
	if validity <= 0 {
		return Bundle{}, fmt.Errorf("generating TLS certificates: validity %s is not positive", validity)
	}
	notBefore := now.Add(-clockSkew).UTC().Truncate(time.Second)
	notAfter := now.Add(validity).UTC().Truncate(time.Second)

	caKey, err := newKey()
	if err != nil {
		return Bundle{}, err
	}
	caTmpl, err := template(pkix.Name{CommonName: "kubectl-pgbackrest CA " + dnsNames[0]}, notBefore, notAfter, &caKey.PublicKey)
	if err != nil {
		return Bundle{}, err
	}
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.MaxPathLenZero = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Bundle{}, fmt.Errorf("signing the CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Bundle{}, fmt.Errorf("parsing the CA certificate: %w", err)
	}

	serverCertPEM, serverKeyPEM, err := leaf(caCert, caKey, pkix.Name{CommonName: dnsNames[0]}, dnsNames,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, notBefore, notAfter)
	if err != nil {
		return Bundle{}, fmt.Errorf("making the server certificate: %w", err)
	}
	clientCertPEM, clientKeyPEM, err := leaf(caCert, caKey, pkix.Name{CommonName: clientCN}, nil,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, notBefore, notAfter)
	if err != nil {
		return Bundle{}, fmt.Errorf("making the client certificate: %w", err)
	}
	return Bundle{
		CACert:     pemBlock("CERTIFICATE", caDER),
		ServerCert: serverCertPEM,
		ServerKey:  serverKeyPEM,
		ClientCert: clientCertPEM,
		ClientKey:  clientKeyPEM,
	}, nil
}

func leaf(ca *x509.Certificate, caKey crypto.Signer, subject pkix.Name, dnsNames []string,
	usages []x509.ExtKeyUsage, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := template(subject, notBefore, notAfter, &key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	tmpl.DNSNames = dnsNames
	tmpl.ExtKeyUsage = usages
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	tmpl.AuthorityKeyId = ca.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the key: %w", err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating an ECDSA P-256 key: %w", err)
	}
	return key, nil
}

func template(subject pkix.Name, notBefore, notAfter time.Time, pub *ecdsa.PublicKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding a public key: %w", err)
	}
	ski := sha256.Sum256(pubDER)
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		SubjectKeyId: ski[:20],
	}, nil
}

func pemBlock(typ string, der []byte) []byte {
	var buf bytes.Buffer
	// pem.Encode only fails on a writer error; bytes.Buffer has none.
	_ = pem.Encode(&buf, &pem.Block{Type: typ, Bytes: der})
	return buf.Bytes()
}
