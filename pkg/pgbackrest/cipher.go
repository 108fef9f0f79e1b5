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

// writeCipher sets the cipher of every repository, in the repository host's configurations only:
// the primary and restore Jobs reach every repository through its remote, which encrypts and
// decrypts (renderDB). The passphrase comes from CipherPassEnv, in the repository host alone.
func (p ConfigParams) writeCipher(w *confWriter) {
	if p.Cipher == "" {
		return
	}
	for _, s := range p.Storages {
		w.set(fmt.Sprintf("repo%d-cipher-type", RepoKey(s)), p.Cipher)
	}
}
