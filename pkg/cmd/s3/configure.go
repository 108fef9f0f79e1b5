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
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

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

// Environment variables --key-from-env reads, in order of preference.
var credentialEnv = [][2]string{
	{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
	{"PGBACKREST_REPO2_S3_KEY", "PGBACKREST_REPO2_S3_KEY_SECRET"},
}

// ConfigureOptions of `s3 configure`.
type ConfigureOptions struct {
	genericiooptions.IOStreams
	PrintFlags *genericclioptions.PrintFlags

	// Settings gets the plain flags directly and the credentials in Complete.
	Settings   s3settings.Settings
	SecretName string
	DryRun     string

	// Credential sources: exactly one.
	Key, KeySecret string
	KeyFromEnv     bool
	KeyStdin       bool
	CABundleFile   string

	// Edges, replaced in tests.
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)

	// Completed.
	Namespace string
	Client    kubernetes.Interface // nil with --dry-run=client
	printer   printers.ResourcePrinter
	color     *output.Color
}

// NewConfigureOptions holds every default of `s3 configure`.
func NewConfigureOptions(streams genericiooptions.IOStreams) *ConfigureOptions {
	return &ConfigureOptions{
		IOStreams:  streams,
		PrintFlags: genericclioptions.NewPrintFlags("configured").WithTypeSetter(scheme.Scheme),
		Settings:   s3settings.Defaults(),
		SecretName: s3settings.DefaultSecretName,
		DryRun:     DryRunNone,
		LookupEnv:  os.LookupEnv,
		ReadFile:   os.ReadFile,
	}
}

func newConfigureCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewConfigureOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "configure --bucket B --endpoint HOST[:PORT] --region R (--key-from-env | --key-stdin | --key K --key-secret S)",
		Short: "Write the namespace's S3 Secret (bucket, endpoint, region, credentials, CA bundle)",
		Long: `Write the Secret (default pgbackrest-s3) that clusters with storage "s3" use for
pgBackRest's repo2. It is applied with Server-Side Apply, so running it again updates it.
Everything is validated before anything is sent to the cluster.`,
		Example: `  # MinIO inside the cluster, credentials from the environment
  kubectl pgbackrest s3 configure --bucket backups --endpoint minio.minio.svc:9000 \
    --region us-east-1 --uri-style path --ca-bundle minio-ca.crt --key-from-env

  # credentials on stdin (key on the first line, secret on the second)
  printf '%s\n%s\n' "$KEY" "$SECRET" | kubectl pgbackrest s3 configure --bucket b \
    --endpoint s3.eu-west-1.amazonaws.com --region eu-west-1 --key-stdin

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
	f.StringVar(&o.KeySecret, "key-secret", "", "S3 secret key (visible in shell history: prefer --key-from-env or --key-stdin)")
	f.BoolVar(&o.KeyFromEnv, "key-from-env", false, "Read credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or PGBACKREST_REPO2_S3_KEY/PGBACKREST_REPO2_S3_KEY_SECRET")
	f.BoolVar(&o.KeyStdin, "key-stdin", false, "Read credentials from stdin: the key on the first line, the secret on the second")
	f.StringVar(&o.CABundleFile, "ca-bundle", "", "PEM file with the CA certificates that sign the S3 server's certificate")
	f.StringVar(&o.SecretName, "secret-name", o.SecretName, "Name of the Secret")
	f.StringVar(&o.DryRun, "dry-run", o.DryRun, "none, client (print, send nothing) or server (validate on the server, persist nothing)")
	f.Lookup("dry-run").NoOptDefVal = DryRunClient
	o.PrintFlags.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("uri-style", cobra.FixedCompletions([]string{"host", "path"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{DryRunNone, DryRunClient, DryRunServer}, cobra.ShellCompDirectiveNoFileComp))
	o.color = deps.Color
	return cmd
}

// credentialSources counts the credential sources given.
func (o *ConfigureOptions) credentialSources() int {
	n := 0
	if o.Key != "" || o.KeySecret != "" {
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

var errSources = errors.New("give only one of --key/--key-secret, --key-from-env and --key-stdin")

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
	if o.KeySecret != "" && o.color != nil {
		output.Warn(o.ErrOut, o.color, "--key-secret on the command line is visible in shell history and ps; prefer --key-from-env or --key-stdin")
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
	switch o.DryRun {
	case DryRunClient:
		o.PrintFlags.Complete("%s (dry run)")
	case DryRunServer:
		o.PrintFlags.Complete("%s (server dry run)")
	}
	if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
		return cmdutil.Usage(err)
	}
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
				return nil
			}
		}
		return fmt.Errorf("--key-from-env: set %s and %s (or %s and %s)",
			credentialEnv[0][0], credentialEnv[0][1], credentialEnv[1][0], credentialEnv[1][1])
	case o.KeyStdin:
		k, s, err := readCredentials(o.In)
		if err != nil {
			return fmt.Errorf("--key-stdin: %w", err)
		}
		o.Settings.Key, o.Settings.KeySecret = k, s
	default:
		o.Settings.Key, o.Settings.KeySecret = o.Key, o.KeySecret
	}
	return nil
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
	if err := o.Settings.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run applies the Secret (or prints it with --dry-run=client).
func (o *ConfigureOptions) Run(ctx context.Context) error {
	sec := o.Settings.Secret(o.Namespace, o.SecretName)
	if o.DryRun == DryRunClient {
		return o.printer.PrintObj(sec, o.Out)
	}
	got, err := kube.Apply(ctx, o.Client, sec, kube.ApplyOptions{DryRun: o.DryRun == DryRunServer})
	if err != nil {
		return fmt.Errorf("writing the S3 settings: %w", err)
	}
	got.SetGroupVersionKind(sec.GroupVersionKind())
	return o.printer.PrintObj(got, o.Out)
}
