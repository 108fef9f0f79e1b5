// Package cmdutil is what every verb gets from the root command: Deps (a small factory built once
// per invocation, never a global) and helpers that make cobra's usage errors map to exit status 2.
package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Deps is passed to each verb's NewCmd. Verbs use it only in Complete, to build the narrow
// dependencies their Options hold (a kubernetes.Interface, an Executor, a namespace). Nothing
// here talks to the cluster until asked, so `version` and `completion` never build a client.
type Deps struct {
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	// Color is configured from --color before any verb runs.
	Color *output.Color
}

// RESTConfig returns the client configuration from kubeconfig and flags (User-Agent set).
func (d *Deps) RESTConfig() (*rest.Config, error) {
	c, err := d.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	return c, nil
}

// Clientset returns a typed client.
func (d *Deps) Clientset() (kubernetes.Interface, error) {
	c, err := d.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return cs, nil
}

// Executor returns the real pod Executor.
func (d *Deps) Executor() (kube.Executor, error) {
	c, err := d.ClusterClients()
	return c.Exec, err
}

// Clients is what a verb working on one cluster needs from the root's flags.
type Clients struct {
	Namespace string
	Client    kubernetes.Interface
	Exec      kube.Executor
}

// ClusterClients resolves the namespace and builds the client and the pod executor from one
// REST config, so a verb loads the kubeconfig once.
func (d *Deps) ClusterClients() (Clients, error) {
	ns, _, err := d.Namespace()
	if err != nil {
		return Clients{}, err
	}
	c, err := d.RESTConfig()
	if err != nil {
		return Clients{}, err
	}
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return Clients{}, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return Clients{Namespace: ns, Client: cs, Exec: kube.NewExecutor(c, cs)}, nil
}

// Namespace returns the namespace from -n or the kubeconfig context, and whether -n was given.
func (d *Deps) Namespace() (string, bool, error) {
	ns, explicit, err := d.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", false, fmt.Errorf("finding the namespace: %w", err)
	}
	return ns, explicit, nil
}

// Usage marks err as a usage error (exit status 2). Verbs return Usage(o.Validate()).
func Usage(err error) error { return exitcode.Usage(err) }

// Args wraps a cobra positional-argument validator so its errors are usage errors.
func Args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		return exitcode.Usage(v(cmd, args))
	}
}

// NoArgs, ExactArgs and MaximumNArgs are cobra's, as usage errors.
var (
	NoArgs = Args(cobra.NoArgs)
)

// ExactArgs wants exactly n positional arguments, named by the upper-case words of the command's
// Use ("backup CLUSTER"), and says which is missing or extra in the plugin's words (not cobra's
// "accepts 1 arg(s), received 0"), as a usage error.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		names := argNames(cmd.Use)
		usage := cmd.CommandPath()
		for _, a := range names {
			usage += " " + a
		}
		if len(args) < n {
			missing := "an argument"
			if len(args) < len(names) {
				missing = names[len(args)]
			}
			return exitcode.Usage(fmt.Errorf("%s is required: %s (see `%s --help`)", missing, usage, cmd.CommandPath()))
		}
		return exitcode.Usage(fmt.Errorf("unexpected argument %q: %s takes %s; flags start with -- (see `%s --help`)",
			args[n], usage, argCount(n, names), cmd.CommandPath()))
	}
}

// argNames are the placeholder words of a Use line after the command's name: "CLUSTER", "PVC".
func argNames(use string) []string {
	var out []string
	for i, w := range strings.Fields(use) {
		if i == 0 {
			continue
		}
		if strings.Trim(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != "" {
			break // flags and their values ("--pvc NAME") follow the positional arguments
		}
		out = append(out, w)
	}
	return out
}

func argCount(n int, names []string) string {
	what := fmt.Sprintf("%d arguments", n)
	if n == 1 {
		what = "one argument"
	}
	if n == len(names) && n > 0 {
		what += ", " + strings.Join(names, " ")
	}
	return what
}

// MaximumNArgs is cobra.MaximumNArgs as a usage error.
func MaximumNArgs(n int) cobra.PositionalArgs { return Args(cobra.MaximumNArgs(n)) }

// GroupCommand makes cmd (a command that only holds subcommands, like `s3`) print its help when
// run bare and fail with a usage error, suggesting close names, for an unknown subcommand.
func GroupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return exitcode.Usage(fmt.Errorf("%s\nRun '%s --help' for usage", msg, c.CommandPath()))
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// FlagError is the root's SetFlagErrorFunc: bad flags are usage errors.
func FlagError(_ *cobra.Command, err error) error { return exitcode.Usage(err) }

// ValidateName checks a Kubernetes object name given with flag (DNS-1123 subdomain).
func ValidateName(flag, name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("%s %q is not a valid name: %s", flag, name, strings.Join(msgs, "; "))
	}
	return nil
}

// ParseStorageFlag parses an optional --storage value: "" means the verb's default (nil).
func ParseStorageFlag(s string) ([]pgbackrest.Storage, error) {
	if s == "" {
		return nil, nil
	}
	st, err := pgbackrest.ParseStorageList(s)
	if err != nil {
		return nil, exitcode.Usage(fmt.Errorf("--storage: %w", err))
	}
	return st, nil
}
