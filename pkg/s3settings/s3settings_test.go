package s3settings

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testCA(t *testing.T, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: t0.Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func valid() Settings {
	s := Defaults()
	s.Bucket, s.Endpoint, s.Region = "backups", "minio.minio.svc:9000", "us-east-1"
	s.Key, s.KeySecret = "AKIAEXAMPLE123456789", "secret"
	return s
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Settings)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*Settings) {}, ""},
		{"host only", func(s *Settings) { s.Endpoint = "s3.eu-west-1.amazonaws.com" }, ""},
		{"ipv4 port", func(s *Settings) { s.Endpoint = "10.0.0.1:9000" }, ""},
		{"path style", func(s *Settings) { s.URIStyle = URIStylePath }, ""},
		{"no bucket", func(s *Settings) { s.Bucket = "" }, "--bucket is required"},
		{"bad bucket", func(s *Settings) { s.Bucket = "My_Bucket" }, "not a valid S3 bucket name"},
		{"no endpoint", func(s *Settings) { s.Endpoint = "" }, "--endpoint is required"},
		{"scheme", func(s *Settings) { s.Endpoint = "https://minio:9000/" }, `without a scheme, e.g. "minio:9000"`},
		{"path", func(s *Settings) { s.Endpoint = "minio:9000/bucket" }, "must be a host or host:port"},
		{"bad port", func(s *Settings) { s.Endpoint = "minio:99999" }, "port"},
		{"no region", func(s *Settings) { s.Region = " " }, "--region is required"},
		{"uri style", func(s *Settings) { s.URIStyle = "virtual" }, "--uri-style must be host or path"},
		{"no credentials", func(s *Settings) { s.Key, s.KeySecret = "", "" }, "credentials are required"},
		{"no key", func(s *Settings) { s.Key = "" }, "give --key"},
		{"no key secret", func(s *Settings) { s.KeySecret = "" }, "give --key-secret-file"},
		{"bad ca", func(s *Settings) { s.CABundle = []byte("not pem") }, "--ca-bundle: no PEM certificate"},
		{"key not cert", func(s *Settings) {
			s.CABundle = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
		}, "want CERTIFICATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	err := Settings{URIStyle: URIStyleHost}.Validate()
	for _, want := range []string{"--bucket", "--endpoint", "--region", "credentials"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestSecretRoundTrip(t *testing.T) {
	for _, ca := range [][]byte{nil, testCA(t, "test-ca", t0.Add(time.Hour))} {
		s := valid()
		s.VerifyTLS = false
		s.URIStyle = URIStylePath
		s.CABundle = ca
		sec := s.Secret("ns", DefaultSecretName)
		if sec.Kind != "Secret" || sec.APIVersion != "v1" || sec.Labels["app.kubernetes.io/managed-by"] != "kubectl-pgbackrest" {
			t.Errorf("secret meta = %+v %+v", sec.TypeMeta, sec.Labels)
		}
		if _, has := sec.Data[KeyCABundle]; has != (ca != nil) {
			t.Errorf("CA key present = %v with ca %v", has, ca != nil)
		}
		got, err := FromSecret(sec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n%+v\nwant\n%+v", got, s)
		}
	}
}

func TestFromSecretDefaultsAndStringData(t *testing.T) {
	sec := valid().Secret("ns", "s")
	delete(sec.Data, KeyURIStyle)
	delete(sec.Data, KeyVerifyTLS)
	sec.StringData = map[string]string{KeyRegion: "eu"}
	delete(sec.Data, KeyRegion)
	got, err := FromSecret(sec)
	if err != nil {
		t.Fatal(err)
	}
	if got.URIStyle != URIStyleHost || !got.VerifyTLS || got.Region != "eu" {
		t.Errorf("got %+v", got)
	}
	sec.Data[KeyVerifyTLS] = []byte("maybe")
	if _, err := FromSecret(sec); err == nil || !strings.Contains(err.Error(), "verify-tls") {
		t.Errorf("bad verify-tls: %v", err)
	}
}

func TestMaskKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"abc":                  "****(3 chars)",
		"AKIAEXAMPLE123456789": "AKIA****(20 chars)",
	} {
		if got := MaskKey(in); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummarizeCA(t *testing.T) {
	bundle := append(testCA(t, "live", t0.Add(time.Hour)), testCA(t, "old", t0.Add(-time.Minute))...)
	got, err := SummarizeCA(bundle, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Subject != "CN=live" || got[0].Expired || !got[1].Expired {
		t.Errorf("got %+v", got)
	}
}

// A hand-written Secret's values are checked for what they are: a line break in region or
// endpoint would add options to pgbackrest.conf.
func TestFromSecretRefusesInjection(t *testing.T) {
	for key, value := range map[string]string{KeyRegion: "us-east-1\nrepo2-storage-verify-tls=n", KeyEndpoint: "s3.example\nx=y", KeyBucket: "bkt\nx=y"} {
		st := Defaults()
		st.Bucket, st.Endpoint, st.Region, st.Key, st.KeySecret = "bkt", "s3.example", "us-east-1", "AKIA", "secret"
		sec := st.Secret("ns", "s3")
		sec.Data[key] = []byte(value)
		got, err := FromSecret(sec)
		if err == nil {
			err = got.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "--"+key) {
			t.Errorf("%s=%q: err = %v, want it refused naming --%s", key, value, err, key)
		}
	}
}
