package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// WarnWithin is how long before the first certificate of a cluster expires that check, info and
// list start to warn. When one expires, pgBackRest's TLS connections fail: archive-push from the
// primary to the repository host, and every backup, check and restore.
const WarnWithin = 30 * 24 * time.Hour

// liveKeys are the Secret keys the pods use; a rotation's next.* keys are not (yet) among them.
var liveKeys = []string{KeyCACert, KeyServerCert, KeyClientCert}

// Expiry is the certificate of a TLS Secret that expires first.
type Expiry struct {
	NotAfter time.Time
	// Key is the Secret key that holds it (ca.crt, server.crt or client.crt), Subject its CN.
	Key, Subject string
}

// ParsePEM returns every CERTIFICATE block of b, in order (ca.crt holds two CAs mid-rotation).
func ParsePEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing a certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// Earliest returns the certificate of the TLS Secret's data (ca.crt, server.crt, client.crt) that
// expires first. Every certificate counts, the old CA of a rotation under way too: until the
// rotation drops it, a pod may still present a certificate it signed.
func Earliest(data map[string][]byte) (Expiry, error) {
	var first Expiry
	keys := append([]string(nil), liveKeys...)
	sort.Strings(keys)
	for _, k := range keys {
		b, ok := data[k]
		if !ok {
			return Expiry{}, fmt.Errorf("reading the TLS certificates: key %s is missing", k)
		}
		certs, err := ParsePEM(b)
		if err != nil {
			return Expiry{}, fmt.Errorf("reading the TLS certificates: %s: %w", k, err)
		}
		for _, c := range certs {
			if first.NotAfter.IsZero() || c.NotAfter.Before(first.NotAfter) {
				first = Expiry{NotAfter: c.NotAfter.UTC(), Key: k, Subject: c.Subject.CommonName}
			}
		}
	}
	return first, nil
}

// Soon says whether e is within WarnWithin of now (or past).
func (e Expiry) Soon(now time.Time) bool { return e.NotAfter.Sub(now) <= WarnWithin }

// Warning is what check, info and list print about cluster's certificates at now: "" unless they
// expire within WarnWithin.
func (e Expiry) Warning(cluster string, now time.Time) string {
	if !e.Soon(now) {
		return ""
	}
	date := e.NotAfter.UTC().Format(time.RFC3339)
	left := e.NotAfter.Sub(now)
	fix := fmt.Sprintf("run `kubectl pgbackrest rotate-certs %s`", cluster)
	if left <= 0 {
		return fmt.Sprintf("the pgBackRest TLS certificates of cluster %s expired at %s (%s, %q): WAL archiving, backups and restores fail; %s",
			cluster, date, e.Key, e.Subject, fix)
	}
	days := int(math.Ceil(left.Hours() / 24))
	return fmt.Sprintf("the pgBackRest TLS certificates of cluster %s expire at %s, in %d day(s) (%s, %q): WAL archiving stops then; %s",
		cluster, date, days, e.Key, e.Subject, fix)
}
