// Package s3settings is the S3 Secret (default pgbackrest-s3) as a typed value: the key names,
// validation, and the conversion both ways. It imports k8s.io/api only, so the create workflow
// and the s3 commands share it.
package s3settings

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// DefaultSecretName is the namespace's shared S3 Secret.
const DefaultSecretName = "pgbackrest-s3"

// Keys of the Secret.
const (
	KeyBucket    = "bucket"
	KeyEndpoint  = "endpoint"
	KeyRegion    = "region"
	KeyURIStyle  = "uri-style"
	KeyVerifyTLS = "verify-tls"
	KeyKey       = "key"
	KeyKeySecret = "key-secret"
	// KeyCABundle is mounted at /etc/pgbackrest/s3/aws-s3-ca.crt (docs/architecture.md).
	KeyCABundle = "aws-s3-ca.crt"
)

// URI styles (pgBackRest repo-s3-uri-style).
const (
	URIStyleHost = "host"
	URIStylePath = "path"
)

// Settings is the content of the S3 Secret.
type Settings struct {
	Bucket   string
	Endpoint string // host or host:port, no scheme
	Region   string
	URIStyle string // host (pgBackRest's default) or path (MinIO and most self-hosted servers)
	// VerifyTLS is pgBackRest's repo-storage-verify-tls.
	VerifyTLS bool
	Key       string
	KeySecret string
	// CABundle is PEM; empty means the system CAs.
	CABundle []byte
}

// Defaults returns Settings with the defaults of optional fields.
func Defaults() Settings {
	return Settings{URIStyle: URIStyleHost, VerifyTLS: true}
}

