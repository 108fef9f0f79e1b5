// Package cleanup is `kubectl pgbackrest cleanup`: it deletes one retired data PVC, by name,
// after confirmation.
package cleanup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/restore"
)

// ErrNotConfirmed is returned when the user does not confirm the deletion.
var ErrNotConfirmed = errors.New("cleanup not confirmed")

// Options are the flags of `cleanup`.
type Options struct {
	genericiooptions.IOStreams

	PVC string
	Yes bool

	Cluster   string
	Namespace string
	StdinTTY  bool
	client    kubernetes.Interface
}

// NewOptions holds every default of `cleanup`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams}
}

// NewCmd returns `cleanup`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "cleanup CLUSTER --pvc NAME",
		Short: "Delete one retired data PVC (its data is gone for good)",
		Long: `Delete one data PVC that a restore retired, named with --pvc. The live data PVC, the PVC of a
restore in progress and any PVC not labelled retired for this cluster are refused. List the
retired PVCs with "kubectl pgbackrest retired CLUSTER".`,
		Example:           `  kubectl pgbackrest cleanup mydb --pvc mydb`,
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
	cmd.Flags().StringVar(&o.PVC, "pvc", o.PVC, "name of the retired PVC to delete (required)")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", o.Yes, "do not ask for confirmation")
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
	w, ok := o.In.(io.Writer)
	o.StdinTTY = ok && output.IsTerminal(w)
	o.client, err = deps.Clientset()
	return err
}

// Validate checks the flags.
func (o *Options) Validate() error {
	if o.PVC == "" {
		return exitcode.Usage(errors.New("--pvc is required: name the retired PVC to delete (see `kubectl pgbackrest retired " + o.Cluster + "`)"))
	}
	return exitcode.Usage(cmdutil.ValidateName("--pvc", o.PVC))
}

// Run checks the PVC, asks for confirmation and deletes it.
func (o *Options) Run(ctx context.Context) error {
	p, err := restore.CheckCleanup(ctx, o.client, o.Namespace, o.Cluster, o.PVC)
	if err != nil {
		return err
	}
	if !o.Yes {
		if !o.StdinTTY {
			return exitcode.Usage(fmt.Errorf("%w: deleting PVC %s destroys its data; pass --yes to confirm when not on a terminal", ErrNotConfirmed, o.PVC))
		}
		fmt.Fprintf(o.ErrOut, "PVC %s (%s, retired %s) will be deleted with its data. Type its name to confirm: ",
			p.Name, p.Size, p.RetiredAt.Format(time.RFC3339))
		line, _ := bufio.NewReader(o.In).ReadString('\n')
		if strings.TrimSpace(line) != o.PVC {
			return fmt.Errorf("%w: nothing was deleted", ErrNotConfirmed)
		}
	}
	if err := restore.Cleanup(ctx, o.client, o.Namespace, o.Cluster, o.PVC); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "persistentvolumeclaim/%s deleted\n", o.PVC)
	return nil
}
