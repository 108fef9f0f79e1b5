// Package create is `kubectl pgbackrest create CLUSTER`.
package create

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/schedule"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// Dry-run modes, as kubectl spells them.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// Placeholders of the S3 settings printed by --dry-run=client when the S3 Secret cannot be read.
const (
	placeholderBucket   = "placeholder-bucket"
	placeholderEndpoint = "placeholder-endpoint.invalid"
	placeholderRegion   = "placeholder-region"
)

// Options of `create`.
type Options struct {
	genericiooptions.IOStreams

	Name    string
	Storage string
	// PGVersion is the PostgreSQL major (cluster.SupportedPGVersions).
	PGVersion int
	// Image "" is the default image of PGVersion (cluster.DefaultImage).
	Image        string
	StorageClass string
	PGDataSize   string
	RepoSize     string
	// ArchiveBacklogMax bounds the WAL kept for a repository that is down; "" derives it.
	ArchiveBacklogMax string
	// Retention are the --retention-* flags; retention is what they give per repository.
	Retention  cluster.RetentionFlags
	retention  map[pgbackrest.Storage]cluster.Retention
	NodeLabels []string
	// CPU and Memory are REQUEST[:LIMIT] of the primary's PostgreSQL container.
	CPU, Memory string
	// ImagePullSecrets are the --image-pull-secret names, set on every pod.
	ImagePullSecrets []string
	// ScheduleFull, ScheduleDiff and ScheduleIncr are --schedule-full/diff/incr (docs/schedules.md).
	ScheduleFull, ScheduleDiff, ScheduleIncr string
	// PostgresFrom narrows who may connect to 5432 (the primary's NetworkPolicy); empty: everyone.
	PostgresFrom []string
	S3Secret     string
	DryRun       string
	Output       string
	ShowSecrets  bool
	Timeout      time.Duration
	// Encrypt is --cipher=aes-256-cbc; Cipher "" means none.
	Encrypt bool
	Cipher  string
	// RunAsUser is auto or a uid (--run-as-user).
	RunAsUser string

	// Validated.
	storages     []pgbackrest.Storage
	nodeSelector map[string]string
	resources    cluster.Resources
	cipher       string
	runAsUser    int64

	// Completed: the edges, replaced in tests.
	Namespace string
	// Client is nil with --dry-run=client when no client could be built.
	Client kubernetes.Interface
	Exec   kube.Executor
	Now    func() time.Time
	Color  *output.Color
	// Changed says whether a flag was given (to warn when an existing cluster ignores it).
	Changed func(flag string) bool
}

// NewOptions holds every default of `create`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		IOStreams:  streams,
		Storage:    string(pgbackrest.Local),
		PGVersion:  cluster.DefaultPGVersion,
		PGDataSize: "10Gi",
		RepoSize:   "20Gi",
		S3Secret:   cluster.DefaultS3Secret,
		DryRun:     DryRunNone,
		Timeout:    10 * time.Minute,
		RunAsUser:  cluster.RunAsAuto,
		Now:        time.Now,
		Color:      output.NewColor(false),
		Changed:    func(string) bool { return false },
	}
}

