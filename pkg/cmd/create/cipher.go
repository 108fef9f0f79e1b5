package create

import (
	"fmt"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
)

// noteCipher tells, loudly, that an encrypted cluster's backups live and die with its cipher
// Secret, and how to keep a copy of the passphrase.
func (o *Options) noteCipher(spec *cluster.Spec) {
	if !spec.Encrypted() {
		return
	}
	note := fmt.Sprintf(`NOTE: the repositories of cluster %[1]s are encrypted (%[2]s) with the passphrase in Secret %[3]s/%[4]s.
Without that passphrase no backup and no archived WAL of %[1]s can ever be read: losing the Secret
(a deleted namespace, a lost cluster) loses every backup. Export it now and keep it outside this
Kubernetes cluster:
  %[5]s
`, spec.Name, spec.Cipher, spec.Namespace, spec.Names().CipherSecret(), cluster.CipherCommand(spec.Namespace, spec.Name))
	fmt.Fprint(o.ErrOut, o.Color.Yellow(note))
}

// dryRunPassphrase is a freshly generated passphrase for the objects a dry run prints (where it
// is redacted or a placeholder, like every Secret value of a dry run); nil when unencrypted.
func dryRunPassphrase(spec *cluster.Spec) ([]byte, error) {
	if !spec.Encrypted() {
		return nil, nil
	}
	return create.GeneratePassphrase()
}
