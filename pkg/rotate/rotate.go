// Package rotate is the rotate-certs workflow: a new CA and certificates for a cluster's
// pgBackRest TLS servers, moved into the pods in three states of the TLS Secret (certs.Trust,
// certs.Issue, certs.Drop) so that WAL archiving never meets a certificate it does not trust,
// then proved with pgBackRest's check. The phase reached is recorded on the Secret, so a re-run
// after a failure or Ctrl-C resumes with the same new CA; the "done" phase is written last.
package rotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// Purpose is written to the cluster's Lease while a rotation holds it.
const Purpose = "rotate-certs"

// Annotations. AnnotationPhase and AnnotationRotatedAt are on the TLS Secret; AnnotationTLSHash
// is on the pod templates of the primary and the repository host: changing it rolls them onto the
// Secret's current content (certs.Fingerprint).
const (
	AnnotationPhase     = "pgbackrest.dev/tls-rotation"
	AnnotationRotatedAt = "pgbackrest.dev/tls-rotated-at"
	AnnotationTLSHash   = "pgbackrest.dev/tls-hash"
)

// timeoutGrace is how long after --timeout's deadline the run's context ends.
const timeoutGrace = 5 * time.Second

// ErrNotOurs is wrapped when the TLS Secret or a Deployment lacks the plugin's labels for the
// cluster (kube.CheckOwner decides).
var ErrNotOurs = kube.ErrNotOurs

// ErrCheckFailed is wrapped when archiving does not work after the new certificates are in place.
var ErrCheckFailed = errors.New("archiving check failed after the rotation")

// Config is one rotate-certs run.
type Config struct {
	Namespace, Cluster string
	// Holder identifies this run in the Lease (kube.Holder()).
	Holder string
	// Timeout bounds the whole run; 0 means none but ctx.
	Timeout time.Duration
}

// Deps are the side effects the workflow needs.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock (certificate validity, the rotated-at marker); nil is time.Now.
	Now      func() time.Time
	Reporter workflow.Reporter
	// ErrOut receives the waits' explanations and the Lease's notes; nil discards them.
	ErrOut io.Writer
	// LeaseRecheck bounds each wait for a Lease held by another run (kube.LeaseConfig.Recheck).
	LeaseRecheck time.Duration
}

// Result is what a run did.
type Result struct {
	Cluster, Namespace string
	// Resumed says a rotation was already under way (its new CA was kept).
	Resumed bool
	// OldCA and NewCA identify the CA before and after (certs.CAFingerprint).
	OldCA, NewCA string
	// NotAfter is when the new certificates expire.
	NotAfter time.Time
}

// Plan is what a run would do, for --dry-run=client: nothing is written.
type Plan struct {
	// Phase is the rotation found: "" or PhaseDone when none is under way.
	Phase certs.Phase
	Steps []string
	// Secret is the TLS Secret as the first step would write it (values generated; redact them).
	Secret *corev1.Secret
}

// Prepare reads and checks everything before anything changes: the cluster exists, its create
// finished, no restore is half done, and the TLS Secret is the plugin's.
func Prepare(ctx context.Context, cs kubernetes.Interface, ns, name string) (*cluster.Spec, *corev1.Secret, error) {
	spec, cm, err := cluster.Get(ctx, cs, ns, name)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, nil, exitcode.Usage(err)
	}
	if err != nil {
		return nil, nil, kube.Explain(err, "get", "configmaps", ns)
	}
	if err := cluster.CheckNoRestore(cm, "rotate-certs"); err != nil {
		return nil, nil, exitcode.Usage(err)
	}
	if _, ok := cm.Annotations[create.AnnotationCreatedAt]; !ok {
		return nil, nil, exitcode.Usage(fmt.Errorf("cluster %s/%s was never completely created; finish it first with `kubectl pgbackrest create %s -n %s`",
			ns, name, name, ns))
	}
	sec, err := readSecret(ctx, cs, spec)
	if err != nil {
		return nil, nil, err
	}
	return spec, sec, nil
}

