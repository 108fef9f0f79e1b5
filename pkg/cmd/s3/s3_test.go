package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
)

func validSettings() s3settings.Settings {
	s := s3settings.Defaults()
	s.Bucket, s.Endpoint, s.Region = "backups", "minio.minio.svc:9000", "us-east-1"
	s.Key, s.KeySecret = "AKIAEXAMPLE123456789", "topsecret"
	return s
}

func TestConfigureValidate(t *testing.T) {
	tests := []struct {
		name string
		o    ConfigureOptions
		want string
	}{
		{"valid", ConfigureOptions{Settings: validSettings(), SecretName: "pgbackrest-s3", DryRun: DryRunNone}, ""},
		{"server dry run", ConfigureOptions{Settings: validSettings(), SecretName: "pgbackrest-s3", DryRun: DryRunServer}, ""},
		{"bad dry run", ConfigureOptions{Settings: validSettings(), SecretName: "pgbackrest-s3", DryRun: "yes"}, "--dry-run must be none, client or server"},
		{"bad secret name", ConfigureOptions{Settings: validSettings(), SecretName: "Bad_Name", DryRun: DryRunNone}, "--secret-name"},
		{"two sources", ConfigureOptions{Settings: validSettings(), SecretName: "s", DryRun: DryRunNone, Key: "k", KeyFromEnv: true}, "give only one of"},
		{"settings", ConfigureOptions{Settings: s3settings.Defaults(), SecretName: "s", DryRun: DryRunNone}, "--bucket is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadCredentials(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name          string
		o             ConfigureOptions
		key, secret   string
		wantErrSubstr string
	}{
		{"key and secret file", ConfigureOptions{Key: "k", KeySecretFile: "/s", ReadFile: func(string) ([]byte, error) { return []byte("s\n"), nil }}, "k", "s", ""},
		{"secret file on stdin", ConfigureOptions{Key: "k", KeySecretFile: "-", IOStreams: genericiooptions.IOStreams{In: strings.NewReader("s\n")}}, "k", "s", ""},
		{"secret file of two lines", ConfigureOptions{Key: "k", KeySecretFile: "-", IOStreams: genericiooptions.IOStreams{In: strings.NewReader("s\nx\n")}}, "", "", "alone on one line"},
		{"both envs: pgbackrest's wins", ConfigureOptions{KeyFromEnv: true, IOStreams: genericiooptions.IOStreams{ErrOut: io.Discard}, LookupEnv: env(map[string]string{
			"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "as", "PGBACKREST_REPO2_S3_KEY": "pk", "PGBACKREST_REPO2_S3_KEY_SECRET": "ps"})}, "pk", "ps", ""},
		{"aws env", ConfigureOptions{KeyFromEnv: true, IOStreams: genericiooptions.IOStreams{ErrOut: io.Discard}, LookupEnv: env(map[string]string{
			"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "as", "PGBACKREST_REPO2_S3_KEY": "pk"})}, "ak", "as", ""},
		{"no env", ConfigureOptions{KeyFromEnv: true, LookupEnv: env(nil)}, "", "", "--key-from-env: set PGBACKREST_REPO2_S3_KEY"},
		{"terminal", ConfigureOptions{KeyStdin: true, StdinTTY: true, ReadPassword: func() (string, error) { return "s1", nil },
			IOStreams: genericiooptions.IOStreams{In: strings.NewReader("k1\n"), ErrOut: io.Discard}}, "k1", "s1", ""},
		{"stdin", ConfigureOptions{KeyStdin: true, IOStreams: genericiooptions.IOStreams{In: strings.NewReader("k1\r\ns1\n")}}, "k1", "s1", ""},
		{"stdin one line", ConfigureOptions{KeyStdin: true, IOStreams: genericiooptions.IOStreams{In: strings.NewReader("k1\n")}}, "", "", "--key-stdin: want two non-empty lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.loadCredentials()
			if tt.wantErrSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstr) {
					t.Errorf("err = %v, want %q", err, tt.wantErrSubstr)
				}
				return
			}
			if err != nil || tt.o.Settings.Key != tt.key || tt.o.Settings.KeySecret != tt.secret {
				t.Errorf("got %q/%q, %v", tt.o.Settings.Key, tt.o.Settings.KeySecret, err)
			}
		})
	}
}

func TestCompleteReadsCABundle(t *testing.T) {
	o := NewConfigureOptions(genericiooptions.IOStreams{})
	o.Key = "k"
	o.CABundleFile = "ca.crt"
	o.ReadFile = func(string) ([]byte, error) { return nil, errors.New("no such file") }
	if err := o.Complete(); err == nil || !strings.Contains(err.Error(), "--ca-bundle: no such file") {
		t.Errorf("err = %v", err)
	}
}

func configured(t *testing.T, dryRun string, out *bytes.Buffer) *ConfigureOptions {
	t.Helper()
	o := NewConfigureOptions(genericiooptions.IOStreams{Out: out, ErrOut: &bytes.Buffer{}})
	o.Settings = validSettings()
	o.Namespace = "ns"
	o.DryRun = dryRun
	return o
}

func TestConfigureRunApplies(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	o := configured(t, DryRunNone, &out)
	cs := fake.NewClientset()
	o.Client = cs
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "secret/pgbackrest-s3 configured\n" {
		t.Errorf("output %q", got)
	}
	sec, err := cs.CoreV1().Secrets("ns").Get(ctx, "pgbackrest-s3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s3settings.FromSecret(sec)
	if got.Bucket != "backups" || got.KeySecret != "topsecret" || sec.Labels["app.kubernetes.io/managed-by"] != "kubectl-pgbackrest" {
		t.Errorf("stored %+v %v", got, sec.Labels)
	}
	// Re-running converges.
	if err := o.Run(ctx); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

func TestConfigureDryRunClientPrintsYAML(t *testing.T) {
	var out bytes.Buffer
	o := configured(t, DryRunClient, &out)
	o.Output = "yaml"
	if err := o.Run(context.Background()); err != nil { // no client: nothing is sent
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: v1", "kind: Secret", "name: pgbackrest-s3", "namespace: ns", "key-secret: REDACTED (9 bytes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("yaml lacks %q:\n%s", want, out.String())
		}
	}
}

// The key secret is never printed unless asked for, and a dry run never prints it at all.
func TestConfigurePrintsNoSecret(t *testing.T) {
	secret := "topsecret"
	for _, tc := range []struct {
		dryRun, output string
		show           bool
		want           string
	}{
		{DryRunClient, "yaml", false, "REDACTED (9 bytes"},
		{DryRunClient, "json", true, "PLACEHOLDER (a dry run never prints secret values)"},
		{DryRunNone, "yaml", false, "REDACTED (9 bytes"},
		{DryRunNone, "json", true, base64.StdEncoding.EncodeToString([]byte(secret))},
	} {
		var out bytes.Buffer
		o := configured(t, tc.dryRun, &out)
		o.Output, o.ShowSecrets = tc.output, tc.show
		if tc.dryRun == DryRunNone {
			o.Client = fake.NewClientset()
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if !strings.Contains(got, tc.want) {
			t.Errorf("%+v: output lacks %q:\n%s", tc, tc.want, got)
		}
		if !tc.show || tc.dryRun != DryRunNone {
			for _, leak := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
				if strings.Contains(got, leak) {
					t.Errorf("%+v: output holds the key secret:\n%s", tc, got)
				}
			}
		}
	}
	o := configured(t, DryRunClient, &bytes.Buffer{})
	o.ShowSecrets = true
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--show-secrets needs -o yaml or -o json") {
		t.Errorf("--show-secrets without -o: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestShow(t *testing.T) {
	ctx := context.Background()
	sec := validSettings().Secret("ns", "pgbackrest-s3")
	for _, tt := range []struct {
		format output.Format
		want   []string
	}{
		{output.Table, []string{"bucket       backups", "AKIA****(20 chars)", "key-secret   ****", "(system CAs)"}},
		{output.JSON, []string{`"key": "AKIA****(20 chars)"`, `"keySecret": "****"`}},
	} {
		var out, errOut bytes.Buffer
		o := &ShowOptions{IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}, SecretName: "pgbackrest-s3",
			Namespace: "ns", Client: fake.NewClientset(sec), format: tt.format, Now: time.Now, color: output.NewColor(false)}
		if err := o.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "topsecret") || strings.Contains(out.String(), "AKIAEXAMPLE") {
			t.Errorf("credentials leaked:\n%s", out.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", tt.format, w, out.String())
			}
		}
	}
}

func TestShowMissingSecretSaysHowToCreate(t *testing.T) {
	o := &ShowOptions{IOStreams: genericiooptions.IOStreams{Out: &bytes.Buffer{}}, SecretName: "pgbackrest-s3",
		Namespace: "ns", Client: fake.NewClientset(), format: output.Table, Now: time.Now}
	err := o.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kubectl pgbackrest s3 configure -n ns") {
		t.Errorf("err = %v", err)
	}
}

// Turning certificate checks off is allowed (test servers) but never silent.
func TestConfigureWarnsWithoutVerifyTLS(t *testing.T) {
	for _, verify := range []bool{true, false} {
		var out, errOut bytes.Buffer
		o := configured(t, DryRunClient, &out)
		o.ErrOut = &errOut
		o.Settings.VerifyTLS = verify
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(errOut.String(), "warning: S3 Secret pgbackrest-s3 has verify-tls=false")
		if warned == verify {
			t.Errorf("verify-tls=%v: stderr %q", verify, errOut.String())
		}
	}
}
