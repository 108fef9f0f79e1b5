// Package update is the update workflow: a set of changes to a running cluster's spec (today the
// image; later issues add retention and settings), checked before anything changes, then the pods
// converged onto the new spec and the result proved with pgBackRest's check. Every step reads the
// cluster to tell whether it is done, so a re-run after a failure or Ctrl-C converges, and a
// re-run on an updated cluster changes nothing.
package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// Purpose is written to the cluster's Lease while an update holds it.
const Purpose = "update"

// AnnotationChecked on the cluster ConfigMap is update's done marker, written last: the pod image
// that pgBackRest's check last passed with.
const AnnotationChecked = "pgbackrest.dev/image-checked"

// timeoutGrace is how long after --timeout's deadline the run's context ends.
const timeoutGrace = 5 * time.Second

// DefaultProbeTimeout bounds the image probe: a pull of a large image, a pod start, two commands.
const DefaultProbeTimeout = 5 * time.Minute

// ErrNothingToChange is returned for an update without any change.
var ErrNothingToChange = errors.New("nothing to change")

// Changes are what an update changes in the spec. A zero field keeps the spec's value.
type Changes struct {
	// Image replaces the spec's image (and its pin) after the probe accepts it.
	Image string
	// Retention are the --retention-* flags, applied to the spec's retention of each repository.
	Retention cluster.RetentionFlags
	// CPU and Memory are --cpu and --memory (REQUEST[:LIMIT]) of the primary's PostgreSQL
	// container; "" keeps the spec's. Given, they replace both the request and the limit.
	CPU, Memory string
}

// Empty says no change was asked for.
func (c Changes) Empty() bool {
	return c.Image == "" && !c.Retention.Given() && !c.ResourcesGiven()
}

// ResourcesGiven says --cpu or --memory was given.
func (c Changes) ResourcesGiven() bool { return c.CPU != "" || c.Memory != "" }

// ApplyResources returns r with --cpu and --memory applied; bad values are an error naming the flag.
func (c Changes) ApplyResources(r cluster.Resources) (cluster.Resources, error) {
	var err error
	if c.CPU != "" {
		if r.CPU, r.CPULimit, err = cluster.ParseResource("--cpu", c.CPU); err != nil {
			return r, err
		}
	}
	if c.Memory != "" {
		if r.Memory, r.MemoryLimit, err = cluster.ParseResource("--memory", c.Memory); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Config is one update run.
type Config struct {
	Namespace, Cluster string
	Changes            Changes
	// Holder identifies this run in the Lease (kube.Holder()).
	Holder string
	// Timeout bounds the whole run; 0 means none but ctx.
	Timeout time.Duration
	// ProbeTimeout bounds the image probe; 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Deps are the side effects the workflow needs.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock; nil is time.Now.
	Now      func() time.Time
	Reporter workflow.Reporter
	// ErrOut receives the waits' explanations, the Lease's notes and what archiving does during a
	// pgBackRest version change; nil discards them.
	ErrOut io.Writer
	// LeaseRecheck bounds each wait for a Lease held by another run (kube.LeaseConfig.Recheck).
	LeaseRecheck time.Duration
	// PullGrace is how long a failing pull of the probe lasts before it is fatal; 0: 5 s.
	PullGrace time.Duration
}

// Side is an image as the cluster runs it before, or will after, the update.
type Side struct {
	Image string `json:"image"`
	// PinnedImage is what every pod runs (repository@digest); "" when the cluster was never pinned.
	PinnedImage string `json:"pinnedImage"`
	PGMajor     int    `json:"pgMajor"`
	PGBackRest  string `json:"pgbackrest"`
}

// Result is what an update did (`update -o json`). Its json names are a stable interface.
type Result struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	From      Side   `json:"from"`
	To        Side   `json:"to"`
	// PGBackRestChanged says pgBackRest's version changed: both pods were rolled back to back.
	PGBackRestChanged bool `json:"pgbackrestChanged"`
	// Rolled are the Deployments restarted by this run (none when they already ran the image).
	Rolled []string `json:"rolled"`
	// Changed is false when everything was already done.
	Changed bool `json:"changed"`
	// Checked says pgBackRest's check passed on the new image (false for a retention-only update,
	// which runs no check).
	Checked bool `json:"checked"`
	// Retention is the retention of each repository before and after, when --retention-* was given.
	Retention map[pgbackrest.Storage]RetentionChange `json:"retention,omitempty"`
	// NextExpire is what the next expire of each repository removes under the new retention, when
	// --retention-* was given.
	NextExpire []pgbackrest.ExpirePlan `json:"nextExpire,omitempty"`
	// Resources are the primary's PostgreSQL container resources before and after, when --cpu or
	// --memory was given.
	Resources *ResourcesChange `json:"resources,omitempty"`
}

// ResourcesChange is the primary's resources before (From) and after (To) the update.
type ResourcesChange struct {
	From cluster.Resources `json:"from"`
	To   cluster.Resources `json:"to"`
}

// RetentionChange is one repository's retention before (From) and after (To) the update.
type RetentionChange struct {
	From pgbackrest.Retention `json:"from"`
	To   pgbackrest.Retention `json:"to"`
}

// Plan is what a run would do, for --dry-run=client: nothing is written, no probe runs.
type Plan struct {
	Cluster, Namespace string
	From               Side
	// Image is the image asked for; the digest and versions are learned by the probe.
	Image string
	Steps []string
	// Spec is the stored spec, for the caller to describe.
	Spec *cluster.Spec
	// Retention and NextExpire are as in Result, when --retention-* was given.
	Retention  map[pgbackrest.Storage]RetentionChange
	NextExpire []pgbackrest.ExpirePlan
	// Resources is as in Result, when --cpu or --memory was given.
	Resources *ResourcesChange
}

// Prepare reads and checks everything that needs no probe before anything changes: the cluster
// exists, its create finished, no restore is half done, and something is to change.
func Prepare(ctx context.Context, cs kubernetes.Interface, cfg Config) (*cluster.Spec, *corev1.ConfigMap, error) {
	if cfg.Changes.Empty() {
		return nil, nil, exitcode.Usage(fmt.Errorf("%w: give --image REF (the image to move cluster %s to), --retention-* (see docs/retention.md), --cpu or --memory", ErrNothingToChange, cfg.Cluster))
	}
	spec, cm, err := cluster.Get(ctx, cs, cfg.Namespace, cfg.Cluster)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, nil, exitcode.Usage(err)
	}
	if err != nil {
		return nil, nil, kube.Explain(err, "get", "configmaps", cfg.Namespace)
	}
	if err := cluster.CheckNoRestore(cm, "update"); err != nil {
		return nil, nil, exitcode.Usage(err)
	}
	if _, err := retentionTarget(spec, cfg.Changes); err != nil {
		return nil, nil, err
	}
	if _, ok := cm.Annotations[create.AnnotationCreatedAt]; !ok {
		return nil, nil, exitcode.Usage(fmt.Errorf("cluster %s/%s was never completely created; finish it first with `kubectl pgbackrest create %s -n %s` (a create that never finished takes --image itself)",
			cfg.Namespace, cfg.Cluster, cfg.Cluster, cfg.Namespace))
	}
	return spec, cm, nil
}

