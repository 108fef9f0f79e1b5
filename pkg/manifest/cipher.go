package manifest

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// CipherSecret holds the passphrase of an encrypted cluster's repositories (one for all of them).
func CipherSecret(spec *cluster.Spec, pass []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   typeSecret,
		ObjectMeta: meta(spec, spec.Names().CipherSecret(), cluster.RoleConfig),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{cluster.CipherSecretKey: append([]byte(nil), pass...)},
	}
}

// cipherEnv passes the passphrase of every repository from the cipher Secret, as s3Env does the
// S3 credentials: `kubectl describe` shows the reference, never the value, and no ConfigMap or
// command line holds it. Only the repository host's container gets it: every other pgBackRest
// process reaches the repositories through it (pgbackrest.RenderDBConfig).
func cipherEnv(spec *cluster.Spec) []corev1.EnvVar {
	if !spec.Encrypted() {
		return nil
	}
	var env []corev1.EnvVar
	for _, s := range spec.Storages {
		env = append(env, corev1.EnvVar{Name: pgbackrest.CipherPassEnv(s), ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: spec.Names().CipherSecret()},
				Key:                  cluster.CipherSecretKey,
			}}})
	}
	return env
}
