// Package version is `kubectl pgbackrest version`.
package version

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// Options of `version`.
type Options struct {
	genericiooptions.IOStreams
	Output string
	format output.Format
	Info   version.Info
}

// NewOptions holds the defaults.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Info: version.Get()}
}

// NewCmd wires `version`. It never builds a client.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml (default: text)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete has nothing to resolve.
func (o *Options) Complete() error { return nil }

// Validate checks -o.
func (o *Options) Validate() error {
	if o.Output == "" {
		return nil
	}
	f, err := output.ParseFormat(o.Output, output.JSON, output.YAML)
	o.format = f
	return err
}

// Run prints the version.
func (o *Options) Run() error {
	if o.format != "" {
		return output.Print(o.Out, o.format, o.Info)
	}
	i := o.Info
	_, err := fmt.Fprintf(o.Out, "kubectl-pgbackrest %s\n  commit:   %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
		i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
	return err
}
