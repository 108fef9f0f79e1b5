package create

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// ErrCipherFixed is wrapped by the error for a create whose --cipher (or --encrypt) differs from
// the existing cluster's: a repository's encryption is fixed when its stanza is created.
var ErrCipherFixed = errors.New("the repository cipher is fixed at create")

// passphraseBytes is the passphrase's entropy: 48 random bytes, 64 characters of base64, far
// beyond what a brute force of aes-256-cbc's key derivation could reach.
const passphraseBytes = 48

// GeneratePassphrase returns a new repository passphrase from crypto/rand.
func GeneratePassphrase() ([]byte, error) {
	b := make([]byte, passphraseBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating the repository passphrase: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(b)), nil
}

// checkCipherFixed refuses a create of an existing cluster with another cipher.
func checkCipherFixed(stored *cluster.Spec, cfg Config) error {
	if stored.Cipher == cfg.Cipher {
		return nil
	}
	return exitcode.Usage(fmt.Errorf("%w: cluster %s has --cipher=%s, not %s; keep --cipher=%s, or create another cluster",
		ErrCipherFixed, cfg.Name, cipherString(stored.Cipher), cipherString(cfg.Cipher), cipherString(stored.Cipher)))
}

func cipherString(c string) string {
	if c == "" {
		return pgbackrest.CipherNone
	}
	return c
}

// cipherDone: the cipher Secret exists and holds a passphrase. It may be one the user made (to
// bring back a passphrase they exported, for a repository that outlived its cluster): it is used
// as it is, never replaced.
func (w *run) cipherDone(ctx context.Context) (bool, error) {
	name := w.names().CipherSecret()
	sec, err := w.deps.Client.CoreV1().Secrets(w.ns()).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, kube.Explain(fmt.Errorf("getting Secret %s/%s: %w", w.ns(), name, err), "get", "secrets", w.ns())
	}
	if len(sec.Data[cluster.CipherSecretKey]) == 0 {
		return false, exitcode.Usage(fmt.Errorf("secret %s/%s has no key %q: it must hold the repositories' passphrase; "+
			"put it back (the value you exported), or delete the Secret to have a new one generated for a new cluster",
			w.ns(), name, cluster.CipherSecretKey))
	}
	return true, nil
}

// createCipher generates the passphrase once. An existing Secret is never regenerated, whoever
// made it: a new passphrase would make every backup and archived segment unreadable.
func (w *run) createCipher(ctx context.Context) error {
	pass, err := GeneratePassphrase()
	if err != nil {
		return err
	}
	sec := manifest.CipherSecret(w.spec, pass)
	_, err = w.deps.Client.CoreV1().Secrets(w.ns()).Create(ctx, sec, metav1.CreateOptions{FieldManager: kube.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return kube.Explain(fmt.Errorf("creating Secret %s/%s: %w", w.ns(), sec.Name, err), "create", "secrets", w.ns())
	}
	return nil
}