// NewCmd wires `create`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   "create CLUSTER [--storage=local|s3|local,s3]",
		Short: "Create a PostgreSQL cluster whose WAL is archived by pgBackRest",
		Long: `Create a PostgreSQL primary, a pgBackRest repository host, their volumes, Services,
configuration and TLS certificates, then initialise the pgBackRest stanza and check that WAL
archiving reaches every repository. Storage "local" keeps the repository on a volume of the
repository host (repo1), "s3" in the namespace's S3 bucket (repo2; create the S3 Secret first
with ` + "`kubectl pgbackrest s3 configure`" + `), "local,s3" archives to both.

--pg-version chooses the PostgreSQL major: 17 (the default) or 15, the majors an image is built
and tested for; it is fixed at create, and a cluster keeps the major it was created with. Without
--image every pod runs ` + cluster.DefaultImageRepository + `:<major>-<plugin version>, the
image released with this plugin; --image names your own (docs/image.md: it must hold PostgreSQL
of --pg-version).

--node-label places the primary, and with it every restore Job that fills a data volume for it
(a restore may replace the labels with its own --node-label). The repository host is not placed
by it: the scheduler places it and, with local storage, its volume keeps it there.

Every object of the cluster's names is read before anything is written: one that exists and is
not labelled as this cluster's (another application's Service or Deployment, a TLS Secret someone
planted, another cluster's object) stops create with exit status 2, naming it.

--encrypt (or --cipher=aes-256-cbc) encrypts every repository with a generated passphrase, kept
in Secret CLUSTER-pgbackrest-cipher: without it no backup can ever be read, so export it and keep it
outside the cluster (create prints the command). delete keeps that Secret.

Two NetworkPolicies guard the pgBackRest TLS servers (port 8432): the repository host admits only
this cluster's primary and the plugin's Jobs, the primary only the repository host. PostgreSQL
(5432) stays open to every pod and address unless --postgres-from names who may connect: a CIDR
(10.0.0.0/8) or a label selector of pods in the cluster's namespace (app=web), repeatable. They
take effect only where the cluster's network plugin enforces NetworkPolicies (docs/network.md).

--run-as-user sets the pods' uid. auto, the default, takes the first uid of the namespace's
OpenShift range (annotation openshift.io/sa.scc.uid-range) and the first of its supplemental groups
as fsGroup, where the namespace has them, and 999 (the image's postgres user) elsewhere; a uid
given must be inside that range. A uid other than 999 runs with group 0 and a passwd entry from
nss_wrapper (docs/openshift.md). Reading the namespace needs get on namespaces; without it auto
takes 999 and a warning says so.

The storage type, the cipher and the uid are fixed at create. Every step is idempotent: re-run the same command after a
failure, a timeout or Ctrl-C to resume; on a finished cluster it changes nothing. While it waits
for a pod, a line says why each time that changes; when waiting cannot help (an image that cannot
be pulled, a StorageClass that does not exist, a pod refused by admission) it stops with exit
status 1 and the fix. A create that has not finished takes the --image given to its re-run.

--dry-run=client prints the objects and sends nothing. With s3 it reads the S3 Secret when the
cluster is reachable (a read, nothing is written); otherwise the S3 settings are placeholders,
and a warning says so.`,
		Example: `  # a cluster archiving to a local repository volume
  kubectl pgbackrest create pg1

  # archiving to the local repository and to S3 at once
  kubectl pgbackrest s3 configure --bucket backups --endpoint minio.minio.svc:9000 --region us-east-1 --key-from-env
  kubectl pgbackrest create pg1 --storage=local,s3 --pgdata-size 50Gi --repo-size 100Gi

  # PostgreSQL 15 instead of 17
  kubectl pgbackrest create pg1 --pg-version 15

  # encrypted repositories (aes-256-cbc, passphrase generated into a Secret)
  kubectl pgbackrest create pg1 --storage=s3 --encrypt

  # see every object without creating anything
  kubectl pgbackrest create pg1 --dry-run=client -o yaml`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.Changed = cmd.Flags().Changed // Validate tells --image "" from no --image
			if err := o.Validate(); err != nil {
				return cmdutil.Usage(err)
			}
			if err := o.Complete(deps, cmd); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Storage, "storage", o.Storage, "Where WAL and backups go: local, s3 or local,s3 (fixed at create)")
	f.IntVar(&o.PGVersion, "pg-version", o.PGVersion, "PostgreSQL major version: "+cluster.SupportedPGVersionsText()+" (fixed at create)")
	f.StringVar(&o.Image, "image", o.Image, "Image with PostgreSQL of --pg-version and pgBackRest for every pod (default "+
		cluster.DefaultImageRepository+":<pg-version>-<this plugin's version>; see docs/image.md)")
	f.StringVar(&o.StorageClass, "storage-class", o.StorageClass, "StorageClass of the volumes (default: the cluster's default)")
	f.StringVar(&o.PGDataSize, "pgdata-size", o.PGDataSize, "Size of the PostgreSQL data volume")
	f.StringVar(&o.RepoSize, "repo-size", o.RepoSize, "Size of the local repository volume (storage local)")
	f.StringVar(&o.ArchiveBacklogMax, "archive-backlog-max", o.ArchiveBacklogMax,
		"Most WAL kept in pg_wal while a repository cannot be reached, then given up for it (default: a quarter of --pgdata-size)")
	for _, sf := range []struct {
		v   *string
		typ string
	}{{&o.ScheduleFull, "full"}, {&o.ScheduleDiff, "diff"}, {&o.ScheduleIncr, "incr"}} {
		f.StringVar(sf.v, "schedule-"+sf.typ, *sf.v, "cron expression of a scheduled "+sf.typ+" backup to every storage of the cluster, e.g. \"0 1 * * 0\" (docs/schedules.md)")
	}
	f.StringArrayVar(&o.ImagePullSecrets, "image-pull-secret", o.ImagePullSecrets,
		"Secret (type kubernetes.io/dockerconfigjson) with the credentials to pull --image, set on every pod (repeatable; kept by update)")
	f.StringVar(&o.CPU, "cpu", o.CPU, "CPU of the PostgreSQL container, REQUEST[:LIMIT] (e.g. 500m or 1:2; default request 100m, no limit); kept across restores")
	f.StringVar(&o.Memory, "memory", o.Memory, "Memory of the PostgreSQL container, REQUEST[:LIMIT] (e.g. 1Gi or 1Gi:2Gi; default request 256Mi, no limit); kept across restores")
	f.StringArrayVar(&o.NodeLabels, "node-label", o.NodeLabels, "Run the primary and its restore Jobs on nodes with this label, key=value (repeatable; not the repository host)")
	f.StringArrayVar(&o.PostgresFrom, "postgres-from", o.PostgresFrom,
		"Admit connections to PostgreSQL (5432) only from this CIDR or label selector of pods in the namespace (repeatable; default: from anywhere)")
	cmdutil.AddRetentionFlags(f, &o.Retention)
	f.StringVar(&o.S3Secret, "s3-secret", o.S3Secret, "Secret with the S3 settings and credentials (storage s3)")
	f.StringVar(&o.DryRun, "dry-run", o.DryRun, "none, client (print the objects, send nothing) or server (validate on the server, persist nothing)")
	f.Lookup("dry-run").NoOptDefVal = DryRunClient
	f.StringVarP(&o.Output, "output", "o", o.Output, "Print the objects: yaml or json")
	f.BoolVar(&o.ShowSecrets, "show-secrets", o.ShowSecrets, "With -o, print the TLS Secret's keys (a dry run prints placeholders; without this flag, sizes only)")
	f.BoolVar(&o.Encrypt, "encrypt", o.Encrypt, "Encrypt every repository (--cipher=aes-256-cbc) with a generated passphrase, in Secret CLUSTER-pgbackrest-cipher (fixed at create)")
	f.StringVar(&o.Cipher, "cipher", o.Cipher, "Repository cipher: none (the default) or aes-256-cbc (fixed at create)")
	f.StringVar(&o.RunAsUser, "run-as-user", o.RunAsUser,
		"The pods' uid: auto (the first of the namespace's OpenShift uid range, else 999) or a uid (fixed at create; see docs/openshift.md)")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the cluster to become ready; a timeout leaves it working: re-run to resume")
	_ = cmd.RegisterFlagCompletionFunc("pg-version", cobra.FixedCompletions(pgVersionWords(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions([]string{"local", "s3", "local,s3"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("cipher", cobra.FixedCompletions([]string{pgbackrest.CipherNone, pgbackrest.CipherAES256CBC}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{DryRunNone, DryRunClient, DryRunServer}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks every flag without the cluster; each error names the flag and the fix.
func (o *Options) Validate() error {
	var errs []error
	if err := cluster.ValidateName(o.Name); err != nil {
		errs = append(errs, err)
	}
	storages, err := pgbackrest.ParseStorageList(o.Storage)
	if err != nil {
		errs = append(errs, err)
	}
	o.storages = storages
	if err == nil && o.Retention.Given() {
		if o.retention, err = o.Retention.Apply(nil, storages); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cluster.CheckPGVersion("--pg-version", o.PGVersion); err != nil {
		errs = append(errs, err)
	}
	if (o.Changed != nil && o.Changed("image") && strings.TrimSpace(o.Image) == "") || strings.ContainsAny(o.Image, " \t\n") {
		errs = append(errs, fmt.Errorf("invalid --image %q: give an image reference, e.g. %s, or leave --image out for that default",
			o.Image, cluster.DefaultImage(cmp.Or(o.PGVersion, cluster.DefaultPGVersion))))
	}
	if o.StorageClass != "" {
		if err := cmdutil.ValidateName("--storage-class", o.StorageClass); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := cluster.ParseSize("--pgdata-size", o.PGDataSize); err != nil {
		errs = append(errs, err)
	}
	if _, err := cluster.ParseSize("--repo-size", o.RepoSize); err != nil {
		errs = append(errs, err)
	}
	if err := (&cluster.Spec{PGDataSize: o.PGDataSize, ArchiveBacklogMax: o.ArchiveBacklogMax}).ValidateArchiveBacklog(); err != nil {
		errs = append(errs, err)
	}
	for _, n := range o.ImagePullSecrets {
		if err := cluster.ValidateImagePullSecret(n); err != nil {
			errs = append(errs, err)
		}
	}
	sel, err := cluster.ParseNodeLabels(o.NodeLabels)
	if err != nil {
		errs = append(errs, err)
	}
	o.nodeSelector = sel
	if o.CPU != "" {
		if o.resources.CPU, o.resources.CPULimit, err = cluster.ParseResource("--cpu", o.CPU); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Memory != "" {
		if o.resources.Memory, o.resources.MemoryLimit, err = cluster.ParseResource("--memory", o.Memory); err != nil {
			errs = append(errs, err)
		}
	}
	for _, typ := range pgbackrest.BackupTypes {
		if cron, ok := o.schedules()[typ]; ok {
			if _, err := schedule.ParseCron("--schedule-"+typ, cron); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := cluster.ParsePostgresFromList(o.PostgresFrom); err != nil {
		errs = append(errs, err)
	}
	if slices.Contains(storages, pgbackrest.S3) {
		if err := cmdutil.ValidateName("--s3-secret", o.S3Secret); err != nil {
			errs = append(errs, err)
		}
	}
	if !slices.Contains([]string{DryRunNone, DryRunClient, DryRunServer}, o.DryRun) {
		errs = append(errs, fmt.Errorf("invalid --dry-run %q: use none, client or server", o.DryRun))
	}
	if o.Output != "" && o.Output != "yaml" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("invalid -o/--output %q: use yaml or json", o.Output))
	}
	if o.ShowSecrets && o.Output == "" {
		errs = append(errs, errors.New("--show-secrets needs -o yaml or -o json"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid --timeout %s: give a positive duration, e.g. 10m", o.Timeout))
	}
	cipher, err := pgbackrest.ParseCipher(o.Cipher)
	switch {
	case err != nil:
		errs = append(errs, err)
	case o.Encrypt && o.Cipher == pgbackrest.CipherNone:
		errs = append(errs, errors.New("--encrypt and --cipher=none contradict each other: give one of them"))
	case o.Encrypt:
		cipher = pgbackrest.CipherAES256CBC
	}
	o.cipher = cipher
	uid, err := cluster.ParseRunAsUser(o.RunAsUser)
	if err != nil {
		errs = append(errs, err)
	}
	o.runAsUser = uid
	return errors.Join(errs...)
}

// Complete builds the edges from deps. With --dry-run=client a client is built only for the S3
// Secret, and its absence is no error.
func (o *Options) Complete(deps *cmdutil.Deps, cmd *cobra.Command) error {
	o.Color = deps.Color
	o.Changed = func(flag string) bool { return cmd.Flags().Changed(flag) }
	ns, _, err := deps.Namespace()
	if err != nil {
		if o.DryRun != DryRunClient {
			return err
		}
		ns = metav1.NamespaceDefault
	}
	o.Namespace = ns
	if o.DryRun == DryRunClient {
		if slices.Contains(o.storages, pgbackrest.S3) || o.runAsUser == 0 {
			o.Client, _ = deps.Clientset()
		}
		return nil
	}
	if o.Client, err = deps.Clientset(); err != nil {
		return err
	}
	if o.DryRun == DryRunNone {
		if o.Exec, err = deps.Executor(); err != nil {
			return err
		}
	}
	return nil
}

// schedules are the --schedule-TYPE flags given: type → cron expression.
func (o *Options) schedules() map[string]string {
	m := map[string]string{}
	for typ, v := range map[string]string{"full": o.ScheduleFull, "diff": o.ScheduleDiff, "incr": o.ScheduleIncr} {
		if v != "" {
			m[typ] = v
		}
	}
	return m
}

func (o *Options) config() create.Config {
	return create.Config{
		Name:              o.Name,
		Namespace:         o.Namespace,
		Storages:          o.storages,
		PGVersion:         o.PGVersion,
		PGVersionExplicit: o.Changed != nil && o.Changed("pg-version"),
		Image:             o.Image,
		StorageClass:      o.StorageClass,
		PGDataSize:        o.PGDataSize,
		RepoSize:          o.RepoSize,
		ArchiveBacklogMax: o.ArchiveBacklogMax,
		Retention:         o.retention,
		NodeSelector:      o.nodeSelector,
		Resources:         o.resources,
		PostgresFrom:      o.PostgresFrom,
		S3Secret:          o.S3Secret,
		Timeout:           o.Timeout,
		Version:           version.Version,
		ImageExplicit:     o.Changed != nil && o.Changed("image"),
		Cipher:            o.cipher,
		ImagePullSecrets:  o.pullSecrets(),
		Schedules:         o.schedules(),
		RunAsUser:         o.runAsUser,
		Warn:              func(msg string) { output.Warn(o.ErrOut, o.Color, "%s", msg) },
	}
}

// pullSecrets are the --image-pull-secret names when the flag was given (nil: not given, so a
// create that never finished keeps what it has).
func (o *Options) pullSecrets() []string {
	if o.Changed == nil || !o.Changed("image-pull-secret") {
		return nil
	}
	return slices.Clone(o.ImagePullSecrets)
}

// Run creates the cluster, or prints it with --dry-run.
func (o *Options) Run(ctx context.Context) error {
	switch o.DryRun {
	case DryRunClient:
		return o.runClientDryRun(ctx)
	case DryRunServer:
		return o.runServerDryRun(ctx)
	}
	cfg := o.config()
	fmt.Fprintf(o.ErrOut, "Creating cluster %s in namespace %s (storage %s)\n", o.Name, o.Namespace, o.Storage)
	res, err := create.Run(ctx, create.Deps{
		Client:   o.Client,
		Exec:     o.Exec,
		Now:      o.Now,
		Reporter: output.NewStepReporter(o.ErrOut, o.Color),
		ErrOut:   o.ErrOut,
		Warn:     func(msg string) { output.Warn(o.ErrOut, o.Color, "%s", msg) },
	}, cfg)
	if res != nil && res.Existed {
		o.warnIgnored(res.Spec)
	}
	if err != nil {
		return err
	}
	if o.Output != "" {
		tls, err := o.Client.CoreV1().Secrets(o.Namespace).Get(ctx, res.Spec.Names().TLSSecret(), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading Secret %s/%s to print it: %w", o.Namespace, res.Spec.Names().TLSSecret(), err)
		}
		var pass []byte
		if res.Spec.Encrypted() {
			name := res.Spec.Names().CipherSecret()
			sec, err := o.Client.CoreV1().Secrets(o.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading Secret %s/%s to print it: %w", o.Namespace, name, err)
			}
			pass = sec.Data[cluster.CipherSecretKey]
		}
		if res.Changed {
			o.noteCipher(res.Spec)
		}
		objs, err := create.Objects(res.Spec, tls.Data, pass)
		if err != nil {
			return err
		}
		return o.print(objs)
	}
	storage := strings.Join(storageNames(res.Spec.Storages), ",")
	if res.Changed {
		o.noteCipher(res.Spec)
	}
	if !res.Changed {
		_, err = fmt.Fprintf(o.Out, "cluster %s already created in namespace %s (storage %s): nothing changed\n", o.Name, o.Namespace, storage)
		return err
	}
	verb := "created"
	if res.Existed {
		verb = "created (resumed)"
	}
	_, err = fmt.Fprintf(o.Out, "cluster %s %s in namespace %s: storage %s, primary %s, repository host %s\n",
		o.Name, verb, o.Namespace, storage, res.Spec.Names().Primary(), res.Spec.Names().RepoHost())
	return err
}

// warnIgnored says which explicitly given flags an existing cluster's stored spec overrides.
func (o *Options) warnIgnored(spec *cluster.Spec) {
	type diff struct{ flag, given, stored string }
	var diffs []diff
	check := func(flag, given, stored string) {
		if o.Changed(flag) && given != stored {
			diffs = append(diffs, diff{flag, given, stored})
		}
	}
	check("image", o.Image, spec.Image)
	check("storage-class", o.StorageClass, spec.StorageClass)
	check("pgdata-size", o.PGDataSize, spec.PGDataSize)
	check("archive-backlog-max", o.ArchiveBacklogMax, spec.ArchiveBacklogMax)
	if spec.Has(pgbackrest.Local) {
		check("repo-size", o.RepoSize, spec.RepoSize)
	}
	if spec.Has(pgbackrest.S3) {
		check("s3-secret", o.S3Secret, spec.S3Secret)
	}
	if o.Retention.Given() && !maps.Equal(o.retention, spec.Retention) {
		diffs = append(diffs, diff{"retention-*", fmt.Sprint(o.retention), fmt.Sprint(spec.Retention) + " (change it with `kubectl pgbackrest update`)"})
	}
	if o.Changed("node-label") && !maps.Equal(o.nodeSelector, spec.NodeSelector) {
		diffs = append(diffs, diff{"node-label", fmt.Sprint(o.nodeSelector), fmt.Sprint(spec.NodeSelector)})
	}
	if (o.Changed("cpu") || o.Changed("memory")) && o.resources != spec.Resources {
		diffs = append(diffs, diff{"cpu/--memory", fmt.Sprintf("%+v", o.resources), fmt.Sprintf("%+v", spec.Resources)})
	}
	if o.Changed("image-pull-secret") && !slices.Equal(o.ImagePullSecrets, spec.ImagePullSecrets) {
		diffs = append(diffs, diff{"image-pull-secret", strings.Join(o.ImagePullSecrets, " "), strings.Join(spec.ImagePullSecrets, " ")})
	}
	if o.Changed("run-as-user") && o.runAsUser != 0 && o.runAsUser != spec.PodUser().RunAsUser {
		diffs = append(diffs, diff{"run-as-user", o.RunAsUser, fmt.Sprint(spec.PodUser().RunAsUser)})
	}
	if o.Changed("postgres-from") && !slices.Equal(o.PostgresFrom, spec.PostgresFrom) {
		diffs = append(diffs, diff{"postgres-from", strings.Join(o.PostgresFrom, " "), strings.Join(spec.PostgresFrom, " ")})
	}
	for _, d := range diffs {
		output.Warn(o.ErrOut, o.Color, "cluster %s exists: --%s %s ignored, it keeps %q", o.Name, d.flag, d.given, d.stored)
	}
}

// runClientDryRun prints every object and sends nothing. Only the S3 Secret is read, when a
// client could be built; otherwise placeholders stand in for the S3 settings.
func (o *Options) runClientDryRun(ctx context.Context) error {
	var s3 cluster.S3
	if slices.Contains(o.storages, pgbackrest.S3) {
		var err error
		if o.Client != nil {
			// A dry run must not hang on an unreachable cluster: a short bound on this one read.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s3, err = create.ReadS3(rctx, o.Client, o.Namespace, o.S3Secret)
			cancel()
		} else {
			err = errors.New("no cluster connection")
		}
		if err != nil {
			output.Warn(o.ErrOut, o.Color, "dry run: S3 settings are placeholders (%s, %s, %s): could not read Secret %s/%s: %v",
				placeholderBucket, placeholderEndpoint, placeholderRegion, o.Namespace, o.S3Secret, err)
			s3 = cluster.S3{Bucket: placeholderBucket, Endpoint: placeholderEndpoint, Region: placeholderRegion, VerifyTLS: true}
		}
	}
	spec := create.NewSpec(o.config(), s3)
	if err := o.dryRunPodUser(ctx, spec); err != nil {
		return err
	}
	if spec.Has(pgbackrest.S3) && !s3.VerifyTLS {
		output.Warn(o.ErrOut, o.Color, "%s", s3settings.NoVerifyWarning(spec.S3Secret, s3.Endpoint))
	}
	tls, err := create.GenerateCerts(spec, o.Now())
	if err != nil {
		return err
	}
	pass, err := dryRunPassphrase(spec)
	if err != nil {
		return err
	}
	objs, err := create.Objects(spec, tls, pass)
	if err != nil {
		return err
	}
	return o.printOrList(objs, "created (dry run)")
}

// dryRunPodUser decides the pods' user as create would when the namespace can be read (a read,
// bounded like the S3 Secret's). Otherwise the objects show --run-as-user, or 999: offline (no
// client) silently, and with a warning when the read failed.
func (o *Options) dryRunPodUser(ctx context.Context, spec *cluster.Spec) error {
	if o.Client == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	u, err := create.PodUser(rctx, o.Client, o.config(), func(msg string) { output.Warn(o.ErrOut, o.Color, "dry run: %s", msg) })
	cancel()
	switch {
	case err == nil:
		spec.RunAsUser, spec.FSGroup = u.RunAsUser, u.FSGroup
	case errors.Is(err, exitcode.ErrUsage):
		return err
	case o.runAsUser == 0:
		output.Warn(o.ErrOut, o.Color, "dry run: the pods show uid %d: %v", spec.PodUser().RunAsUser, err)
	}
	return nil
}

// runServerDryRun reads the cluster as a real create would (S3 Secret, an existing cluster), then
// has the server validate every object without persisting it.
func (o *Options) runServerDryRun(ctx context.Context) error {
	spec, _, err := create.Prepare(ctx, o.Client, o.config())
	if err != nil {
		return err
	}
	tls, err := create.GenerateCerts(spec, o.Now())
	if err != nil {
		return err
	}
	pass, err := dryRunPassphrase(spec)
	if err != nil {
		return err
	}
	objs, err := create.Objects(spec, tls, pass)
	if err != nil {
		return err
	}
	out := make([]runtime.Object, 0, len(objs))
	for _, obj := range objs {
		res, err := applyDryRun(ctx, o.Client, obj)
		if err != nil {
			return err
		}
		out = append(out, res)
	}
	return o.printOrList(out, "created (server dry run)")
}

func applyDryRun(ctx context.Context, cs kubernetes.Interface, obj runtime.Object) (runtime.Object, error) {
	dry := kube.ApplyOptions{DryRun: true}
	gvk := obj.GetObjectKind().GroupVersionKind()
	var res runtime.Object
	var err error
	switch v := obj.(type) {
	case *corev1.ConfigMap:
		res, err = kube.Apply(ctx, cs, v, dry)
	case *corev1.Secret:
		res, err = kube.Apply(ctx, cs, v, dry)
	case *corev1.PersistentVolumeClaim:
		res, err = kube.Apply(ctx, cs, v, dry)
	case *corev1.Service:
		res, err = kube.Apply(ctx, cs, v, dry)
	case *networkingv1.NetworkPolicy:
		res, err = kube.Apply(ctx, cs, v, dry)
	case *appsv1.Deployment:
		res, err = kube.Apply(ctx, cs, v, dry)
	default:
		return nil, fmt.Errorf("dry run: unexpected object %T", obj)
	}
	if err != nil {
		return nil, err
	}
	res.GetObjectKind().SetGroupVersionKind(gvk)
	return res, nil
}

func (o *Options) printOrList(objs []runtime.Object, verb string) error {
	if o.Output != "" {
		return o.print(objs)
	}
	for _, obj := range objs {
		if _, err := fmt.Fprintf(o.Out, "%s %s\n", objectRef(obj), verb); err != nil {
			return err
		}
	}
	return nil
}

// print writes objs as YAML documents separated by ---, or as one JSON v1 List. The TLS Secret's
// private keys are shown only with --show-secrets, and never from a dry run.
func (o *Options) print(objs []runtime.Object) error {
	objs = output.Secrets(objs, output.SecretValuesFor(o.ShowSecrets, o.DryRun != DryRunNone))
	if o.Output == "json" {
		list := &corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
		for _, obj := range objs {
			list.Items = append(list.Items, runtime.RawExtension{Object: obj})
		}
		return (&printers.JSONPrinter{}).PrintObj(list, o.Out)
	}
	p := &printers.YAMLPrinter{}
	for _, obj := range objs {
		if err := p.PrintObj(obj, o.Out); err != nil {
			return err
		}
	}
	return nil
}

func objectRef(obj runtime.Object) string {
	kind := strings.ToLower(obj.GetObjectKind().GroupVersionKind().Kind)
	name := ""
	if m, ok := obj.(metav1.Object); ok {
		name = m.GetName()
	}
	return kind + "/" + name
}

func pgVersionWords() []string {
	out := make([]string, len(cluster.SupportedPGVersions))
	for i, v := range cluster.SupportedPGVersions {
		out[i] = strconv.Itoa(v)
	}
	return out
}

func storageNames(s []pgbackrest.Storage) []string {
	out := make([]string, len(s))
	for i, st := range s {
		out[i] = string(st)
	}
	return out
}
