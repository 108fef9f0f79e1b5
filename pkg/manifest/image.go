package manifest

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// PullSecrets are the imagePullSecrets of every pod the plugin makes (--image-pull-secret).
func PullSecrets(spec *cluster.Spec) []corev1.LocalObjectReference {
	if len(spec.ImagePullSecrets) == 0 {
		return nil
	}
	refs := make([]corev1.LocalObjectReference, len(spec.ImagePullSecrets))
	for i, n := range spec.ImagePullSecrets {
		refs[i] = corev1.LocalObjectReference{Name: n}
	}
	return refs
}
