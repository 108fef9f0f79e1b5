package update

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// run holds one update's state.
type run struct {
	deps     Deps
	cfg      Config
	spec     *cluster.Spec // as stored when the run began
	target   *cluster.Spec // the spec after the changes
	deadline time.Time
	rolled   []string
}

func (w *run) ns() string { return w.spec.Namespace }

func (w *run) remaining() time.Duration {
	if w.deadline.IsZero() {
		return 0
	}
	return max(w.deadline.Sub(w.deps.Now()), time.Second)
}

// steps converge the cluster onto target. The spec is written first: it is what every later pod
// is built from (a restore's primary and Job, a create re-run), so from then on nothing brings the
// old image back, and a re-run after Ctrl-C finishes the roll. The pods follow: with the same
// pgBackRest, one at a time, the repository host first (the primary's archive-push reaches it; both
// speak the same protocol), each available before the next; with another pgBackRest, back to back
// (pgBackRest's TLS protocol wants the same version on both ends, so the gap is the shortest we can
// make it). The primary's Deployment is Recreate behind the data volume's fence, so at no moment do
// two PostgreSQL run on it. check proves archiving on the new image; its marker is written last.
// target is nil for a plan.
func (w *run) steps(target *cluster.Spec, pgbackrestChanges bool) []workflow.Step {
	n := w.spec.Names()
	image := w.cfg.Changes.Image + "@<digest>"
	if target != nil {
		image = target.PodImage()
	}
	steps := []workflow.Step{
		{Name: fmt.Sprintf("record image %s in the spec (ConfigMap %s)", image, n.ConfigMap()), Done: w.recorded, Apply: w.record},
	}
	if w.cfg.Changes.Retention.Given() {
		steps = append(steps, w.configStep())
	}
	repo, primary := n.RepoHost(), n.Primary()
	if pgbackrestChanges {
		steps = append(steps, workflow.Step{
			Name: fmt.Sprintf("roll Deployments %s and %s back to back onto the new pgBackRest", repo, primary),
			Done: w.rolledAll(repo, primary), Apply: w.roll(repo, primary)})
	} else {
		steps = append(steps,
			workflow.Step{Name: "roll Deployment " + repo + " (repository host)", Done: w.rolledAll(repo), Apply: w.roll(repo)},
			workflow.Step{Name: "roll Deployment " + primary + " (primary; Recreate, one PostgreSQL at a time)", Done: w.rolledAll(primary), Apply: w.roll(primary)})
	}
	return append(steps,
		workflow.Step{Name: "check (WAL archiving reaches " + storages(w.spec) + " on the new image)", Done: w.checked, Apply: w.check},
		workflow.Step{Name: "mark updated (annotation " + AnnotationChecked + ")", Done: w.checked, Apply: w.mark},
	)
}

// settingsSteps converge the cluster onto a new retention or new resources: the spec first (what
// every later render and every restore's primary reads), then, for the retention, repo.conf in the
// ConfigMap and the repository host, where backup's and expire's retention is read, rolled onto
// it; for the resources, the primary rolled (Recreate behind its data volume's fence: one
// PostgreSQL at a time). The primary's db.conf holds no retention.
func (w *run) settingsSteps() []workflow.Step {
	n := w.spec.Names()
	var what []string
	if w.cfg.Changes.Retention.Given() {
		what = append(what, "retention "+describeRetention(w.target))
	}
	if w.cfg.Changes.ResourcesGiven() {
		what = append(what, "resources "+DescribeResources(w.target.Resources))
	}
	steps := []workflow.Step{
		{Name: fmt.Sprintf("record %s in the spec (ConfigMap %s)", strings.Join(what, " and "), n.ConfigMap()), Done: w.recorded, Apply: w.record},
	}
	if w.cfg.Changes.Retention.Given() {
		repo := n.RepoHost()
		steps = append(steps, w.configStep(),
			workflow.Step{Name: "roll Deployment " + repo + " (repository host) onto the new repo.conf", Done: w.rolledAll(repo), Apply: w.roll(repo)})
	}
	if w.cfg.Changes.ResourcesGiven() {
		primary := n.Primary()
		steps = append(steps, workflow.Step{Name: "roll Deployment " + primary + " (primary) onto the new resources; Recreate, one PostgreSQL at a time",
			Done: w.rolledAll(primary), Apply: w.roll(primary)})
	}
	return steps
}

