package rotate

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// CertStatus is what check, info and list say about a cluster's pgBackRest certificates.
type CertStatus struct {
	// NotAfter is when the first of them expires (certs.Earliest).
	NotAfter time.Time
	// Phase is a rotation under way (stopped), or "" / PhaseDone.
	Phase certs.Phase
	// Warnings are for stderr: an expiry within certs.WarnWithin, a rotation left half done.
	Warnings []string
}

// CertStatusOf reads the TLS Secret sec of cluster name at now.
func CertStatusOf(sec *corev1.Secret, name string, now time.Time) (*CertStatus, error) {
	e, err := certs.Earliest(sec.Data)
	if err != nil {
		return nil, fmt.Errorf("Secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	st := &CertStatus{NotAfter: e.NotAfter, Phase: PhaseOf(sec)}
	if w := e.Warning(name, now); w != "" {
		st.Warnings = append(st.Warnings, w)
	}
	if st.Phase.InProgress() {
		// Until it finishes, the pods may hold different certificates: a backup may fail.
		st.Warnings = append(st.Warnings, fmt.Sprintf("a certificate rotation of cluster %s stopped in phase %q; "+
			"finish it with `kubectl pgbackrest rotate-certs %s`", name, st.Phase, name))
	}
	return st, nil
}

// ReadCertStatus reads cluster name's TLS Secret. It returns nil, nil when the Secret cannot be
// read for want of permission or does not exist: the certificates are not the caller's subject,
// and its own reads report a missing cluster.
func ReadCertStatus(ctx context.Context, cs kubernetes.Interface, ns, name string, now time.Time) (*CertStatus, error) {
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, cluster.Names{Cluster: name}.TLSSecret(), getOpts)
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the TLS Secret of cluster %s: %w", name, err)
	}
	return CertStatusOf(sec, name, now)
}
