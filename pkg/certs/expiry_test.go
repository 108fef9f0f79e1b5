package certs

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultValidityIsAYear(t *testing.T) {
	if DefaultValidity != 365*24*time.Hour {
		t.Errorf("DefaultValidity = %s, want a year (365 days)", DefaultValidity)
	}
}

func TestEarliestAndWarning(t *testing.T) {
	// A short-lived bundle: 10 days, inside WarnWithin.
	short, err := Generate([]string{"c1"}, ClientCN, now, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	long, err := Generate([]string{"c1"}, ClientCN, now, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}

	e, err := Earliest(long.SecretData())
	if err != nil {
		t.Fatal(err)
	}
	if !e.NotAfter.Equal(now.Add(DefaultValidity)) {
		t.Errorf("NotAfter = %s, want %s", e.NotAfter, now.Add(DefaultValidity))
	}
	if w := e.Warning("c1", now); w != "" {
		t.Errorf("a year ahead: want no warning, got %q", w)
	}
	if w := e.Warning("c1", now.Add(DefaultValidity-WarnWithin+time.Hour)); w == "" {
		t.Error("29 days ahead: want a warning")
	}

	// Mid-rotation ca.crt holds two CAs: the one that expires first counts, wherever it is.
	mixed := Trust(long.SecretData(), short)
	e, err = Earliest(mixed)
	if err != nil {
		t.Fatal(err)
	}
	if !e.NotAfter.Equal(now.Add(10*24*time.Hour)) || e.Key != KeyCACert {
		t.Errorf("got %+v, want the short CA in ca.crt", e)
	}

	e, err = Earliest(short.SecretData())
	if err != nil {
		t.Fatal(err)
	}
	w := e.Warning("c1", now)
	for _, want := range []string{"cluster c1", "in 10 day(s)", "kubectl pgbackrest rotate-certs c1", "WAL archiving stops"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	w = e.Warning("c1", now.Add(11*24*time.Hour))
	if !strings.Contains(w, "expired at") {
		t.Errorf("after expiry: %q", w)
	}
}

func TestEarliestErrors(t *testing.T) {
	b, err := Generate([]string{"c1"}, ClientCN, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	missing := b.SecretData()
	delete(missing, KeyClientCert)
	garbage := b.SecretData()
	garbage[KeyServerCert] = []byte("not a certificate")
	for name, data := range map[string]map[string][]byte{"missing key": missing, "garbage": garbage} {
		if _, err := Earliest(data); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
