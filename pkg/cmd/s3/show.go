package s3

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
)

// ShowOptions of `s3 show`.
type ShowOptions struct {
	genericiooptions.IOStreams
	SecretName string
	Output     string
	Now        func() time.Time

	// Completed.
	Namespace string
	Client    kubernetes.Interface
	format    output.Format
	color     *output.Color
}

// NewShowOptions holds every default of `s3 show`.
func NewShowOptions(streams genericiooptions.IOStreams) *ShowOptions {
	return &ShowOptions{IOStreams: streams, SecretName: s3settings.DefaultSecretName, Now: time.Now}
}

func newShowCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewShowOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the namespace's S3 settings, credentials masked",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			if err := o.Complete(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.SecretName, "secret-name", o.SecretName, "Name of the Secret")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	o.color = deps.Color
	return cmd
}

// Complete resolves the namespace and the client.
func (o *ShowOptions) Complete(deps *cmdutil.Deps) error {
	ns, _, err := deps.Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	o.Client, err = deps.Clientset()
	return err
}

// Validate checks the flags without the cluster.
func (o *ShowOptions) Validate() error {
	f, err := output.ParseFormat(o.Output)
	if err != nil {
		return err
	}
	o.format = f
	return cmdutil.ValidateName("--secret-name", o.SecretName)
}

// View is what `s3 show` prints. Credentials never appear in clear.
type View struct {
	Namespace string                   `json:"namespace"`
	Secret    string                   `json:"secret"`
	Bucket    string                   `json:"bucket"`
	Endpoint  string                   `json:"endpoint"`
	Region    string                   `json:"region"`
	URIStyle  string                   `json:"uriStyle"`
	VerifyTLS bool                     `json:"verifyTLS"`
	Key       string                   `json:"key"`
	KeySecret string                   `json:"keySecret"`
	CA        []s3settings.CertSummary `json:"ca,omitempty"`
	// Problems lists what makes the settings unusable, if anything.
	Problems string `json:"problems,omitempty"`
}

// NewView builds the masked view of s.
func NewView(ns, name string, s s3settings.Settings, now time.Time) View {
	v := View{
		Namespace: ns, Secret: name, Bucket: s.Bucket, Endpoint: s.Endpoint, Region: s.Region,
		URIStyle: s.URIStyle, VerifyTLS: s.VerifyTLS, Key: s3settings.MaskKey(s.Key),
	}
	if s.KeySecret != "" {
		v.KeySecret = "****"
	}
	if len(s.CABundle) > 0 {
		ca, err := s3settings.SummarizeCA(s.CABundle, now)
		if err != nil {
			v.Problems = fmt.Sprintf("%s: %v", s3settings.KeyCABundle, err)
		}
		v.CA = ca
	}
	if err := s.Validate(); err != nil && v.Problems == "" {
		v.Problems = err.Error()
	}
	return v
}

// Table implements output.Tabler: one setting per row.
func (v View) Table() ([]string, [][]string) {
	rows := [][]string{
		{"secret", v.Namespace + "/" + v.Secret},
		{"bucket", v.Bucket},
		{"endpoint", v.Endpoint},
		{"region", v.Region},
		{"uri-style", v.URIStyle},
		{"verify-tls", strconv.FormatBool(v.VerifyTLS)},
		{"key", v.Key},
		{"key-secret", v.KeySecret},
	}
	if len(v.CA) == 0 {
		rows = append(rows, []string{"ca", "(system CAs)"})
	}
	for _, c := range v.CA {
		exp := "expires"
		if c.Expired {
			exp = "EXPIRED"
		}
		rows = append(rows, []string{"ca", fmt.Sprintf("%s (%s %s)", c.Subject, exp, c.NotAfter.Format("2006-01-02"))})
	}
	return []string{"setting", "value"}, rows
}

// Run reads the Secret and prints it.
func (o *ShowOptions) Run(ctx context.Context) error {
	sec, err := o.Client.CoreV1().Secrets(o.Namespace).Get(ctx, o.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("secret %s/%s not found: create it with: kubectl pgbackrest s3 configure -n %s --bucket ... --endpoint ... --region ... --key-from-env",
			o.Namespace, o.SecretName, o.Namespace)
	}
	if err != nil {
		return kube.Explain(fmt.Errorf("reading secret %s/%s: %w", o.Namespace, o.SecretName, err), "get", "secrets", o.Namespace)
	}
	s, err := s3settings.FromSecret(sec)
	if err != nil {
		return err
	}
	v := NewView(o.Namespace, o.SecretName, s, o.Now())
	if v.Problems != "" && o.format == output.Table {
		output.Warn(o.ErrOut, o.color, "these settings are not usable yet: %s", v.Problems)
	}
	return output.Print(o.Out, o.format, v)
}
