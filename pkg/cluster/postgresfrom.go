package cluster

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// LabelRepoClient marks the pods of the plugin's Jobs that talk to the repository host's TLS server
// (restore today; drills, clones and scheduled runs are to carry it too): the repository host's
// NetworkPolicy admits this cluster's pods with it, besides the primary.
const LabelRepoClient = "pgbackrest.dev/repo-client"

// RepoClientSelector selects the cluster's pods that may reach the repository host's 8432.
func RepoClientSelector(cluster string) map[string]string {
	return map[string]string{LabelInstance: cluster, LabelRepoClient: "true"}
}

// PostgresPeer is one --postgres-from value: an address range or a selector of pods in the
// cluster's namespace, never both.
type PostgresPeer struct {
	CIDR     string
	Selector *metav1.LabelSelector
}

// ParsePostgresFrom parses a --postgres-from value: a CIDR ("10.0.0.0/8", "2001:db8::/32") or a
// label selector of pods in the cluster's namespace ("app=web", "tier in (web,api)").
func ParsePostgresFrom(s string) (PostgresPeer, error) {
	v := strings.TrimSpace(s)
	const hint = "give a CIDR such as 10.0.0.0/8 or a label selector of pods in the cluster's namespace such as app=web"
	if v == "" {
		return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: empty; %s", s, hint)
	}
	// Anything that starts like an address is meant as one: "10.0.0.0/33" must not become a
	// selector on a label key of that name.
	addr, _, hasSlash := strings.Cut(v, "/")
	if _, err := netip.ParseAddr(addr); err == nil {
		if !hasSlash {
			return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: an address needs a prefix length, e.g. %s/32 for that one address", s, v)
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: %v; %s", s, err, hint)
		}
		if p.Masked() != p {
			return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: host bits are set; give the network, %s", s, p.Masked())
		}
		return PostgresPeer{CIDR: p.String()}, nil
	}
	sel, err := labels.Parse(v)
	if err != nil {
		return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: %v; %s", s, err, hint)
	}
	if sel.Empty() {
		return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: selects every pod; %s", s, hint)
	}
	reqs, _ := sel.Requirements()
	ls := &metav1.LabelSelector{}
	for _, r := range reqs {
		values := r.Values().List()
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			if ls.MatchLabels == nil {
				ls.MatchLabels = map[string]string{}
			}
			ls.MatchLabels[r.Key()] = values[0]
			continue
		case selection.In:
			op = metav1.LabelSelectorOpIn
		case selection.NotEquals, selection.NotIn:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			return PostgresPeer{}, fmt.Errorf("invalid --postgres-from %q: a NetworkPolicy cannot select with %q; use =, !=, in, notin, KEY or !KEY", s, r.Operator())
		}
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key(), Operator: op, Values: values})
	}
	return PostgresPeer{Selector: ls}, nil
}

// ParsePostgresFromList parses every --postgres-from value; nil when there are none (5432 open).
func ParsePostgresFromList(values []string) ([]PostgresPeer, error) {
	var out []PostgresPeer
	var errs []error
	for _, v := range values {
		p, err := ParsePostgresFrom(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}
