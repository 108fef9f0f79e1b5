package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
)

// Dry-run modes, as kubectl spells them.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// Environment variables --key-from-env reads, in order of preference: pgBackRest's own pair names
// this repository exactly, while the AWS pair may be the shell's credentials for something else.
var credentialEnv = [][2]string{
	{"PGBACKREST_REPO2_S3_KEY", "PGBACKREST_REPO2_S3_KEY_SECRET"},
	{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
}

// ConfigureOptions of `s3 configure`.
type ConfigureOptions struct {
	genericiooptions.IOStreams
	// Output is "" (one line), yaml, json or name; ShowSecrets prints the values with yaml/json.
	Output      string
	ShowSecrets bool

	// Settings gets the plain flags directly and the credentials in Complete.
	Settings   s3settings.Settings
	SecretName string
	DryRun     string

	// Credential sources: exactly one. The secret key is never a flag value (shell history, ps):
	// it comes from a file, the environment or stdin (without echo on a terminal).
	Key, KeySecretFile string
	KeyFromEnv         bool
	KeyStdin           bool
	CABundleFile       string
	// StdinTTY says stdin is a terminal: --key-stdin then prompts, without echo for the secret.
	StdinTTY     bool
	ReadPassword func() (string, error)

	// Edges, replaced in tests.
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)

	// Completed.
	Namespace string
	Client    kubernetes.Interface // nil with --dry-run=client
	color     *output.Color
}

// NewConfigureOptions holds every default of `s3 configure`.
func NewConfigureOptions(streams genericiooptions.IOStreams) *ConfigureOptions {
	o := &ConfigureOptions{
		IOStreams:  streams,
		Settings:   s3settings.Defaults(),
		SecretName: s3settings.DefaultSecretName,
		DryRun:     DryRunNone,
		LookupEnv:  os.LookupEnv,
		ReadFile:   os.ReadFile,
	}
	if f, ok := streams.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.StdinTTY = true
		o.ReadPassword = func() (string, error) {
			b, err := term.ReadPassword(int(f.Fd()))
			return string(b), err
		}
	}
	return o
}

func newConfigureCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewConfigureOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "configure --bucket B --endpoint HOST[:PORT] --region R (--key-from-env | --key-stdin | --key K --key-secret-file FILE)",
		Short: "Write the namespace's S3 Secret (bucket, endpoint, region, credentials, CA bundle)",
		Long: `Write the Secret (default pgbackrest-s3) that clusters with storage "s3" use for
pgBackRest's repo2. It is applied with Server-Side Apply, so running it again updates it.
Everything is validated before anything is sent to the cluster.`,
		Example: `  # MinIO inside the cluster, credentials from the environment
  kubectl pgbackrest s3 configure --bucket backups --endpoint minio.minio.svc:9000 \
    --region us-east-1 --uri-style path --ca-bundle minio-ca.crt --key-from-env

  # credentials on stdin (key on the first line, secret on the second); on a terminal it
  # asks for them, without echoing the secret
  printf '%s\n%s\n' "$KEY" "$SECRET" | kubectl pgbackrest s3 configure --bucket backups \
    --endpoint s3.eu-west-1.amazonaws.com --region eu-west-1 --key-stdin

  # the secret key from a file (mode 0600), the key id as a flag
  kubectl pgbackrest s3 configure ... --key AKIA... --key-secret-file ~/.s3-secret

  # see what would be written
  kubectl pgbackrest s3 configure ... --dry-run=client -o yaml`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			if err := o.CompleteCluster(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Settings.Bucket, "bucket", "", "S3 bucket")
	f.StringVar(&o.Settings.Endpoint, "endpoint", "", "S3 endpoint: host or host:port, no scheme (always HTTPS)")
	f.StringVar(&o.Settings.Region, "region", "", "S3 region")
	f.StringVar(&o.Settings.URIStyle, "uri-style", o.Settings.URIStyle, "S3 URI style: host (virtual-hosted, AWS) or path (MinIO and most self-hosted servers)")
	f.BoolVar(&o.Settings.VerifyTLS, "verify-tls", o.Settings.VerifyTLS, "Verify the S3 server's TLS certificate")
	f.StringVar(&o.Key, "key", "", "S3 access key")
	f.StringVar(&o.KeySecretFile, "key-secret-file", "", "Read the S3 secret key (with --key) from this file, - for stdin")
	f.BoolVar(&o.KeyFromEnv, "key-from-env", false, "Read credentials from PGBACKREST_REPO2_S3_KEY/PGBACKREST_REPO2_S3_KEY_SECRET, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	f.BoolVar(&o.KeyStdin, "key-stdin", false, "Read credentials from stdin: the key on the first line, the secret on the second (asked for, without echo, on a terminal)")
	f.StringVar(&o.CABundleFile, "ca-bundle", "", "PEM file with the CA certificates that sign the S3 server's certificate")
	f.StringVar(&o.SecretName, "secret-name", o.SecretName, "Name of the Secret")
	f.StringVar(&o.DryRun, "dry-run", o.DryRun, "none, client (print, send nothing) or server (validate on the server, persist nothing)")
	f.Lookup("dry-run").NoOptDefVal = DryRunClient
	f.StringVarP(&o.Output, "output", "o", o.Output, "Print the Secret: yaml, json or name")
	f.BoolVar(&o.ShowSecrets, "show-secrets", o.ShowSecrets, "With -o yaml|json, print the credentials too (a dry run prints placeholders; without this flag, sizes only)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json", "name"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("uri-style", cobra.FixedCompletions([]string{"host", "path"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{DryRunNone, DryRunClient, DryRunServer}, cobra.ShellCompDirectiveNoFileComp))
	o.color = deps.Color
	return cmd
}

// credentialSources counts the credential sources given.
func (o *ConfigureOptions) credentialSources() int {
	n := 0
	if o.Key != "" || o.KeySecretFile != "" {
		n++
	}
	if o.KeyFromEnv {
		n++
	}
	if o.KeyStdin {
		n++
	}
	return n
}

var errSources = errors.New("give only one of --key/--key-secret-file, --key-from-env and --key-stdin")

// Complete reads the credentials and the CA bundle. Problems with what the user gave are usage
// errors. Nothing here needs a kubeconfig, so bad flags fail with exit status 2 anywhere.
func (o *ConfigureOptions) Complete() error {
	if o.credentialSources() > 1 {
		return cmdutil.Usage(errSources)
	}
	if err := o.loadCredentials(); err != nil {
		return cmdutil.Usage(err)
	}
	if o.CABundleFile != "" {
		b, err := o.ReadFile(o.CABundleFile)
		if err != nil {
			return cmdutil.Usage(fmt.Errorf("--ca-bundle: %w", err))
		}
		o.Settings.CABundle = b
	}
	return nil
}

// CompleteCluster resolves the namespace, the printer and (unless --dry-run=client) the client.
// It runs after Validate.
func (o *ConfigureOptions) CompleteCluster(deps *cmdutil.Deps) error {
	ns, _, err := deps.Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	if o.DryRun != DryRunClient {
		if o.Client, err = deps.Clientset(); err != nil {
			return err
		}
	}
	return nil
}

func (o *ConfigureOptions) loadCredentials() error {
	switch {
	case o.KeyFromEnv:
		for _, pair := range credentialEnv {
			k, okK := o.LookupEnv(pair[0])
			s, okS := o.LookupEnv(pair[1])
			if okK && okS && k != "" && s != "" {
				o.Settings.Key, o.Settings.KeySecret = k, s
				fmt.Fprintf(o.ErrOut, "credentials from %s (%s) and %s\n", pair[0], s3settings.MaskKey(k), pair[1])
				return nil
			}
		}
		return fmt.Errorf("--key-from-env: set %s and %s (or %s and %s)",
			credentialEnv[0][0], credentialEnv[0][1], credentialEnv[1][0], credentialEnv[1][1])
	case o.KeyStdin && o.StdinTTY:
		k, s, err := o.promptCredentials()
		if err != nil {
			return fmt.Errorf("--key-stdin: %w", err)
		}
		o.Settings.Key, o.Settings.KeySecret = k, s
	case o.KeyStdin:
		k, s, err := readCredentials(o.In)
		if err != nil {
			return fmt.Errorf("--key-stdin: %w", err)
		}
		o.Settings.Key, o.Settings.KeySecret = k, s
	case o.KeySecretFile != "":
		s, err := o.readSecretFile()
		if err != nil {
			return fmt.Errorf("--key-secret-file: %w", err)
		}
		o.Settings.Key, o.Settings.KeySecret = o.Key, s
	default:
		o.Settings.Key = o.Key
	}
	return nil
}

// readSecretFile reads the secret key from --key-secret-file ("-": stdin), one line.
func (o *ConfigureOptions) readSecretFile() (string, error) {
	var b []byte
	var err error
	if o.KeySecretFile == "-" {
		if o.In == nil {
			return "", errors.New("no stdin")
		}
		b, err = io.ReadAll(io.LimitReader(o.In, 64<<10))
	} else {
		b, err = o.ReadFile(o.KeySecretFile)
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" || strings.ContainsAny(s, "\n\r") {
		return "", errors.New("want the secret key alone on one line")
	}
	return s, nil
}

// promptCredentials asks for the key id (echoed) and the secret key (not echoed) on a terminal.
func (o *ConfigureOptions) promptCredentials() (key, secret string, err error) {
	fmt.Fprint(o.ErrOut, "S3 access key id: ")
	key, err = bufio.NewReader(o.In).ReadString('\n')
	if err != nil {
		return "", "", err
	}
	fmt.Fprint(o.ErrOut, "S3 secret key (not shown): ")
	secret, err = o.ReadPassword()
	fmt.Fprintln(o.ErrOut)
	if err != nil {
		return "", "", err
	}
	key, secret = strings.TrimSpace(key), strings.TrimSpace(secret)
	if key == "" || secret == "" {
		return "", "", errors.New("both the access key id and the secret key are needed")
	}
	return key, secret, nil
}

// readCredentials reads two lines: the access key, then the secret key.
func readCredentials(r io.Reader) (key, secret string, err error) {
	if r == nil {
		return "", "", errors.New("no stdin")
	}
	sc := bufio.NewScanner(r)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if len(lines) < 2 || lines[0] == "" || lines[1] == "" {
		return "", "", errors.New("want two non-empty lines: the access key, then the secret key")
	}
	return lines[0], lines[1], nil
}

// Validate checks everything without the cluster.
func (o *ConfigureOptions) Validate() error {
	var errs []error
	if o.credentialSources() > 1 {
		errs = append(errs, errSources)
	}
	switch o.DryRun {
	case DryRunNone, DryRunClient, DryRunServer:
	default:
		errs = append(errs, fmt.Errorf("--dry-run must be none, client or server; got %q", o.DryRun))
	}
	if err := cmdutil.ValidateName("--secret-name", o.SecretName); err != nil {
		errs = append(errs, err)
	}
	switch o.Output {
	case "", "yaml", "json", "name":
	default:
		errs = append(errs, fmt.Errorf("-o/--output %q: use yaml, json or name", o.Output))
	}
	if o.ShowSecrets && o.Output != "yaml" && o.Output != "json" {
		errs = append(errs, errors.New("--show-secrets needs -o yaml or -o json"))
	}
	if err := o.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run applies the Secret (or prints it with --dry-run=client).
func (o *ConfigureOptions) Run(ctx context.Context) error {
	if !o.Settings.VerifyTLS {
		output.Warn(o.ErrOut, o.color, "%s", s3settings.NoVerifyWarning(o.SecretName, o.Settings.Endpoint))
	}
	sec := o.Settings.Secret(o.Namespace, o.SecretName)
	if o.DryRun == DryRunClient {
		return o.print(sec)
	}
	got, err := kube.Apply(ctx, o.Client, sec, kube.ApplyOptions{DryRun: o.DryRun == DryRunServer})
	if err != nil {
		return fmt.Errorf("writing the S3 settings: %w", err)
	}
	got.SetGroupVersionKind(sec.GroupVersionKind())
	return o.print(got)
}

// print writes what was configured: one line, its name, or the Secret with its credentials
// redacted unless --show-secrets (and never from a dry run).
func (o *ConfigureOptions) print(sec *corev1.Secret) error {
	suffix := map[string]string{DryRunClient: " (dry run)", DryRunServer: " (server dry run)"}[o.DryRun]
	sec = output.Secret(sec, output.SecretValuesFor(o.ShowSecrets, o.DryRun != DryRunNone))
	switch o.Output {
	case "yaml":
		return (&printers.YAMLPrinter{}).PrintObj(sec, o.Out)
	case "json":
		return (&printers.JSONPrinter{}).PrintObj(sec, o.Out)
	case "name":
		_, err := fmt.Fprintf(o.Out, "secret/%s\n", sec.Name)
		return err
	default:
		_, err := fmt.Fprintf(o.Out, "secret/%s configured%s\n", sec.Name, suffix)
		return err
	}
}
