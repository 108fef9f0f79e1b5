package pgbackrest

import "fmt"

// Repository ciphers, as pgBackRest's repo-cipher-type names them.
const (
	CipherNone      = "none"
	CipherAES256CBC = "aes-256-cbc"
)

// ParseCipher reads the --cipher flag: "none" (or "") for no encryption, or aes-256-cbc, the one
// cipher pgBackRest 2.45 has. The result is "" for none, so an unencrypted cluster's spec and
// configuration stay as they were before encryption existed.
func ParseCipher(s string) (string, error) {
	switch s {
	case "", CipherNone:
		return "", nil
	case CipherAES256CBC:
		return CipherAES256CBC, nil
	}
	return "", fmt.Errorf("invalid --cipher %q: use %s (or --encrypt) or %s", s, CipherAES256CBC, CipherNone)
}

// CipherPassEnv is the environment variable through which repository s's passphrase reaches
// pgBackRest (PGBACKREST_REPO2_CIPHER_PASS): never a file in a ConfigMap, never argv.
func CipherPassEnv(s Storage) string { return fmt.Sprintf("PGBACKREST_REPO%d_CIPHER_PASS", RepoKey(s)) }

// writeCipher sets the cipher of every repository. pgBackRest encrypts on the client side, so
// every process that reads or writes a repository needs it: archive-push and archive-get in the
// primary, restore Jobs, and the repository host (which also hands it to a client that has none).
// The passphrase comes from CipherPassEnv.
func (p ConfigParams) writeCipher(w *confWriter) {
	if p.Cipher == "" {
		return
	}
	for _, s := range p.Storages {
		w.set(fmt.Sprintf("repo%d-cipher-type", RepoKey(s)), p.Cipher)
	}
}
