package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

const testPass = "TEST-CIPHER-PASSPHRASE-0123456789"

// An encrypted cluster's repository host gets each repository's passphrase as a secretKeyRef to
// the cipher Secret; no other pod gets it (they reach the repositories through the repository
// host), and the passphrase is in that Secret and nowhere else.
func TestCipherEnv(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		s := testSpec(t, storage)
		s.Cipher = pgbackrest.CipherAES256CBC
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		objs := append(allObjects(t, s), CipherSecret(s, []byte(testPass)))
		pods := podSpecs(objs)
		if len(pods) != 3 {
			t.Fatalf("%s: %d pods, want primary, repository host and restore Job", storage, len(pods))
		}
		for name, p := range pods {
			for _, c := range p.Containers {
				got := map[string]bool{}
				for _, e := range c.Env {
					if strings.Contains(e.Value, testPass) {
						t.Errorf("%s %s/%s: env %s holds the passphrase as a literal", storage, name, c.Name, e.Name)
					}
					if !strings.HasSuffix(e.Name, "_CIPHER_PASS") {
						continue
					}
					ref := e.ValueFrom
					if e.Value != "" || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "pg1-pgbackrest-cipher" || ref.SecretKeyRef.Key != "cipher-pass" {
						t.Errorf("%s %s/%s: env %s is not a secretKeyRef to pg1-pgbackrest-cipher/cipher-pass", storage, name, c.Name, e.Name)
					}
					got[e.Name] = true
				}
				if name != "Deployment/pg1-backrest-shared-repo" {
					if len(got) > 0 {
						t.Errorf("%s %s/%s: passphrase env %v, want none outside the repository host", storage, name, c.Name, got)
					}
					continue
				}
				for _, st := range s.Storages {
					if !got[pgbackrest.CipherPassEnv(st)] {
						t.Errorf("%s %s/%s: no %s", storage, name, c.Name, pgbackrest.CipherPassEnv(st))
					}
				}
				if len(got) != len(s.Storages) {
					t.Errorf("%s %s/%s: passphrase env %v, want one per repository", storage, name, c.Name, got)
				}
			}
		}
		cm := objs[0].(*corev1.ConfigMap)
		if !strings.Contains(cm.Data["repo.conf"], "-cipher-type=aes-256-cbc\n") || strings.Contains(cm.Data["db.conf"], "cipher") {
			t.Errorf("%s: repo.conf lacks the cipher type, or db.conf has one", storage)
		}
		var others []runtime.Object
		for _, o := range objs {
			if sec, ok := o.(*corev1.Secret); ok && sec.Name == "pg1-pgbackrest-cipher" {
				if string(sec.Data["cipher-pass"]) != testPass || sec.Labels["app.kubernetes.io/managed-by"] != "kubectl-pgbackrest" || sec.Labels["app.kubernetes.io/instance"] != "pg1" {
					t.Errorf("%s: cipher Secret %v", storage, sec)
				}
				continue
			}
			others = append(others, o)
		}
		if y := string(toYAML(t, others)); strings.Contains(y, testPass) {
			t.Errorf("%s: the passphrase appears outside its Secret (ConfigMap, argv or env)", storage)
		}
	}
}

// An unencrypted cluster's pods have no passphrase variable.
func TestNoCipherEnv(t *testing.T) {
	s := testSpec(t, "local,s3")
	for name, p := range podSpecs(allObjects(t, s)) {
		for _, c := range p.Containers {
			for _, e := range c.Env {
				if strings.Contains(e.Name, "CIPHER") {
					t.Errorf("%s/%s: env %s on an unencrypted cluster", name, c.Name, e.Name)
				}
			}
		}
	}
}
