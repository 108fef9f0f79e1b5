package rotate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

var getOpts = metav1.GetOptions{}

// run holds one rotation's state.
type run struct {
	deps     Deps
	spec     *cluster.Spec
	deadline time.Time
}

func (w *run) ns() string { return w.spec.Namespace }

// steps are the rotation. Who connects to whom while the Lease is held (no backup, check or
// restore runs): only archive-push, from the primary's postgres container to the repository
// host's pgBackRest server. Its clients read the TLS files at each push, as kubelet refreshes
// them in the running pod, at a moment of its choosing; a pgBackRest server reads them once, at
// start. So:
//   - trust: the repository host must trust the new CA before any client can present a
//     certificate it signed; the primary's server is reached by nobody now, and is rolled next;
//   - issue: the primary first, so that no push still holding only the old CA meets the
//     repository host's new certificate; then the repository host;
//   - drop: both, so no server trusts the old CA any longer.
func (w *run) steps() []workflow.Step {
	n := w.spec.Names()
	sec := "Secret " + n.TLSSecret()
	repo, primary := n.RepoHost(), n.Primary()
	return []workflow.Step{
		{Name: "new CA and certificates, the new CA trusted beside the old (" + sec + ")",
			Done: w.phaseReached(certs.PhaseTrust), Apply: w.writeTrust},
		w.roll(repo, certs.PhaseTrust, "trusts both CAs"),
		{Name: "new certificates in place (" + sec + ")", Done: w.phaseReached(certs.PhaseIssue), Apply: w.write(certs.PhaseIssue, certs.Issue)},
		w.roll(primary, certs.PhaseIssue, "new certificates"),
		w.roll(repo, certs.PhaseIssue, "new certificates"),
		{Name: "old CA dropped (" + sec + ")", Done: w.phaseReached(certs.PhaseDrop), Apply: w.write(certs.PhaseDrop, certs.Drop)},
		w.roll(repo, certs.PhaseDrop, "trusts only the new CA"),
		w.roll(primary, certs.PhaseDrop, "trusts only the new CA"),
		{Name: "check (WAL archiving reaches " + storages(w.spec) + " with the new certificates)", Done: w.phaseReached(certs.PhaseDone), Apply: w.check},
		{Name: "mark rotated (" + sec + ", annotation " + AnnotationPhase + "=" + string(certs.PhaseDone) + ")",
			Done: w.phaseReached(certs.PhaseDone), Apply: w.markDone},
	}
}

func storages(spec *cluster.Spec) string {
	parts := make([]string, len(spec.Storages))
	for i, s := range spec.Storages {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func (w *run) secret(ctx context.Context) (*corev1.Secret, error) {
	return readSecret(ctx, w.deps.Client, w.spec)
}

// phaseReached: the Secret records phase p or a later one. Before this run's first write the
// Secret may say "done" from the last rotation, which is no rotation under way: the first step is
// then not done. Later steps are asked only once it is, when "done" can no longer be read.
func (w *run) phaseReached(p certs.Phase) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		sec, err := w.secret(ctx)
		if err != nil {
			return false, err
		}
		got := PhaseOf(sec)
		if p == certs.PhaseTrust {
			return got.InProgress(), nil
		}
		return got.Index() >= p.Index(), nil
	}
}

// trust builds the PhaseTrust Secret from sec, with a freshly generated bundle.
func (w *run) trust(sec *corev1.Secret) (*corev1.Secret, error) {
	next, err := create.GenerateCerts(w.spec, w.deps.Now())
	if err != nil {
		return nil, err
	}
	b := certs.Bundle{CACert: next[certs.KeyCACert], ServerCert: next[certs.KeyServerCert], ServerKey: next[certs.KeyServerKey],
		ClientCert: next[certs.KeyClientCert], ClientKey: next[certs.KeyClientKey]}
	out := sec.DeepCopy()
	out.Data = certs.Trust(sec.Data, b)
	setPhase(out, certs.PhaseTrust)
	return out, nil
}

func setPhase(sec *corev1.Secret, p certs.Phase) {
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[AnnotationPhase] = string(p)
}

// writeTrust issues the new CA. It runs only when no rotation is under way: a resumed one keeps
// the CA already in the Secret. The update is conditional on the Secret read (resourceVersion),
// so two runs never both write a CA.
func (w *run) writeTrust(ctx context.Context) error {
	sec, err := w.secret(ctx)
	if err != nil {
		return err
	}
	next, err := w.trust(sec)
	if err != nil {
		return err
	}
	return w.update(ctx, next)
}