// DryRun returns what Run would do, changing nothing and running no probe.
func DryRun(ctx context.Context, d Deps, cfg Config) (*Plan, error) {
	d = d.defaults()
	spec, _, err := Prepare(ctx, d.Client, cfg)
	if err != nil {
		return nil, err
	}
	target, err := retentionTarget(spec, cfg.Changes)
	if err != nil {
		return nil, err
	}
	w := &run{deps: d, cfg: cfg, spec: spec, target: target}
	var steps []string
	if cfg.Changes.Image != "" {
		steps = append(steps, fmt.Sprintf("probe image %s (Job %s: PostgreSQL major, pgBackRest version, digest); refuse it, changing nothing, if it does not fit", cfg.Changes.Image, spec.Names().ProbeJob()))
		steps = append(steps, workflow.Plan(w.steps(nil, false))...)
		steps = append(steps, "(if pgBackRest's version changes, the repository host and the primary are rolled back to back instead: archiving waits meanwhile)")
	} else {
		steps = workflow.Plan(w.settingsSteps())
	}
	p := &Plan{Cluster: cfg.Cluster, Namespace: cfg.Namespace, From: side(spec, 0, ""), Image: cfg.Changes.Image, Steps: steps, Spec: spec}
	if cfg.Changes.ResourcesGiven() {
		p.Resources = &ResourcesChange{From: spec.Resources, To: target.Resources}
	}
	if cfg.Changes.Retention.Given() {
		p.Retention = retentionChanges(spec, target)
		if p.NextExpire, err = w.nextExpire(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// retentionTarget is spec with the --retention-* flags applied (spec itself, copied, without them).
// Bad values are a usage error naming the flag.
func retentionTarget(spec *cluster.Spec, c Changes) (*cluster.Spec, error) {
	target := *spec
	res, err := c.ApplyResources(spec.Resources)
	if err != nil {
		return nil, exitcode.Usage(fmt.Errorf("update of cluster %s refused, nothing changed: %w", spec.Name, err))
	}
	target.Resources = res
	if !c.Retention.Given() {
		return &target, nil
	}
	r, err := c.Retention.Apply(spec.Retention, spec.Storages)
	if err != nil {
		return nil, exitcode.Usage(fmt.Errorf("update of cluster %s refused, nothing changed: %w", spec.Name, err))
	}
	target.Retention = r
	return &target, nil
}

// retentionChanges is each repository's retention in force before and after.
func retentionChanges(spec, target *cluster.Spec) map[pgbackrest.Storage]RetentionChange {
	out := map[pgbackrest.Storage]RetentionChange{}
	for _, st := range spec.Storages {
		out[st] = RetentionChange{From: spec.RetentionFor(st), To: target.RetentionFor(st)}
	}
	return out
}

// sameRetention says a and b keep the same in every repository of a.
func sameRetention(a, b *cluster.Spec) bool {
	for _, st := range a.Storages {
		if a.RetentionFor(st) != b.RetentionFor(st) {
			return false
		}
	}
	return true
}

// nextExpire reads the repositories' backups (read-only) and plans what the next expire of each
// removes under the target's retention.
func (w *run) nextExpire(ctx context.Context) ([]pgbackrest.ExpirePlan, error) {
	bd := backup.Deps{Client: w.deps.Client, Exec: w.deps.Exec, Now: w.deps.Now, ErrOut: w.deps.ErrOut}
	sum, err := backup.Info(ctx, bd, backup.InfoConfig{Namespace: w.ns(), Cluster: w.spec.Name})
	if err != nil {
		return nil, fmt.Errorf("reading the backups to say what the next expire removes: %w", err)
	}
	plans := []pgbackrest.ExpirePlan{}
	for _, rs := range sum.Repositories {
		p, err := pgbackrest.PlanExpire(rs, w.target.RetentionFor(rs.Storage), "", w.deps.Now())
		if err != nil && !errors.Is(err, pgbackrest.ErrLastFull) {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// Run updates the cluster, holding its Lease.
func Run(ctx context.Context, d Deps, cfg Config) (*Result, error) {
	d = d.defaults()
	var deadline time.Time
	if cfg.Timeout > 0 {
		deadline = d.Now().Add(cfg.Timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout+timeoutGrace)
		defer cancel()
	}
	spec, _, err := Prepare(ctx, d.Client, cfg)
	if err != nil {
		return nil, err
	}
	lease, err := kube.AcquireLease(ctx, d.Client, spec.LeaseConfig(cfg.Holder, Purpose, cluster.RoleConfig, d.Now, d.LeaseRecheck, d.ErrOut))
	if err != nil {
		return nil, fmt.Errorf("update of cluster %s refused: %w", cfg.Cluster, err)
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			output.Warn(d.ErrOut, nil, "%v", err)
		}
	}()
	// A restore that started after Prepare's read and before the Lease was ours.
	if err := cluster.RefuseMidRestore(ctx, d.Client, cfg.Namespace, cfg.Cluster, "update"); err != nil {
		return nil, exitcode.Usage(err)
	}
	// Read again under the Lease: the spec another run may have changed meanwhile.
	if spec, _, err = Prepare(ctx, d.Client, cfg); err != nil {
		return nil, err
	}
	rtarget, err := retentionTarget(spec, cfg.Changes)
	if err != nil {
		return nil, err
	}
	w := &run{deps: d, cfg: cfg, spec: spec, deadline: deadline}
	if cfg.Changes.Image == "" {
		return w.runSettings(ctx, lease, rtarget)
	}

	cur, err := w.current(ctx)
	if err != nil {
		return nil, err
	}
	next, err := w.probe(ctx, cfg.Changes.Image)
	if err != nil {
		return nil, err
	}
	changes, err := Decide(cfg.Cluster, cur, *next)
	if err != nil {
		return nil, exitcode.Usage(err)
	}
	target := *rtarget
	target.Image, target.ImageDigest = next.Image, next.Digest
	res := &Result{Cluster: cfg.Cluster, Namespace: cfg.Namespace, From: side(spec, cur.PGMajor, cur.PGBackRest),
		To: side(&target, next.PGMajor, next.PGBackRest), PGBackRestChanged: changes}
	if changes {
		from := cur.PGBackRest
		if from == next.PGBackRest { // a re-run: the repository host is already rolled
			from = cur.PrimaryPGBackRest
		}
		fmt.Fprintf(d.ErrOut, "pgBackRest changes from %s to %s. Its TLS protocol needs the same version on both ends, so the repository host "+
			"and the primary are rolled back to back: until both run %s, archive-push fails and WAL waits in pg_wal (at most %dMB, the "+
			"archive backlog bound); it is pushed, in order, once both do. No WAL is lost; a backup cannot run meanwhile.\n",
			from, next.PGBackRest, next.PGBackRest, spec.ArchiveBacklogMB())
	}
	w.target = &target
	rec := &recorder{Reporter: d.Reporter}
	err = (workflow.Runner{Now: d.Now, Fence: lease.Check}).Run(ctx, w.steps(&target, changes), rec)
	res.Rolled, res.Changed, res.Checked = append([]string{}, w.rolled...), rec.applied > 0, err == nil
	if cfg.Changes.ResourcesGiven() {
		res.Resources = &ResourcesChange{From: spec.Resources, To: target.Resources}
	}
	if err == nil && cfg.Changes.Retention.Given() {
		res.Retention = retentionChanges(spec, &target)
		res.NextExpire, err = w.nextExpire(ctx)
	}
	return res, err
}

// runSettings is an update of the retention or the resources without an image: no probe, no
// check; only the pods whose template changes restart: the repository host (where expire reads
// the retention) for the retention, the primary for its resources.
func (w *run) runSettings(ctx context.Context, lease *kube.Lease, target *cluster.Spec) (*Result, error) {
	w.target = target
	res := &Result{Cluster: w.cfg.Cluster, Namespace: w.cfg.Namespace, From: side(w.spec, 0, ""), To: side(target, 0, "")}
	if w.cfg.Changes.Retention.Given() {
		res.Retention = retentionChanges(w.spec, target)
	}
	if w.cfg.Changes.ResourcesGiven() {
		res.Resources = &ResourcesChange{From: w.spec.Resources, To: target.Resources}
	}
	rec := &recorder{Reporter: w.deps.Reporter}
	err := (workflow.Runner{Now: w.deps.Now, Fence: lease.Check}).Run(ctx, w.settingsSteps(), rec)
	res.Rolled, res.Changed = append([]string{}, w.rolled...), rec.applied > 0
	if err != nil || !w.cfg.Changes.Retention.Given() {
		return res, err
	}
	res.NextExpire, err = w.nextExpire(ctx)
	return res, err
}

func side(spec *cluster.Spec, pgMajor int, br string) Side {
	s := Side{Image: spec.Image, PGMajor: pgMajor, PGBackRest: br}
	if pgMajor == 0 {
		s.PGMajor = spec.PGVersion
	}
	if spec.ImageDigest != "" {
		s.PinnedImage = spec.PodImage()
	}
	return s
}

// current reads what the cluster runs: the repository host's pgBackRest and the newest version
// that wrote a backup.
func (w *run) current(ctx context.Context) (Current, error) {
	cur := Current{PGMajor: w.spec.PGVersion}
	bd := backup.Deps{Client: w.deps.Client, Exec: w.deps.Exec, Now: w.deps.Now, ErrOut: w.deps.ErrOut}
	out, err := backup.ReadRepo(ctx, bd, w.ns(), w.spec.Name, []string{"pgbackrest", "version"})
	if err != nil {
		return cur, fmt.Errorf("reading the repository host's pgBackRest version: %w", err)
	}
	cur.PGBackRest = ParsePGBackRestVersion(string(out))
	cur.PrimaryPGBackRest = w.primaryVersion(ctx)
	out, err = backup.ReadRepo(ctx, bd, w.ns(), w.spec.Name, pgbackrest.InfoArgs(pgbackrest.DefaultStanza, 0))
	if err != nil {
		return cur, fmt.Errorf("reading which pgBackRest wrote the repository's backups: %w", err)
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		return cur, err
	}
	cur.Repository = RepositoryVersion(stanzas)
	return cur, nil
}

// primaryVersion is the primary sidecar's pgBackRest version, "" when it cannot be read (no
// primary running: then only the repository host's counts).
func (w *run) primaryVersion(ctx context.Context) string {
	p, err := cluster.FindPrimaryPod(ctx, w.deps.Client, w.ns(), w.spec.Name)
	if err != nil {
		return ""
	}
	var out strings.Builder
	if err := w.deps.Exec.Exec(ctx, w.ns(), p.Name, manifest.ContainerPGBackRest, []string{"pgbackrest", "version"}, nil, &out, io.Discard); err != nil {
		return ""
	}
	return ParsePGBackRestVersion(out.String())
}

func (d Deps) defaults() Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ErrOut == nil {
		d.ErrOut = io.Discard
	}
	if d.Reporter == nil {
		d.Reporter = nopReporter{}
	}
	if d.PullGrace == 0 {
		d.PullGrace = 5 * time.Second
	}
	return d
}

type nopReporter struct{}

func (nopReporter) Start(string)               {}
func (nopReporter) Skipped(string)             {}
func (nopReporter) Done(string, time.Duration) {}
func (nopReporter) Failed(string, error)       {}

// recorder counts the steps that were applied (not found done).
type recorder struct {
	workflow.Reporter
	applied int
}

func (r *recorder) Start(name string) {
	r.applied++
	r.Reporter.Start(name)
}
