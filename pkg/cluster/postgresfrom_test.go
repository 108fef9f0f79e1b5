package cluster

import (
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestParsePostgresFrom(t *testing.T) {
	for _, tt := range []struct {
		in, cidr, selector, err string
	}{
		{in: "10.0.0.0/8", cidr: "10.0.0.0/8"},
		{in: " 2001:db8::/32 ", cidr: "2001:db8::/32"},
		{in: "10.1.2.3/32", cidr: "10.1.2.3/32"},
		{in: "app=web", selector: "app=web"},
		{in: "tier in (api,web),team!=ops", selector: "team!=ops,tier in (api,web)"},
		{in: "10.1.2.3", err: "needs a prefix length, e.g. 10.1.2.3/32"},
		{in: "10.1.2.3/8", err: "host bits are set; give the network, 10.0.0.0/8"},
		{in: "10.0.0.0/33", err: "prefix length out of range"},
		{in: "", err: "empty"},
		{in: "app in (", err: "give a CIDR such as 10.0.0.0/8 or a label selector"},
		{in: "Bad Key=x", err: "invalid --postgres-from"},
		{in: "!canary", selector: "DoesNotExist canary"},
		{in: "rev>3", err: "cannot select with"},
	} {
		p, err := ParsePostgresFrom(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "--postgres-from") {
				t.Errorf("%q: error %v, want one naming --postgres-from and containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if p.CIDR != tt.cidr {
			t.Errorf("%q: CIDR %q, want %q", tt.in, p.CIDR, tt.cidr)
		}
		got := ""
		if p.Selector != nil {
			got = selectorString(t, p)
		}
		if got != tt.selector {
			t.Errorf("%q: selector %q, want %q", tt.in, got, tt.selector)
		}
	}
}

func selectorString(t *testing.T, p PostgresPeer) string {
	t.Helper()
	var parts []string
	for k, v := range p.Selector.MatchLabels {
		parts = append(parts, k+"="+v)
	}
	for _, r := range p.Selector.MatchExpressions {
		switch r.Operator {
		case "In":
			parts = append(parts, r.Key+" in ("+strings.Join(r.Values, ",")+")")
		case "NotIn":
			parts = append(parts, r.Key+"!="+strings.Join(r.Values, ","))
		default:
			parts = append(parts, string(r.Operator)+" "+r.Key)
		}
	}
	return strings.Join(parts, ",")
}

// A spec read back from its ConfigMap is checked like the flag.
func TestValidateChecksPostgresFrom(t *testing.T) {
	s := validSpec(pgbackrest.Local)
	s.PostgresFrom = []string{"app=web", "10.0.0.1"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `--postgres-from "10.0.0.1"`) {
		t.Errorf("Validate = %v, want the bad --postgres-from named", err)
	}
}
