// Package rotatecerts is `kubectl pgbackrest rotate-certs`: a new CA and certificates for a
// cluster's pgBackRest TLS servers, rolled into the pods without breaking WAL archiving.
package rotatecerts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/rotate"
)

const long = `Issue a new CA and new certificates for the cluster's pgBackRest TLS servers (Secret
<cluster>-pgbackrest-tls) and move the pods onto them, then prove with pgBackRest's check that WAL
archiving works. The certificates are valid for a year; check, info and list warn 30 days before
they expire.

The new CA is first trusted beside the old one (the repository host is rolled), then the new
certificates replace the old ones (the primary, then the repository host), then the old CA is
dropped (both rolled again). At every moment each side trusts what the other presents, so
archive-push keeps working; PostgreSQL restarts twice. Only one backup, restore or rotation of a
cluster runs at a time (a Lease).

The phase reached is recorded on the Secret: after Ctrl-C or a failure, run the same command again
to finish the rotation with the same new CA. A run that finds no rotation under way starts a new one.

This CA is pgBackRest's alone (the primary and the repository host reaching each other); it is not
the one applications use to verify PostgreSQL's server certificate.`

const example = `  # Rotate the certificates of mydb
  kubectl pgbackrest rotate-certs mydb

  # What it would do, changing nothing (Secret values redacted)
  kubectl pgbackrest rotate-certs mydb --dry-run=client`

// Options are the flags of `rotate-certs` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	DryRun  string
	Timeout time.Duration

	Cluster   string
	Namespace string
	deps      rotate.Deps
	holder    string
	color     *output.Color
}

// NewOptions holds every default of `rotate-certs`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, DryRun: "none", Timeout: 20 * time.Minute}
}

// NewCmd returns `rotate-certs`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:               "rotate-certs CLUSTER",
		Short:             "Issue a new CA and certificates for pgBackRest's TLS and roll them in",
		Long:              long,
		Example:           example,
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" prints the plan and the Secret it would write, changing nothing`)
	fl.Lookup("dry-run").NoOptDefVal = "client"
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long (run the command again to resume)")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	if o.DryRun != "none" && o.DryRun != "client" {
		return exitcode.Usage(fmt.Errorf(`--dry-run %q must be "none" or "client"`, o.DryRun))
	}
	if o.Timeout <= 0 {
		return exitcode.Usage(fmt.Errorf("--timeout must be positive; got %s", o.Timeout))
	}
	return nil
}

// Complete builds the clients and namespace from the root's flags and takes the cluster name.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace = c.Namespace
	o.color = deps.Color
	o.deps = rotate.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut,
		Reporter: output.NewStepReporter(o.ErrOut, deps.Color)}
	o.holder = kube.Holder()
	return nil
}

// Run rotates (or prints the plan) and says what changed.
func (o *Options) Run(ctx context.Context) error {
	cfg := rotate.Config{Namespace: o.Namespace, Cluster: o.Cluster, Holder: o.holder, Timeout: o.Timeout}
	if o.DryRun == "client" {
		p, err := rotate.DryRun(ctx, o.deps, cfg)
		if err != nil {
			return err
		}
		return o.printPlan(p)
	}
	res, err := rotate.Run(ctx, o.deps, cfg)
	if err != nil {
		return err
	}
	how := "rotated"
	if res.Resumed {
		how = "rotation finished"
	}
	fmt.Fprintf(o.Out, "cluster %s: pgBackRest certificates %s (new CA %s), valid until %s; WAL archiving checked\n",
		o.Cluster, how, res.NewCA, res.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func (o *Options) printPlan(p *rotate.Plan) error {
	var b strings.Builder
	if p.Phase.InProgress() {
		fmt.Fprintf(&b, "a rotation of cluster %s stopped in phase %q: it would resume with the CA already in the Secret\n", o.Cluster, p.Phase)
	} else {
		fmt.Fprintf(&b, "cluster %s: a new CA and certificates (valid %d days) would be issued\n", o.Cluster, int(certs.DefaultValidity.Hours()/24))
	}
	b.WriteString("steps (those already done are skipped):\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		fmt.Fprintf(o.Out, "# %s\n", line)
	}
	if p.Secret == nil {
		return nil
	}
	sec := output.Secret(p.Secret, output.RedactSecrets)
	sec.ManagedFields = nil
	sec.TypeMeta.APIVersion, sec.TypeMeta.Kind = "v1", "Secret"
	data, err := yaml.Marshal(sec)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "# the Secret after step 1:\n---\n%s", data)
	return nil
}
