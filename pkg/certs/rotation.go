package certs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// A rotation moves the TLS Secret through three states, each rolled out to the pods before the
// next, so that every client and server in the cluster trusts whatever the other side presents at
// every moment (docs/architecture.md, "Certificate rotation"):
//
//	PhaseTrust: ca.crt holds the old CA and the new one; the leaves are still the old ones; the new
//	            leaves wait under next.* keys.
//	PhaseIssue: ca.crt as before; the leaves are the new ones (signed by the new CA).
//	PhaseDrop:  ca.crt holds only the new CA.
//
// The new CA's key is never stored (as at create): the new leaves are made with it at once and
// kept in the Secret, so a resumed rotation never issues another CA.

// Phase is how far a rotation has gone; PhaseDone (or none recorded) means none is under way.
type Phase string

const (
	PhaseTrust Phase = "trust"
	PhaseIssue Phase = "issue"
	PhaseDrop  Phase = "drop"
	PhaseDone  Phase = "done"
)

// Phases in order.
var Phases = []Phase{PhaseTrust, PhaseIssue, PhaseDrop, PhaseDone}

// Index is p's place in Phases; an unknown or empty phase (no rotation ever ran) is PhaseDone's.
func (p Phase) Index() int {
	if i := slices.Index(Phases, p); i >= 0 {
		return i
	}
	return len(Phases) - 1
}

// InProgress says a rotation in phase p has not finished.
func (p Phase) InProgress() bool { return p.Index() < PhaseDone.Index() }

// nextPrefix marks the new leaves held in the Secret during PhaseTrust.
const nextPrefix = "next."

var leafKeys = []string{KeyServerCert, KeyServerKey, KeyClientCert, KeyClientKey}

// Trust returns the PhaseTrust data: data's leaves, ca.crt trusting data's CA and next's, and
// next's leaves under next.* keys.
func Trust(data map[string][]byte, next Bundle) map[string][]byte {
	out := maps.Clone(data)
	out[KeyCACert] = joinPEM(data[KeyCACert], next.CACert)
	nd := next.SecretData()
	for _, k := range leafKeys {
		out[nextPrefix+k] = nd[k]
	}
	return out
}

// Issue returns the PhaseIssue data: the next.* leaves in place of the old ones.
func Issue(data map[string][]byte) (map[string][]byte, error) {
	out := maps.Clone(data)
	for _, k := range leafKeys {
		v, ok := data[nextPrefix+k]
		if !ok {
			return nil, fmt.Errorf("the TLS Secret has no %s%s: the rotation's new certificates are missing", nextPrefix, k)
		}
		out[k] = v
		delete(out, nextPrefix+k)
	}
	return out, nil
}

// Drop returns the PhaseDrop data: ca.crt keeps only the CA that signed server.crt.
func Drop(data map[string][]byte) (map[string][]byte, error) {
	cas, err := ParsePEM(data[KeyCACert])
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", KeyCACert, err)
	}
	leaves, err := ParsePEM(data[KeyServerCert])
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", KeyServerCert, err)
	}
	for _, ca := range cas {
		if leaves[0].CheckSignatureFrom(ca) == nil {
			out := maps.Clone(data)
			out[KeyCACert] = pemBlock("CERTIFICATE", ca.Raw)
			return out, nil
		}
	}
	return nil, errors.New("no CA in ca.crt signed server.crt")
}

// Fingerprint identifies the TLS material the pods use (next.* keys aside): the pod template
// annotation that rolls a Deployment onto a new version of the Secret.
func Fingerprint(data map[string][]byte) string {
	h := sha256.New()
	for _, k := range []string{KeyCACert, KeyServerCert, KeyServerKey, KeyClientCert, KeyClientKey} {
		fmt.Fprintf(h, "%s=%d:", k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// CAFingerprint identifies the CA certificates of data's ca.crt, for people and tests.
func CAFingerprint(data map[string][]byte) string {
	sum := sha256.Sum256(bytes.TrimSpace(data[KeyCACert]))
	return hex.EncodeToString(sum[:8])
}

func joinPEM(a, b []byte) []byte {
	out := append(bytes.TrimRight(bytes.Clone(a), "\n"), '\n')
	return append(out, b...)
}
