package pgbackrest

import (
	"strconv"
	"strings"
	"testing"
)

// Every configuration of the repository host names the cipher of its repositories; the primary's
// and restore Jobs' name none (the repository host's remote encrypts and decrypts for them); none
// holds a passphrase: that comes from the repository host's environment.
func TestRenderCipher(t *testing.T) {
	for _, storages := range [][]Storage{{Local}, {S3}, {Local, S3}} {
		p := testParams(storages...)
		p.Cipher = CipherAES256CBC
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		confs := map[string]string{"db": mustDB(t, p), "repo": mustRepo(t, p), "remote-s3": must(t)(RenderRemoteConfig(p))}
		for _, s := range storages {
			a, err := RenderArchiveConfig(p, s)
			if err != nil {
				t.Fatal(err)
			}
			c, err := RenderCheckConfig(p, s)
			if err != nil {
				t.Fatal(err)
			}
			confs["archive-"+string(s)], confs["check-"+string(s)] = a, c
		}
		for name, conf := range confs {
			if name == "db" || strings.HasPrefix(name, "archive-") {
				if strings.Contains(conf, "cipher") {
					t.Errorf("%v %s: a client-side configuration names a cipher:\n%s", storages, name, conf)
				}
				continue
			}
			for _, s := range storages {
				want := "repo" + strconv.Itoa(RepoKey(s)) + "-cipher-type=aes-256-cbc\n"
				only := strings.HasPrefix(name, "archive-") || strings.HasPrefix(name, "check-")
				if only && !strings.HasSuffix(name, string(s)) {
					continue
				}
				if !strings.Contains(conf, want) {
					t.Errorf("%v %s: lacks %q:\n%s", storages, name, want, conf)
				}
			}
			if strings.Contains(conf, "cipher-pass") {
				t.Errorf("%v %s: a passphrase option in a config file:\n%s", storages, name, conf)
			}
		}
	}
}

func TestRenderNoCipher(t *testing.T) {
	p := testParams(Local, S3)
	for _, conf := range []string{mustDB(t, p), mustRepo(t, p)} {
		if strings.Contains(conf, "cipher") {
			t.Errorf("an unencrypted cluster's config names a cipher:\n%s", conf)
		}
	}
}

func TestCipherValidate(t *testing.T) {
	p := testParams(S3)
	p.Cipher = "aes-256-cbc\nrepo2-storage-verify-tls=n"
	if err := p.Validate(); err == nil {
		t.Error("Validate accepted a cipher with a line break")
	}
	if _, err := RenderRepoConfig(p); err == nil {
		t.Error("RenderRepoConfig wrote a cipher with a line break")
	}
}

func TestParseCipher(t *testing.T) {
	for in, want := range map[string]string{"": "", "none": "", "aes-256-cbc": "aes-256-cbc"} {
		got, err := ParseCipher(in)
		if err != nil || got != want {
			t.Errorf("ParseCipher(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"AES", "aes-128-cbc", "aes-256-cbc "} {
		if _, err := ParseCipher(in); err == nil || !strings.Contains(err.Error(), "--cipher") {
			t.Errorf("ParseCipher(%q) = %v, want an error naming --cipher", in, err)
		}
	}
}

func TestCipherPassEnv(t *testing.T) {
	if got := CipherPassEnv(S3); got != "PGBACKREST_REPO2_CIPHER_PASS" {
		t.Errorf("CipherPassEnv(s3) = %q", got)
	}
	if got := CipherPassEnv(Local); got != "PGBACKREST_REPO1_CIPHER_PASS" {
		t.Errorf("CipherPassEnv(local) = %q", got)
	}
}

func TestSummarizeCipher(t *testing.T) {
	st := Stanza{Name: "db", Repo: []RepoInfo{{Key: 1, Cipher: "none"}, {Key: 2, Cipher: CipherAES256CBC}, {Key: 3}}}
	got := Summarize(st).Repositories
	want := []struct {
		encrypted bool
		cipher    string
	}{{false, "none"}, {true, "aes-256-cbc"}, {false, "none"}}
	for i, w := range want {
		if got[i].Encrypted != w.encrypted || got[i].Cipher != w.cipher {
			t.Errorf("repo%d: encrypted %v cipher %q, want %v %q", got[i].Key, got[i].Encrypted, got[i].Cipher, w.encrypted, w.cipher)
		}
	}
}
