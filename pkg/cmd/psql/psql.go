// Package psql is `kubectl pgbackrest psql`: psql in the cluster's primary pod, run the way
// `kubectl exec -it` runs it (kubectl's own exec streaming and terminal handling).
package psql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// findTimeout bounds finding the primary pod; the session itself lasts as long as psql does.
const findTimeout = 30 * time.Second

// Runner runs the session; kube.Session in the plugin, a recorder in tests.
type Runner interface {
	Run(ctx context.Context, namespace, pod, container string, cmd []string) error
}

// Options are the arguments of `psql` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Cluster   string
	Namespace string
	// Args are psql's own arguments, after `--`.
	Args []string

	client kubernetes.Interface
	runner Runner
}

var (
	long = templates.LongDesc(`
		Open psql as the postgres superuser in the cluster's primary pod, over its unix socket (peer
		authentication: no password is involved). When stdin is a terminal the session is
		interactive, exactly like kubectl exec -it (raw mode, window resizes, Ctrl-C reaches psql);
		otherwise stdin is passed through, so SQL can be piped in. Arguments after -- go to psql.
		The exit status is psql's.`)

	example = templates.Examples(`
		# An interactive session
		kubectl pgbackrest psql mydb

		# One query, from a script
		kubectl pgbackrest psql mydb -- -At -c 'select count(*) from orders'

		# Another database, and SQL from a file
		kubectl pgbackrest psql mydb -- -d app -v ON_ERROR_STOP=1 < migrate.sql`)
)

// NewCmd returns `psql`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := &Options{IOStreams: deps.IOStreams}
	cmd := &cobra.Command{
		Use:                   "psql CLUSTER [-- PSQL-ARGS...]",
		DisableFlagsInUseLine: true,
		Short:                 "Run psql in the cluster's primary pod",
		Long:                  long,
		Example:               example,
		ValidArgsFunction:     cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Parse(args, cmd.ArgsLenAtDash()); err != nil {
				return err
			}
			if err := o.Complete(deps); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	return cmd
}

// Parse splits the arguments at `--`: the cluster before it, psql's arguments after.
func (o *Options) Parse(args []string, atDash int) error {
	before, after := args, []string(nil)
	if atDash >= 0 {
		before, after = args[:atDash], args[atDash:]
	}
	switch len(before) {
	case 1:
	case 0:
		return exitcode.Usage(errors.New("psql needs the cluster's name: kubectl pgbackrest psql CLUSTER [-- PSQL-ARGS...]"))
	default:
		return exitcode.Usage(fmt.Errorf("psql takes one cluster, got %q: put psql's own arguments after --, as in kubectl pgbackrest psql %s -- %s",
			before, before[0], before[1]))
	}
	if err := cmdutil.ValidateName("CLUSTER", before[0]); err != nil {
		return exitcode.Usage(err)
	}
	o.Cluster, o.Args = before[0], after
	return nil
}

// Complete builds the client and the session runner from the root's flags.
func (o *Options) Complete(deps *cmdutil.Deps) error {
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	config, err := deps.RESTConfig()
	if err != nil {
		return err
	}
	o.Namespace, o.client = c.Namespace, c.Client
	o.runner = kube.Session{Config: config, Client: c.Client, IOStreams: o.IOStreams}
	return nil
}

// Command is what runs in the postgres container: psql over the unix socket as the superuser,
// then the user's arguments (a later -d or -U of theirs wins, as psql reads its options in order).
func (o *Options) Command() []string {
	return append([]string{"psql", "-h", cluster.SocketDir, "-U", "postgres", "-d", "postgres"}, o.Args...)
}

// Run finds the primary pod and runs psql in it; psql's exit status becomes the plugin's.
func (o *Options) Run(ctx context.Context) error {
	findCtx, cancel := context.WithTimeout(ctx, findTimeout)
	pod, err := cluster.FindPrimaryPod(findCtx, o.client, o.Namespace, o.Cluster)
	cancel()
	if err != nil {
		return err
	}
	err = o.runner.Run(ctx, o.Namespace, pod.Name, manifest.ContainerPostgres, o.Command())
	var exit *kube.ExitError
	if errors.As(err, &exit) {
		return exitcode.WithStatus(fmt.Errorf("psql in pod %s/%s exited with status %d", o.Namespace, pod.Name, exit.Code), exit.Code)
	}
	return err
}
