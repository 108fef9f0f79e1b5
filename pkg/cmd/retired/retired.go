// Package retired is `kubectl pgbackrest retired`: the data PVCs that restores replaced and kept.
package retired

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/restore"
)

// Options are the flags of `retired`.
type Options struct {
	genericiooptions.IOStreams

	Output string

	Cluster   string
	Namespace string
	format    output.Format
	client    kubernetes.Interface
}

// NewOptions holds every default of `retired`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Output: string(output.Table)}
}

// NewCmd returns `retired`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "retired CLUSTER",
		Short: "List the data PVCs that restores replaced (kept until cleaned up)",
		Long: `A restore never deletes the data PVC it replaces: it labels it pgbackrest.dev/retired-at. retired
lists them with when they were retired and their size; delete one with
"kubectl pgbackrest cleanup CLUSTER --pvc NAME".`,
		Example: `  kubectl pgbackrest retired mydb
  kubectl pgbackrest retired mydb -o json`,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
	return cmd
}

// Complete takes the cluster name and builds the client.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	ns, _, err := deps.Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	o.client, err = deps.Clientset()
	return err
}

// Validate checks the flags.
func (o *Options) Validate() error {
	f, err := output.ParseFormat(o.Output)
	if err != nil {
		return exitcode.Usage(fmt.Errorf("--output: %w", err))
	}
	o.format = f
	return nil
}

// Run lists and prints.
func (o *Options) Run(ctx context.Context) error {
	list, err := restore.ListRetired(ctx, o.client, o.Namespace, o.Cluster)
	if err != nil {
		return err
	}
	if o.format == output.Table && len(list.PVCs) == 0 {
		fmt.Fprintf(o.ErrOut, "cluster %s has no retired data PVCs\n", o.Cluster)
		return nil
	}
	return output.Print(o.Out, o.format, list)
}