// DescribeResources is e.g. "cpu 500m, memory 1Gi (limit 2Gi)"; the plugin's floor where unset.
func DescribeResources(r cluster.Resources) string {
	one := func(name, req, lim, floor string) string {
		if req == "" {
			req = floor + " (default)"
		}
		if lim != "" {
			return fmt.Sprintf("%s %s (limit %s)", name, req, lim)
		}
		return name + " " + req
	}
	return one("cpu", r.CPU, r.CPULimit, manifest.DefaultPostgresCPU) + ", " + one("memory", r.Memory, r.MemoryLimit, manifest.DefaultPostgresMemory)
}

func (w *run) configStep() workflow.Step {
	return workflow.Step{Name: fmt.Sprintf("write repo.conf (ConfigMap %s)", w.spec.Names().ConfigMap()), Done: w.configWritten, Apply: w.writeConfig}
}

// describeRetention is e.g. "local: full=2, s3: full=14 (time)".
func describeRetention(spec *cluster.Spec) string {
	parts := make([]string, len(spec.Storages))
	for i, st := range spec.Storages {
		parts[i] = string(st) + ": " + RetentionString(spec.RetentionFor(st))
	}
	return strings.Join(parts, ", ")
}

// RetentionString is one repository's retention as its repoN-retention-* options say it.
func RetentionString(r pgbackrest.Retention) string {
	r = r.WithDefaults()
	s := fmt.Sprintf("full=%d", r.Full)
	if r.FullType != pgbackrest.RetentionCount {
		s += " (" + r.FullType + ")"
	}
	if r.Diff > 0 {
		s += fmt.Sprintf(" diff=%d", r.Diff)
	}
	if r.Archive > 0 {
		s += fmt.Sprintf(" archive=%d (%s)", r.Archive, r.ArchiveType)
	}
	return s
}

// repoConf is the target's repo.conf, rendered as create renders it.
func (w *run) repoConf() (string, error) {
	_, repoConf, err := create.Render(w.target)
	return repoConf, err
}

func (w *run) configWritten(ctx context.Context) (bool, error) {
	cm, _, err := w.configMap(ctx)
	if err != nil {
		return false, err
	}
	want, err := w.repoConf()
	if err != nil {
		return false, err
	}
	return cm.Data[cluster.RepoConfKey] == want, nil
}

// writeConfig replaces repo.conf in the ConfigMap with the target's (an update, conditional on
// what was read).
func (w *run) writeConfig(ctx context.Context) error {
	cm, _, err := w.configMap(ctx)
	if err != nil {
		return err
	}
	want, err := w.repoConf()
	if err != nil {
		return err
	}
	cm = cm.DeepCopy()
	cm.Data[cluster.RepoConfKey] = want
	if _, err := w.deps.Client.CoreV1().ConfigMaps(w.ns()).Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager}); err != nil {
		return kube.Explain(fmt.Errorf("writing repo.conf in ConfigMap %s/%s: %w", w.ns(), cm.Name, err), "update", "configmaps", w.ns())
	}
	return nil
}

// onTarget says d's pod template is what the target builds: its image and, for the primary, its
// PostgreSQL container's resources, for the repository host, the config hash of the target's
// repo.conf.
func (w *run) onTarget(d *appsv1.Deployment) (bool, error) {
	if !create.OnImage(d, w.target) {
		return false, nil
	}
	if d.Name == w.spec.Names().Primary() {
		return manifest.SameResources(d, manifest.PrimaryDeployment(w.target)), nil
	}
	if d.Name != w.spec.Names().RepoHost() {
		return true, nil
	}
	want, err := w.repoConf()
	if err != nil {
		return false, err
	}
	return d.Spec.Template.Annotations[cluster.AnnotationConfigHash] == manifest.ConfigHash(want), nil
}