func readSecret(ctx context.Context, cs kubernetes.Interface, spec *cluster.Spec) (*corev1.Secret, error) {
	name := spec.Names().TLSSecret()
	sec, err := cs.CoreV1().Secrets(spec.Namespace).Get(ctx, name, getOpts)
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading Secret %s/%s: %w", spec.Namespace, name, err), "get", "secrets", spec.Namespace)
	}
	ref := kube.Ref{Kind: "Secret", Namespace: spec.Namespace, Name: name}
	if err := kube.CheckOwner(ref, sec, cluster.Owner(spec.Name)); err != nil {
		return nil, exitcode.Usage(fmt.Errorf("%w: rotate-certs changes only the cluster's own Secret", err))
	}
	return sec, nil
}

// PhaseOf is the rotation phase recorded on the TLS Secret.
func PhaseOf(sec *corev1.Secret) certs.Phase { return certs.Phase(sec.Annotations[AnnotationPhase]) }

// DryRun returns what Run would do, changing nothing.
func DryRun(ctx context.Context, d Deps, cfg Config) (*Plan, error) {
	spec, sec, err := Prepare(ctx, d.Client, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	w := &run{deps: d.defaults(), spec: spec}
	p := &Plan{Phase: PhaseOf(sec), Steps: workflow.Plan(w.steps())}
	if !p.Phase.InProgress() {
		next, err := w.trust(sec)
		if err != nil {
			return nil, err
		}
		p.Secret = next
	}
	return p, nil
}

// Run rotates the certificates, or resumes a rotation that stopped, holding the cluster's Lease.
func Run(ctx context.Context, d Deps, cfg Config) (*Result, error) {
	d = d.defaults()
	var deadline time.Time
	if cfg.Timeout > 0 {
		// The waits end at the deadline with an error that names what they waited for; the
		// context a little later, bounding everything else (the Lease, the check's exec).
		deadline = d.Now().Add(cfg.Timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout+timeoutGrace)
		defer cancel()
	}
	spec, sec, err := Prepare(ctx, d.Client, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	lease, err := kube.AcquireLease(ctx, d.Client, spec.LeaseConfig(cfg.Holder, Purpose, cluster.RoleConfig, d.Now, d.LeaseRecheck, d.ErrOut))
	if err != nil {
		return nil, fmt.Errorf("rotate-certs of cluster %s refused: %w", cfg.Cluster, err)
	}
	defer func() {
		if err := lease.Release(ctx); err != nil {
			output.Warn(d.ErrOut, nil, "%v", err)
		}
	}()
	// A restore that started after Prepare's read and before the Lease was ours.
	if err := cluster.RefuseMidRestore(ctx, d.Client, cfg.Namespace, cfg.Cluster, "rotate-certs"); err != nil {
		return nil, exitcode.Usage(err)
	}
	res := &Result{Cluster: cfg.Cluster, Namespace: cfg.Namespace, Resumed: PhaseOf(sec).InProgress()}
	if !res.Resumed {
		res.OldCA = certs.CAFingerprint(sec.Data)
	}
	w := &run{deps: d, spec: spec, deadline: deadline}
	if err := (workflow.Runner{Now: d.Now, Fence: lease.Check}).Run(ctx, w.steps(), d.Reporter); err != nil {
		return res, err
	}
	sec, err = readSecret(ctx, d.Client, spec)
	if err != nil {
		return res, err
	}
	res.NewCA = certs.CAFingerprint(sec.Data)
	if e, err := certs.Earliest(sec.Data); err == nil {
		res.NotAfter = e.NotAfter
	}
	return res, nil
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
	return d
}

type nopReporter struct{}

func (nopReporter) Start(string)               {}
func (nopReporter) Skipped(string)             {}
func (nopReporter) Done(string, time.Duration) {}
func (nopReporter) Failed(string, error)       {}

func (d Deps) backupDeps() backup.Deps {
	return backup.Deps{Client: d.Client, Exec: d.Exec, Now: d.Now, ErrOut: d.ErrOut}
}