// Validate checks every field and returns all problems at once, each naming the flag that sets it.
func (s Settings) Validate() error {
	var errs []error
	if s.Bucket == "" {
		errs = append(errs, errors.New("--bucket is required"))
	} else if err := pgbackrest.CheckS3Bucket(s.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("--%w", err))
	}
	if err := ValidateEndpoint(s.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(s.Region) == "" {
		errs = append(errs, errors.New(`--region is required (pgBackRest signs requests with it; MinIO accepts any value, e.g. "us-east-1")`))
	} else if err := pgbackrest.CheckS3Region(s.Region); err != nil {
		errs = append(errs, fmt.Errorf("--%w", err))
	}
	if s.URIStyle != URIStyleHost && s.URIStyle != URIStylePath {
		errs = append(errs, fmt.Errorf("--uri-style must be host or path; got %q", s.URIStyle))
	}
	switch {
	case s.Key == "" && s.KeySecret == "":
		errs = append(errs, errors.New("S3 credentials are required: give --key with --key-secret-file, --key-from-env or --key-stdin"))
	case s.Key == "":
		errs = append(errs, errors.New("the S3 access key is missing: give --key with --key-secret-file"))
	case s.KeySecret == "":
		errs = append(errs, errors.New("the S3 secret key is missing: give --key-secret-file with --key"))
	}
	if len(s.CABundle) > 0 {
		if _, err := ParseCABundle(s.CABundle); err != nil {
			errs = append(errs, fmt.Errorf("--ca-bundle: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ValidateEndpoint checks an S3 endpoint: a host name or IP, optionally with a port, and no scheme
// (pgBackRest always speaks HTTPS; "http://" cannot be honoured, so it is refused, not stripped).
func ValidateEndpoint(e string) error {
	if e == "" {
		return errors.New("--endpoint is required: the S3 host, e.g. s3.eu-west-1.amazonaws.com or minio.minio.svc:9000")
	}
	if i := strings.Index(e, "://"); i >= 0 {
		return fmt.Errorf("--endpoint %q: give the host (and port) without a scheme, e.g. %q; pgBackRest always uses HTTPS", e, strings.TrimSuffix(e[i+3:], "/"))
	}
	if strings.ContainsAny(e, "/?#@ ") {
		return fmt.Errorf("--endpoint %q must be a host or host:port, without path", e)
	}
	host, port := e, ""
	if h, p, err := net.SplitHostPort(e); err == nil {
		host, port = h, p
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--endpoint %q: port %q must be 1-65535", e, port)
		}
	}
	if host == "" {
		return fmt.Errorf("--endpoint %q must be a host or host:port, without path", e)
	}
	if err := pgbackrest.CheckS3Endpoint(e); err != nil {
		return fmt.Errorf("--%w", err)
	}
	return nil
}

// ParseCABundle parses PEM certificates; it fails when there is none or a block is not a certificate.
func ParseCABundle(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("trailing data after the last PEM certificate")
	}
	return certs, nil
}

// Secret returns the Secret holding s, TypeMeta set (for --dry-run=client -o yaml).
func (s Settings) Secret(namespace, name string) *corev1.Secret {
	data := map[string][]byte{
		KeyBucket:    []byte(s.Bucket),
		KeyEndpoint:  []byte(s.Endpoint),
		KeyRegion:    []byte(s.Region),
		KeyURIStyle:  []byte(s.URIStyle),
		KeyVerifyTLS: []byte(strconv.FormatBool(s.VerifyTLS)),
		KeyKey:       []byte(s.Key),
		KeyKeySecret: []byte(s.KeySecret),
	}
	if len(s.CABundle) > 0 {
		data[KeyCABundle] = s.CABundle
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "kubectl-pgbackrest"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

// FromSecret reads Settings from a Secret (written by `s3 configure` or by hand with kubectl).
// It fails only on values that cannot be read; call Validate for completeness.
func FromSecret(sec *corev1.Secret) (Settings, error) {
	get := func(k string) string {
		if v, ok := sec.Data[k]; ok {
			return strings.TrimSpace(string(v))
		}
		return strings.TrimSpace(sec.StringData[k])
	}
	s := Defaults()
	s.Bucket = get(KeyBucket)
	s.Endpoint = get(KeyEndpoint)
	s.Region = get(KeyRegion)
	if v := get(KeyURIStyle); v != "" {
		s.URIStyle = v
	}
	if v := get(KeyVerifyTLS); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("secret %s/%s: %s must be true or false; got %q", sec.Namespace, sec.Name, KeyVerifyTLS, v)
		}
		s.VerifyTLS = b
	}
	s.Key = get(KeyKey)
	s.KeySecret = get(KeyKeySecret)
	if v, ok := sec.Data[KeyCABundle]; ok && len(v) > 0 {
		s.CABundle = v
	} else if v := sec.StringData[KeyCABundle]; v != "" {
		s.CABundle = []byte(v)
	}
	return s, nil
}

// MaskKey shows the first 4 characters of an access key and its length: "AKIA****(20 chars)".
func MaskKey(k string) string {
	if k == "" {
		return ""
	}
	if len(k) <= 4 {
		return fmt.Sprintf("****(%d chars)", len(k))
	}
	return fmt.Sprintf("%s****(%d chars)", k[:4], len(k))
}

// CertSummary describes one CA certificate for people.
type CertSummary struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
	Expired  bool      `json:"expired"`
}

// SummarizeCA describes each certificate of a PEM bundle; now decides which have expired.
func SummarizeCA(pemBytes []byte, now time.Time) ([]CertSummary, error) {
	certs, err := ParseCABundle(pemBytes)
	if err != nil {
		return nil, err
	}
	out := make([]CertSummary, len(certs))
	for i, c := range certs {
		out[i] = CertSummary{Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(), Expired: now.After(c.NotAfter)}
	}
	return out, nil
}

// NoVerifyWarning is what `s3 configure` and `create` say of a Secret whose settings do not verify
// the S3 server's certificate: without that check anyone on the path reads and rewrites the
// backups and WAL.
func NoVerifyWarning(secret, endpoint string) string {
	return fmt.Sprintf("S3 Secret %s has verify-tls=false: pgBackRest does not check the certificate of %s, "+
		"so anyone between the cluster and it can read and change the backups and WAL; for a server with a private CA, "+
		"re-run `kubectl pgbackrest s3 configure --verify-tls --ca-bundle FILE ...` instead", secret, endpoint)
}