func storages(spec *cluster.Spec) string {
	parts := make([]string, len(spec.Storages))
	for i, s := range spec.Storages {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func (w *run) configMap(ctx context.Context) (*corev1.ConfigMap, *cluster.Spec, error) {
	spec, cm, err := cluster.Get(ctx, w.deps.Client, w.ns(), w.spec.Name)
	if err != nil {
		return nil, nil, kube.Explain(err, "get", "configmaps", w.ns())
	}
	return cm, spec, nil
}

func (w *run) recorded(ctx context.Context) (bool, error) {
	_, stored, err := w.configMap(ctx)
	if err != nil {
		return false, err
	}
	return stored.Image == w.target.Image && stored.PodImage() == w.target.PodImage() && sameRetention(stored, w.target) &&
		stored.Resources == w.target.Resources, nil
}

// record writes the new image and pin into spec.json, changing nothing else of it (an update,
// conditional on what was read: a concurrent writer makes it fail, and the re-run reads again).
func (w *run) record(ctx context.Context) error {
	cm, stored, err := w.configMap(ctx)
	if err != nil {
		return err
	}
	stored.Image, stored.ImageDigest = w.target.Image, w.target.ImageDigest
	if w.cfg.Changes.Retention.Given() {
		stored.Retention = w.target.Retention
	}
	if w.cfg.Changes.ResourcesGiven() {
		stored.Resources = w.target.Resources
	}
	js, err := stored.JSON()
	if err != nil {
		return err
	}
	cm = cm.DeepCopy()
	cm.Data[cluster.SpecKey] = js
	if _, err := w.deps.Client.CoreV1().ConfigMaps(w.ns()).Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager}); err != nil {
		return kube.Explain(fmt.Errorf("recording image %s and retention in ConfigMap %s/%s: %w", w.target.PodImage(), w.ns(), cm.Name, err), "update", "configmaps", w.ns())
	}
	w.target = stored
	return nil
}

// desired is Deployment name as the target spec builds it.
func (w *run) desired(name string) (*appsv1.Deployment, error) {
	if name == w.target.Names().Primary() {
		return manifest.PrimaryDeployment(w.target), nil
	}
	_, repoConf, err := create.Render(w.target)
	if err != nil {
		return nil, err
	}
	return manifest.RepoHostDeployment(w.target, repoConf), nil
}

// rolledAll: every named Deployment's template runs the target image and it is available.
func (w *run) rolledAll(names ...string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		for _, name := range names {
			d, err := w.deps.Client.AppsV1().Deployments(w.ns()).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, kube.Explain(fmt.Errorf("reading Deployment %s/%s: %w", w.ns(), name, err), "get", "deployments", w.ns())
			}
			if ok, err := w.onTarget(d); !ok || err != nil {
				return false, err
			}
			if ok, _, err := kube.DeploymentAvailable(d); !ok || err != nil {
				return false, nil
			}
		}
		return true, nil
	}
}

// roll applies each named Deployment that does not run the target image yet, all of them before
// waiting for any, then waits until each is available.
func (w *run) roll(names ...string) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, name := range names {
			cur, err := w.deps.Client.AppsV1().Deployments(w.ns()).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				if ok, err := w.onTarget(cur); err != nil {
					return err
				} else if ok {
					continue
				}
			}
			d, err := w.desired(name)
			if err != nil {
				return err
			}
			if _, err := kube.Apply(ctx, w.deps.Client, d, kube.ApplyOptions{}); err != nil {
				return err
			}
			w.rolled = append(w.rolled, name)
		}
		waiter := kube.Waiter{Client: w.deps.Client, Now: w.deps.Now, Progress: kube.ProgressTo(w.deps.ErrOut)}
		for _, name := range names {
			if err := waiter.DeploymentAvailable(ctx, w.ns(), name, w.remaining()); err != nil {
				return err
			}
		}
		return nil
	}
}

func (w *run) checked(ctx context.Context) (bool, error) {
	cm, _, err := w.configMap(ctx)
	if err != nil {
		return false, err
	}
	return cm.Annotations[AnnotationChecked] == w.target.PodImage(), nil
}

// check is the proof: pgBackRest's check of every repository, from the repository host to the
// primary over TLS and back, which switches WAL and waits until the segment is archived.
func (w *run) check(ctx context.Context) error {
	bd := backup.Deps{Client: w.deps.Client, Exec: w.deps.Exec, Now: w.deps.Now, ErrOut: w.deps.ErrOut}
	res, err := backup.Check(ctx, bd, backup.CheckConfig{Namespace: w.ns(), Cluster: w.spec.Name})
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("archiving check failed on image %s: %s; the primary's log (kubectl logs -n %s deploy/%s -c postgres) shows archive-push errors; "+
			"re-run the same update to check again, or update --image back to %s",
			w.target.PodImage(), res.Verdict(), w.ns(), w.spec.Names().Primary(), w.spec.Image)
	}
	return nil
}

// mark writes the done marker (a merge patch: an apply of the ConfigMap must not drop it).
func (w *run) mark(ctx context.Context) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnotationChecked, w.target.PodImage())
	_, err := w.deps.Client.CoreV1().ConfigMaps(w.ns()).Patch(ctx, w.spec.Names().ConfigMap(), types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return kube.Explain(fmt.Errorf("marking ConfigMap %s/%s updated: %w", w.ns(), w.spec.Names().ConfigMap(), err), "patch", "configmaps", w.ns())
	}
	return nil
}
