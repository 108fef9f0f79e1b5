package create

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

func encrypted(storages ...pgbackrest.Storage) Config {
	cfg := config(storages...)
	cfg.Cipher = pgbackrest.CipherAES256CBC
	return cfg
}

// An encrypted create stores the cipher in the spec, renders it into every configuration, and
// generates a long passphrase into a Secret of ours, which a re-run never regenerates.
func TestEncryptedCreate(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, s3Secret())
	r := &reporter{}
	if _, err := Run(ctx, deps(cs, &fakeExec{}, r), encrypted(pgbackrest.Local, pgbackrest.S3)); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(r.lines, "\n"))
	}
	spec, cm, err := cluster.Get(ctx, cs, ns, "pg1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Cipher != "aes-256-cbc" {
		t.Errorf("stored cipher %q", spec.Cipher)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "pg1-pgbackrest-cipher", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("cipher Secret: %v", err)
	}
	pass := sec.Data[cluster.CipherSecretKey]
	if len(pass) < 64 {
		t.Errorf("passphrase of %d characters, want at least 64", len(pass))
	}
	if sec.Labels["app.kubernetes.io/managed-by"] != "kubectl-pgbackrest" || sec.Labels["app.kubernetes.io/instance"] != "pg1" {
		t.Errorf("cipher Secret labels %v", sec.Labels)
	}
	for k, v := range cm.Data {
		if strings.Contains(v, string(pass)) {
			t.Errorf("ConfigMap key %s holds the passphrase", k)
		}
		// The repository host's files have the cipher; the primary's and restore Jobs' reach the
		// repositories through it and have none.
		repoSide := k == "repo.conf" || strings.HasPrefix(k, "check-") || strings.HasPrefix(k, "remote-")
		if strings.HasSuffix(k, ".conf") && repoSide != strings.Contains(v, "-cipher-type=aes-256-cbc\n") {
			t.Errorf("ConfigMap key %s: cipher type present = %v, want %v:\n%s", k, !repoSide, repoSide, v)
		}
	}
	for _, name := range []string{"pg1", "pg1-backrest-shared-repo"} {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			vars := map[string]bool{}
			for _, e := range c.Env {
				if strings.Contains(e.Value, string(pass)) || strings.Contains(strings.Join(append(c.Command, c.Args...), " "), string(pass)) {
					t.Errorf("%s/%s: passphrase in env value or argv", name, c.Name)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "pg1-pgbackrest-cipher" {
					vars[e.Name] = true
				}
			}
			if name == "pg1" && len(vars) > 0 {
				t.Errorf("%s/%s: passphrase env %v, want none in the primary", name, c.Name, vars)
			}
			if name != "pg1" && (!vars["PGBACKREST_REPO1_CIPHER_PASS"] || !vars["PGBACKREST_REPO2_CIPHER_PASS"]) {
				t.Errorf("%s/%s: passphrase env %v, want repo1 and repo2", name, c.Name, vars)
			}
		}
	}

	// A re-run finds everything done and keeps the passphrase.
	cs.ClearActions()
	res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), encrypted(pgbackrest.Local, pgbackrest.S3))
	if err != nil || res.Changed || len(writes(cs)) > 0 {
		t.Fatalf("re-run: err=%v changed=%v writes=%q", err, res.Changed, writes(cs))
	}
}

// A create that stopped after writing the passphrase resumes with it, and a passphrase the user
// put back (a Secret that is not ours) is used as it is.
func TestCipherSecretNeverRegenerated(t *testing.T) {
	ctx := context.Background()
	own := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pg1-pgbackrest-cipher", Namespace: ns},
		Data:       map[string][]byte{cluster.CipherSecretKey: []byte("the-passphrase-the-user-exported")},
	}
	cs := newClient(t, s3Secret(), own)
	failOnce(cs, "create", "persistentvolumeclaims", "")
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), encrypted(pgbackrest.S3)); err == nil {
		t.Fatal("the injected failure did not stop the first run")
	}
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), encrypted(pgbackrest.S3)); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "pg1-pgbackrest-cipher", metav1.GetOptions{})
	if err != nil || !bytes.Equal(sec.Data[cluster.CipherSecretKey], own.Data[cluster.CipherSecretKey]) {
		t.Errorf("cipher Secret replaced: %v %q", err, sec.Data)
	}
}

// A cipher Secret without its key stops create before any pod needs it.
func TestCipherSecretWithoutKey(t *testing.T) {
	ctx := context.Background()
	broken := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pg1-pgbackrest-cipher", Namespace: ns}, Data: map[string][]byte{"pass": []byte("x")}}
	cs := newClient(t, broken)
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), encrypted(pgbackrest.Local))
	var se *workflow.StepError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Step, "repository passphrase") || !strings.Contains(err.Error(), `no key "cipher-pass"`) {
		t.Fatalf("err = %v, want the passphrase step to fail naming the key", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "pg1", metav1.GetOptions{}); err == nil {
		t.Error("primary created although its passphrase is missing")
	}
}

// The cipher is fixed at create, either way, like the storage type: exit 2 naming the flag, and
// nothing written.
func TestCipherIsFixed(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, then Config
		want        string
	}{
		{"encrypted, then none", encrypted(pgbackrest.Local), config(pgbackrest.Local), "cluster pg1 has --cipher=aes-256-cbc, not none; keep --cipher=aes-256-cbc"},
		{"none, then encrypted", config(pgbackrest.Local), encrypted(pgbackrest.Local), "cluster pg1 has --cipher=none, not aes-256-cbc; keep --cipher=none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cs := newClient(t)
			if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), tc.first); err != nil {
				t.Fatal(err)
			}
			cs.ClearActions()
			_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), tc.then)
			if !errors.Is(err, ErrCipherFixed) || exitcode.For(err) != exitcode.UsageError {
				t.Fatalf("err = %v (exit %d), want ErrCipherFixed, exit 2", err, exitcode.For(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q lacks %q", err, tc.want)
			}
			if w := writes(cs); len(w) > 0 {
				t.Errorf("wrote %q", w)
			}
		})
	}
}

func TestGeneratePassphrase(t *testing.T) {
	a, err := GeneratePassphrase()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GeneratePassphrase()
	if len(a) != 64 || bytes.Equal(a, b) {
		t.Errorf("passphrases %q and %q: want 64 characters, different each time", a, b)
	}
	if err := pgbackrest.CheckConfValue("repo1-cipher-pass", string(a)); err != nil {
		t.Error(err)
	}
}

func TestObjectsEncrypted(t *testing.T) {
	spec := NewSpec(encrypted(pgbackrest.S3), cluster.S3{Bucket: "backups", Endpoint: "s3.example.svc", Region: "us-east-1", VerifyTLS: true})
	objs, err := Objects(spec, map[string][]byte{"ca.crt": []byte("x")}, []byte("PASS"))
	if err != nil {
		t.Fatal(err)
	}
	sec, ok := objs[2].(*corev1.Secret)
	if !ok || sec.Name != "pg1-pgbackrest-cipher" || string(sec.Data[cluster.CipherSecretKey]) != "PASS" {
		t.Fatalf("objects[2] = %#v, want the cipher Secret beside the TLS Secret", objs[2])
	}
}
