package cluster

import (
	"fmt"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// CipherSecretKey is the key of the cipher Secret that holds the repositories' passphrase.
const CipherSecretKey = "cipher-pass"

// CipherSecret holds the passphrase of an encrypted cluster's repositories. It is separate from
// the TLS Secret because it outlives it: `delete` keeps it, since without it no backup of the
// cluster can ever be read again.
func (n Names) CipherSecret() string { return n.Cluster + "-pgbackrest-cipher" }

// Encrypted says whether the cluster's repositories are encrypted.
func (s *Spec) Encrypted() bool { return s.Cipher != "" }

// checkCipher checks the spec's cipher: the spec is read back from a ConfigMap anyone with edit
// rights can change, and the value reaches pgbackrest.conf.
func (s *Spec) checkCipher() error {
	if s.Cipher != "" && s.Cipher != pgbackrest.CipherAES256CBC {
		return fmt.Errorf("cipher %q is not supported: use %s, or none", s.Cipher, pgbackrest.CipherAES256CBC)
	}
	return nil
}

// CipherCommand is the command that prints the passphrase of cluster name in namespace ns, for
// people to keep it outside the cluster.
func CipherCommand(ns, name string) string {
	return fmt.Sprintf("kubectl get secret %s -n %s -o jsonpath='{.data.%s}' | base64 -d",
		Names{Cluster: name}.CipherSecret(), ns, CipherSecretKey)
}
