package manifest

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

var typeNetworkPolicy = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}

// NetworkPolicies fence the pgBackRest TLS servers (docs/network.md): whoever reaches 8432 with
// the cluster's client certificate can read or overwrite its backups, and the certificate is the
// only guard without them. Ingress only, so the pods' own connections (DNS, S3, the API) are
// untouched. They take effect only where the CNI enforces NetworkPolicies.
func NetworkPolicies(spec *cluster.Spec) []*networkingv1.NetworkPolicy {
	return []*networkingv1.NetworkPolicy{RepoHostNetworkPolicy(spec), PrimaryNetworkPolicy(spec)}
}

// RepoHostNetworkPolicy admits to the repository host's 8432 only this cluster's primary (archive-push,
// archive-get) and the plugin's Jobs that carry cluster.LabelRepoClient (restore).
func RepoHostNetworkPolicy(spec *cluster.Spec) *networkingv1.NetworkPolicy {
	return networkPolicy(spec, spec.Names().RepoHost(), cluster.RoleRepo, []networkingv1.NetworkPolicyIngressRule{{
		Ports: tcpPorts(cluster.PGBackRestPort),
		From: []networkingv1.NetworkPolicyPeer{
			podPeer(cluster.Selector(spec.Name, cluster.RolePrimary)),
			podPeer(cluster.RepoClientSelector(spec.Name)),
		},
	}})
}

// PrimaryNetworkPolicy admits to the primary's 8432 only the repository host (backup, check), and
// to 5432 everyone, or only the spec's PostgresFrom peers.
func PrimaryNetworkPolicy(spec *cluster.Spec) *networkingv1.NetworkPolicy {
	postgres := networkingv1.NetworkPolicyIngressRule{Ports: tcpPorts(cluster.PGPort)}
	// Validated with the spec; an invalid value would have stopped create before this.
	peers, _ := cluster.ParsePostgresFromList(spec.PostgresFrom)
	for _, p := range peers {
		if p.CIDR != "" {
			postgres.From = append(postgres.From, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: p.CIDR}})
		} else {
			postgres.From = append(postgres.From, networkingv1.NetworkPolicyPeer{PodSelector: p.Selector})
		}
	}
	return networkPolicy(spec, spec.Names().Primary(), cluster.RolePrimary, []networkingv1.NetworkPolicyIngressRule{
		{Ports: tcpPorts(cluster.PGBackRestPort), From: []networkingv1.NetworkPolicyPeer{podPeer(cluster.Selector(spec.Name, cluster.RoleRepo))}},
		postgres,
	})
}

// networkPolicy is named after the pods it guards (their Deployment and Service) and selects them
// with the Deployment's selector.
func networkPolicy(spec *cluster.Spec, name string, role cluster.Role, ingress []networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   typeNetworkPolicy,
		ObjectMeta: meta(spec, name, role),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: cluster.Selector(spec.Name, role)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     ingress,
		},
	}
}

func podPeer(sel map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: sel}}
}

func tcpPorts(ports ...int) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, len(ports))
	for i, p := range ports {
		out[i] = networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(int32(p)))}
	}
	return out
}
