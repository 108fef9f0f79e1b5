package manifest

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// admits says whether policy np lets a pod with labels from reach port on the pods it selects.
func admits(t *testing.T, np *networkingv1.NetworkPolicy, from map[string]string, port int) bool {
	t.Helper()
	for _, rule := range np.Spec.Ingress {
		portOK := false
		for _, p := range rule.Ports {
			if p.Port.IntValue() == port {
				portOK = true
			}
		}
		if !portOK {
			continue
		}
		if len(rule.From) == 0 {
			return true
		}
		for _, peer := range rule.From {
			if peer.PodSelector == nil || peer.NamespaceSelector != nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Matches(labels.Set(from)) {
				return true
			}
		}
	}
	return false
}

func selects(t *testing.T, np *networkingv1.NetworkPolicy, pod map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(labels.Set(pod))
}

// The policies' selectors against the labels the real pod templates carry: the primary, the
// repository host, a restore Job, and a pod of the same namespace without them.
func TestNetworkPolicySelectors(t *testing.T) {
	s := testSpec(t, "local")
	_, repo := configs(t, s)
	primary := PrimaryDeployment(s).Spec.Template.Labels
	repoHost := RepoHostDeployment(s, repo).Spec.Template.Labels
	restore := RestoreJob(s, "20260102030405", "pg1-20260102030405", []string{"true"}).Spec.Template.Labels
	other := cluster.Labels("pg2", cluster.RolePrimary) // another cluster's primary
	plain := map[string]string{"app": "web"}

	repoNP, primaryNP := RepoHostNetworkPolicy(s), PrimaryNetworkPolicy(s)
	if !selects(t, repoNP, repoHost) || selects(t, repoNP, primary) || selects(t, repoNP, restore) {
		t.Errorf("repository host policy selects the wrong pods: %v", repoNP.Spec.PodSelector)
	}
	if !selects(t, primaryNP, primary) || selects(t, primaryNP, repoHost) || selects(t, primaryNP, restore) {
		t.Errorf("primary policy selects the wrong pods: %v", primaryNP.Spec.PodSelector)
	}
	for _, tt := range []struct {
		what string
		np   *networkingv1.NetworkPolicy
		from map[string]string
		port int
		want bool
	}{
		{"primary -> repo host 8432 (archive-push)", repoNP, primary, 8432, true},
		{"restore Job -> repo host 8432", repoNP, restore, 8432, true},
		{"repo host -> primary 8432 (backup)", primaryNP, repoHost, 8432, true},
		{"plain pod -> repo host 8432", repoNP, plain, 8432, false},
		{"other cluster's primary -> repo host 8432", repoNP, other, 8432, false},
		{"plain pod -> primary 8432", primaryNP, plain, 8432, false},
		{"restore Job -> primary 8432", primaryNP, restore, 8432, false},
		{"plain pod -> primary 5432 (open by default)", primaryNP, plain, 5432, true},
		{"plain pod -> repo host 5432", repoNP, plain, 5432, false},
	} {
		if got := admits(t, tt.np, tt.from, tt.port); got != tt.want {
			t.Errorf("%s: admitted %v, want %v", tt.what, got, tt.want)
		}
	}

	s.PostgresFrom = []string{"app=web", "10.0.0.0/8"}
	narrowed := PrimaryNetworkPolicy(s)
	if !admits(t, narrowed, plain, 5432) || admits(t, narrowed, map[string]string{"app": "api"}, 5432) {
		t.Errorf("--postgres-from app=web: 5432 rule %v", narrowed.Spec.Ingress)
	}
	if !admits(t, narrowed, repoHost, 8432) || admits(t, narrowed, plain, 8432) {
		t.Errorf("--postgres-from must leave the 8432 rule alone: %v", narrowed.Spec.Ingress)
	}
	var cidr bool
	for _, r := range narrowed.Spec.Ingress {
		for _, p := range r.From {
			cidr = cidr || (p.IPBlock != nil && p.IPBlock.CIDR == "10.0.0.0/8")
		}
	}
	if !cidr {
		t.Errorf("--postgres-from 10.0.0.0/8: no ipBlock in %v", narrowed.Spec.Ingress)
	}
}