func (w *run) write(p certs.Phase, next func(map[string][]byte) (map[string][]byte, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		sec, err := w.secret(ctx)
		if err != nil {
			return err
		}
		data, err := next(sec.Data)
		if err != nil {
			return fmt.Errorf("Secret %s/%s: %w", sec.Namespace, sec.Name, err)
		}
		out := sec.DeepCopy()
		out.Data = data
		setPhase(out, p)
		return w.update(ctx, out)
	}
}

func (w *run) update(ctx context.Context, sec *corev1.Secret) error {
	_, err := w.deps.Client.CoreV1().Secrets(sec.Namespace).Update(ctx, sec, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return kube.Explain(fmt.Errorf("updating Secret %s/%s: %w", sec.Namespace, sec.Name, err), "update", "secrets", sec.Namespace)
	}
	return nil
}

// roll is the step that restarts Deployment name's pod onto the Secret of phase p.
func (w *run) roll(name string, p certs.Phase, why string) workflow.Step {
	return workflow.Step{
		Name: fmt.Sprintf("roll Deployment %s (%s)", name, why),
		Done: func(ctx context.Context) (bool, error) {
			sec, err := w.secret(ctx)
			if err != nil {
				return false, err
			}
			if PhaseOf(sec).Index() > p.Index() {
				return true, nil // a later phase is written only once this roll was done
			}
			d, err := w.deployment(ctx, name)
			if err != nil {
				return false, err
			}
			if d.Spec.Template.Annotations[AnnotationTLSHash] != certs.Fingerprint(sec.Data) {
				return false, nil
			}
			ok, _, err := kube.DeploymentAvailable(d)
			return ok && err == nil, nil
		},
		Apply: func(ctx context.Context) error {
			sec, err := w.secret(ctx)
			if err != nil {
				return err
			}
			if _, err := w.deployment(ctx, name); err != nil {
				return err
			}
			patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, AnnotationTLSHash, certs.Fingerprint(sec.Data))
			_, err = w.deps.Client.AppsV1().Deployments(w.ns()).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch),
				metav1.PatchOptions{FieldManager: kube.FieldManager})
			if err != nil {
				return kube.Explain(fmt.Errorf("rolling Deployment %s/%s: %w", w.ns(), name, err), "patch", "deployments", w.ns())
			}
			waiter := kube.Waiter{Client: w.deps.Client, Now: w.deps.Now, Progress: kube.ProgressTo(w.deps.ErrOut)}
			return waiter.DeploymentAvailable(ctx, w.ns(), name, w.remaining())
		},
	}
}

// deployment reads Deployment name and checks it is the cluster's.
func (w *run) deployment(ctx context.Context, name string) (*appsv1.Deployment, error) {
	d, err := w.deps.Client.AppsV1().Deployments(w.ns()).Get(ctx, name, getOpts)
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading Deployment %s/%s: %w", w.ns(), name, err), "get", "deployments", w.ns())
	}
	if err := kube.CheckOwner(kube.Ref{Kind: "Deployment", Namespace: w.ns(), Name: name}, d, cluster.Owner(w.spec.Name)); err != nil {
		return nil, err
	}
	return d, nil
}

func (w *run) remaining() time.Duration {
	if w.deadline.IsZero() {
		return 0
	}
	return max(w.deadline.Sub(w.deps.Now()), time.Second)
}

// check is the proof: pgBackRest's check of every repository, which switches WAL and waits until
// the segment is archived, from the repository host to the primary over TLS and back.
func (w *run) check(ctx context.Context) error {
	res, err := backup.Check(ctx, w.deps.backupDeps(), backup.CheckConfig{Namespace: w.ns(), Cluster: w.spec.Name})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("%w: %s; the primary's log (kubectl logs -n %s deploy/%s -c postgres) shows archive-push errors",
			ErrCheckFailed, res.Verdict(), w.ns(), w.spec.Names().Primary())
	}
	return nil
}

// markDone writes the done marker, last.
func (w *run) markDone(ctx context.Context) error {
	sec, err := w.secret(ctx)
	if err != nil {
		return err
	}
	if PhaseOf(sec) != certs.PhaseDrop {
		return errors.New("the rotation is not at its last phase: re-run to resume it")
	}
	out := sec.DeepCopy()
	setPhase(out, certs.PhaseDone)
	out.Annotations[AnnotationRotatedAt] = w.deps.Now().UTC().Format(time.RFC3339)
	return w.update(ctx, out)
}
