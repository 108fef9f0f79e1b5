// Package create is the create workflow: the objects of a new cluster, written in order as
// resumable steps, then stanza-create and check in the repository host, and last the "created"
// marker on the cluster ConfigMap. Every step reads the cluster to tell whether it is done, so a
// re-run after a failure or Ctrl-C resumes, and a re-run on a finished cluster changes nothing.
package create

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/s3settings"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// AnnotationCreatedAt on the cluster ConfigMap is the "done" marker of create, written last.
const AnnotationCreatedAt = "pgbackrest.dev/created-at"

// Config is what the user asked for. For a cluster that exists, only Name, Namespace, Storages
// and Timeout matter: the stored spec wins.
type Config struct {
	Name, Namespace string
	// Schedules are --schedule-full/diff/incr: backup type → cron expression (checked by the
	// caller), each scheduled to every storage as create's last step.
	Schedules map[string]string
	Storages  []pgbackrest.Storage
	// PGVersion is the PostgreSQL major; 0 means cluster.DefaultPGVersion. Fixed at create:
	// PGVersionExplicit (--pg-version given) with another major than an existing cluster's is refused.
	PGVersion         int
	PGVersionExplicit bool
	// Image "" means cluster.DefaultImage of the PostgreSQL major (docs/image.md states the
	// contract an image must meet).
	Image        string
	StorageClass string
	PGDataSize   string
	RepoSize     string
	// ArchiveBacklogMax is the spec's ArchiveBacklogMax; "" derives it from PGDataSize.
	ArchiveBacklogMax string
	// Retention is the spec's Retention; nil keeps the defaults (cluster.RetentionFor).
	Retention    map[pgbackrest.Storage]cluster.Retention
	NodeSelector map[string]string
	// Resources are the primary's (--cpu, --memory).
	Resources cluster.Resources
	// PostgresFrom is the spec's PostgresFrom: who may reach 5432 (nil: everyone).
	PostgresFrom []string
	S3Secret     string
	// Timeout bounds the whole run (waits and pgBackRest commands); 0 means no bound but ctx.
	Timeout time.Duration
	// Version is the plugin version, recorded as the spec's CreatedBy.
	Version string
	// ImageExplicit says Image was given (--image): a cluster whose create never finished takes it,
	// so the re-run after an image that could not be pulled completes.
	ImageExplicit bool
	// Cipher encrypts every repository: "" (none) or aes-256-cbc. Fixed at create, like Storages.
	Cipher string
	// ImagePullSecrets are the spec's ImagePullSecrets; a create that never finished takes them
	// when given (the re-run after a pull that needed credentials).
	ImagePullSecrets []string
	// RunAsUser is --run-as-user: the pods' uid, or 0 for auto (PodUser). Fixed at create.
	RunAsUser int64
	// Warn receives Prepare's warnings (PodUser's); nil discards them.
	Warn func(msg string)
}

// Deps are the side effects create needs, held narrowly so tests can fake them.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock (certificates' validity, the created-at marker, remaining timeout).
	Now      func() time.Time
	Reporter workflow.Reporter
	// ErrOut receives the waits' explanations (why a Deployment is not available yet); nil discards.
	ErrOut io.Writer
	// Warn shows a warning before the work starts; nil discards.
	Warn func(msg string)
}

// Result says what Run did.
type Result struct {
	// Spec is the cluster's spec: the stored one when the cluster existed.
	Spec *cluster.Spec
	// Existed is true when the cluster ConfigMap was already there (a resume or a no-op).
	Existed bool
	// Changed is false when every step was already done: nothing was written.
	Changed bool
}

// ErrStorageFixed is wrapped by the error for a create whose --storage differs from the existing
// cluster's.
var ErrStorageFixed = errors.New("the storage type is fixed at create")

// ErrNoS3Secret is wrapped when storage includes s3 and the S3 Secret does not exist.
var ErrNoS3Secret = errors.New("S3 Secret not found")

// NewSpec builds the spec of a new cluster from cfg and the S3 settings (ignored without s3).
func NewSpec(cfg Config, s3 cluster.S3) *cluster.Spec {
	spec := cluster.New(cfg.Name, cfg.Namespace)
	spec.Storages = slices.Clone(cfg.Storages)
	if cfg.PGVersion != 0 {
		spec.PGVersion = cfg.PGVersion
	}
	spec.Image = cfg.Image
	if spec.Image == "" {
		spec.Image = cluster.DefaultImage(spec.PGVersion)
	}
	spec.StorageClass = cfg.StorageClass
	if cfg.PGDataSize != "" {
		spec.PGDataSize = cfg.PGDataSize
	}
	if cfg.RepoSize != "" {
		spec.RepoSize = cfg.RepoSize
	}
	spec.ArchiveBacklogMax = cfg.ArchiveBacklogMax
	spec.Retention = cfg.Retention
	if !spec.Has(pgbackrest.Local) {
		spec.RepoSize = ""
	}
	spec.NodeSelector = maps.Clone(cfg.NodeSelector)
	spec.Resources = cfg.Resources
	spec.PostgresFrom = slices.Clone(cfg.PostgresFrom)
	if spec.Has(pgbackrest.S3) {
		if cfg.S3Secret != "" {
			spec.S3Secret = cfg.S3Secret
		}
		spec.S3 = s3
	} else {
		spec.S3Secret = ""
		spec.Repo2Path = ""
	}
	spec.Cipher = cfg.Cipher
	spec.ImagePullSecrets = slices.Clone(cfg.ImagePullSecrets)
	// Without the namespace (a client dry run): --run-as-user, or 999; Prepare decides with it.
	u, _ := cluster.NamespaceUser(cfg.Namespace, nil, cfg.RunAsUser)
	spec.RunAsUser, spec.FSGroup = u.RunAsUser, u.FSGroup
	spec.CreatedBy = cfg.Version
	return spec
}

// Render returns db.conf and repo.conf of spec.
func Render(spec *cluster.Spec) (dbConf, repoConf string, err error) {
	p := spec.ConfigParams()
	if err := p.Validate(); err != nil {
		return "", "", fmt.Errorf("rendering pgbackrest.conf of cluster %s: %w", spec.Name, err)
	}
	if dbConf, err = pgbackrest.RenderDBConfig(p); err == nil {
		repoConf, err = pgbackrest.RenderRepoConfig(p)
	}
	if err != nil {
		return "", "", fmt.Errorf("rendering pgbackrest.conf of cluster %s: %w", spec.Name, err)
	}
	return dbConf, repoConf, nil
}

// GenerateCerts makes the TLS material of spec's cluster.
func GenerateCerts(spec *cluster.Spec, now time.Time) (map[string][]byte, error) {
	n := spec.Names()
	dns := append(certs.ServiceDNSNames(n.Primary(), spec.Namespace), certs.ServiceDNSNames(n.RepoHost(), spec.Namespace)...)
	b, err := certs.Generate(dns, certs.ClientCN, now, certs.DefaultValidity)
	if err != nil {
		return nil, fmt.Errorf("generating the TLS certificates of cluster %s: %w", spec.Name, err)
	}
	return b.SecretData(), nil
}

// Objects returns every object of spec's cluster in apply order, with the given TLS material and,
// for an encrypted cluster, the repositories' passphrase.
func Objects(spec *cluster.Spec, tls map[string][]byte, cipherPass []byte) ([]runtime.Object, error) {
	if err := spec.Validate(); err != nil {
		return nil, exitcode.Usage(err)
	}
	dbConf, repoConf, err := Render(spec)
	if err != nil {
		return nil, exitcode.Usage(err)
	}
	objs, err := manifest.Objects(spec, dbConf, repoConf, tls)
	if err != nil {
		return nil, exitcode.Usage(err)
	}
	if spec.Encrypted() {
		// Beside the TLS Secret: before the pods that read it.
		objs = slices.Insert(objs, 2, runtime.Object(manifest.CipherSecret(spec, cipherPass)))
	}
	return objs, nil
}

// S3FromSecret reads the S3 settings of the Secret that `kubectl pgbackrest s3 configure` writes,
// and checks them (credentials included: the pods need them).
func S3FromSecret(sec *corev1.Secret) (cluster.S3, error) {
	st, err := s3settings.FromSecret(sec)
	if err == nil {
		err = st.Validate()
	}
	if err != nil {
		return cluster.S3{}, fmt.Errorf("S3 Secret %s/%s: %w; fix it with `kubectl pgbackrest s3 configure`",
			sec.Namespace, sec.Name, err)
	}
	return cluster.S3{
		Bucket:    st.Bucket,
		Endpoint:  st.Endpoint,
		Region:    st.Region,
		URIStyle:  st.URIStyle,
		VerifyTLS: st.VerifyTLS,
		HasCA:     len(st.CABundle) > 0,
	}, nil
}

// ReadS3 reads and checks the S3 Secret name in ns.
func ReadS3(ctx context.Context, cs kubernetes.Interface, ns, name string) (cluster.S3, error) {
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return cluster.S3{}, exitcode.Usage(fmt.Errorf("%w: --storage includes s3 but Secret %q does not exist in namespace %q; "+
			"create it with `kubectl pgbackrest s3 configure --bucket B --endpoint E --region R -n %s`, or name another with --s3-secret",
			ErrNoS3Secret, name, ns, ns))
	}
	if err != nil {
		return cluster.S3{}, kube.Explain(fmt.Errorf("reading S3 Secret %s/%s: %w", ns, name, err), "get", "secrets", ns)
	}
	s3, err := S3FromSecret(sec)
	if err != nil {
		return s3, exitcode.Usage(err)
	}
	return s3, nil
}

// Prepare validates cfg against the cluster: the S3 Secret when storage includes s3, and an
// existing cluster of that name (whose storage must match; its stored spec is then used). It
// writes nothing.
func Prepare(ctx context.Context, cs kubernetes.Interface, cfg Config) (spec *cluster.Spec, existing *corev1.ConfigMap, err error) {
	if err := cluster.ValidateName(cfg.Name); err != nil {
		return nil, nil, exitcode.Usage(err)
	}
	stored, cm, err := cluster.Get(ctx, cs, cfg.Namespace, cfg.Name)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return nil, nil, kube.Explain(err, "get", "configmaps", cfg.Namespace)
	default:
		// A create now would bring the old primary back on the old PVC, taking writes the
		// restore then drops.
		if err := cluster.CheckNoRestore(cm, "create"); err != nil {
			return nil, nil, exitcode.Usage(err)
		}
		if !slices.Equal(stored.Storages, cfg.Storages) {
			return nil, nil, exitcode.Usage(fmt.Errorf("%w: cluster %s has %s, not %s; keep --storage=%s, or create another cluster",
				ErrStorageFixed, cfg.Name, storageString(stored.Storages), storageString(cfg.Storages), storageString(stored.Storages)))
		}
		if err := checkCipherFixed(stored, cfg); err != nil {
			return nil, nil, err
		}
		if err := checkPGVersionFixed(stored, cm, cfg); err != nil {
			return nil, nil, err
		}
		if stored.Has(pgbackrest.S3) {
			if _, err := ReadS3(ctx, cs, cfg.Namespace, stored.S3Secret); err != nil {
				return nil, nil, err
			}
		}
		if cfg.ImageExplicit && cfg.Image != "" && cfg.Image != stored.Image && cm.Annotations[AnnotationCreatedAt] == "" {
			// A create that never finished, typically because its image could not be pulled: the
			// image given now replaces it (configDone then re-applies the ConfigMap).
			stored.Image = cfg.Image
			stored.ImageDigest = "" // the pin was the other image's
		}
		adoptPullSecrets(stored, cm, cfg)
		if err := checkNames(ctx, cs, stored); err != nil {
			return nil, nil, err
		}
		return stored, cm, nil
	}
	var s3 cluster.S3
	if slices.Contains(cfg.Storages, pgbackrest.S3) {
		name := cfg.S3Secret
		if name == "" {
			name = cluster.DefaultS3Secret
		}
		if s3, err = ReadS3(ctx, cs, cfg.Namespace, name); err != nil {
			return nil, nil, err
		}
	}
	spec = NewSpec(cfg, s3)
	u, err := PodUser(ctx, cs, cfg, cfg.Warn)
	if err != nil {
		return nil, nil, err
	}
	spec.RunAsUser, spec.FSGroup = u.RunAsUser, u.FSGroup
	if err := spec.Validate(); err != nil {
		return nil, nil, exitcode.Usage(err)
	}
	if err := checkStorageClass(ctx, cs, spec.StorageClass); err != nil {
		return nil, nil, err
	}
	if _, _, err := Render(spec); err != nil {
		return nil, nil, exitcode.Usage(err)
	}
	if err := checkNames(ctx, cs, spec); err != nil {
		return nil, nil, err
	}
	return spec, nil, nil
}

func storageString(s []pgbackrest.Storage) string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = string(st)
	}
	return strings.Join(parts, ",")
}

// Run creates the cluster, or resumes a create that stopped, or finds it done.
func Run(ctx context.Context, deps Deps, cfg Config) (*Result, error) {
	now := deps.Now
	if now == nil {
		now = time.Now
		deps.Now = now
	}
	if cfg.Warn == nil {
		cfg.Warn = deps.Warn
	}
	spec, cm, err := Prepare(ctx, deps.Client, cfg)
	if err != nil {
		return nil, err
	}
	if spec.Has(pgbackrest.S3) && !spec.S3.VerifyTLS && deps.Warn != nil {
		deps.Warn(s3settings.NoVerifyWarning(spec.S3Secret, spec.S3.Endpoint))
	}
	warnPullSecrets(ctx, deps, spec)
	var deadline time.Time
	if cfg.Timeout > 0 {
		deadline = now().Add(cfg.Timeout)
	}
	w := &run{deps: deps, spec: spec, deadline: deadline, schedules: cfg.Schedules}
	rec := &recorder{Reporter: deps.Reporter}
	err = (workflow.Runner{Now: now}).Run(ctx, w.steps(), rec)
	res := &Result{Spec: spec, Existed: cm != nil, Changed: rec.applied > 0}
	var mismatch *RepositoryMismatchError
	if errors.As(err, &mismatch) {
		// Its own message says what to do; "re-run to resume" would not help.
		return res, mismatch
	}
	var stuck *StuckError
	if errors.As(err, &stuck) {
		return res, stuck // the same: the same command would stop the same way
	}
	return res, err
}

// recorder counts the steps that were applied (not found done).
type recorder struct {
	workflow.Reporter
	applied int
}

func (r *recorder) Start(name string) {
	r.applied++
	r.Reporter.Start(name)
}

// run holds one create run's state.
type run struct {
	deps      Deps
	spec      *cluster.Spec
	deadline  time.Time
	schedules map[string]string
}

func (w *run) ns() string           { return w.spec.Namespace }
func (w *run) names() cluster.Names { return w.spec.Names() }

// remaining is what is left of --timeout for a wait (0: no bound).
func (w *run) remaining() time.Duration {
	if w.deadline.IsZero() {
		return 0
	}
	return max(w.deadline.Sub(w.deps.Now()), time.Second)
}

func (w *run) steps() []workflow.Step {
	n := w.names()
	pvcs := []string{w.spec.DataPVC}
	if w.spec.Has(pgbackrest.Local) {
		pvcs = append(pvcs, n.RepoPVC())
	}
	steps := []workflow.Step{
		{Name: "cluster config (ConfigMap " + n.ConfigMap() + ")", Done: w.configDone, Apply: w.applyConfig},
		{Name: "TLS certificates (Secret " + n.TLSSecret() + ")", Done: w.secretDone, Apply: w.createSecret},
	}
	if w.spec.Encrypted() {
		steps = append(steps, workflow.Step{Name: "repository passphrase (Secret " + n.CipherSecret() + ")", Done: w.cipherDone, Apply: w.createCipher})
	}
	return append(append(steps, []workflow.Step{
		{Name: "volumes (PVC " + strings.Join(pvcs, ", ") + ")", Done: w.volumesDone, Apply: w.createVolumes},
		{Name: "services (" + n.Primary() + ", " + n.RepoHost() + ")", Done: w.servicesDone, Apply: w.applyServices},
		{Name: "network policies (" + n.RepoHost() + ", " + n.Primary() + ")", Done: w.policiesDone, Apply: w.applyPolicies},
		{Name: "repository host (Deployment " + n.RepoHost() + " available)",
			Done: w.deploymentDone(n.RepoHost()), Apply: w.applyDeployment(w.repoDeployment)},
		{Name: "pin the image to its digest (from the repository host's pod)", Done: w.pinDone, Apply: w.pin},
		{Name: "repository host on the pinned image (Deployment " + n.RepoHost() + " available)",
			Done: w.deploymentDone(n.RepoHost()), Apply: w.applyDeployment(w.repoDeployment)},
		{Name: "primary (Deployment " + n.Primary() + " available)",
			Done: w.deploymentDone(n.Primary()), Apply: w.applyDeployment(w.primaryDeployment)},
		{Name: "stanza-create", Done: w.markerDone, Apply: w.stanzaCreate},
		{Name: "check (WAL archiving reaches " + storageString(w.spec.Storages) + ")", Done: w.markerDone, Apply: w.check},
		{Name: "mark created (annotation " + AnnotationCreatedAt + ")", Done: w.markerDone, Apply: w.mark},
	}...), w.scheduleSteps()...)
}

func (w *run) configs() (dbConf, repoConf string, err error) { return Render(w.spec) }

// configDone: the ConfigMap exists, with the image of the spec (Prepare may have replaced the
// image of a create that never finished).
func (w *run) configDone(ctx context.Context) (bool, error) {
	stored, _, err := cluster.Get(ctx, w.deps.Client, w.ns(), w.spec.Name)
	if errors.Is(err, cluster.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, kube.Explain(err, "get", "configmaps", w.ns())
	}
	return stored.PodImage() == w.spec.PodImage() && slices.Equal(stored.ImagePullSecrets, w.spec.ImagePullSecrets), nil
}

func (w *run) applyConfig(ctx context.Context) error {
	dbConf, repoConf, err := w.configs()
	if err != nil {
		return err
	}
	cm, err := manifest.ConfigMap(w.spec, dbConf, repoConf)
	if err != nil {
		return exitcode.Usage(err)
	}
	_, err = kube.Apply(ctx, w.deps.Client, cm, kube.ApplyOptions{})
	return err
}

func (w *run) secretDone(ctx context.Context) (bool, error) {
	return w.present(ctx, kube.Ref{Kind: "Secret", Namespace: w.ns(), Name: w.names().TLSSecret()})
}

// createSecret makes the TLS material once: an existing Secret is never regenerated, since the
// running pods trust it.
func (w *run) createSecret(ctx context.Context) error {
	tls, err := GenerateCerts(w.spec, w.deps.Now())
	if err != nil {
		return err
	}
	sec := manifest.TLSSecret(w.spec, tls)
	_, err = w.deps.Client.CoreV1().Secrets(w.ns()).Create(ctx, sec, metav1.CreateOptions{FieldManager: kube.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		// Made meantime: trusted only if it is the cluster's.
		_, err := w.present(ctx, kube.Ref{Kind: "Secret", Namespace: w.ns(), Name: sec.Name})
		return err
	}
	if err != nil {
		return kube.Explain(fmt.Errorf("creating Secret %s/%s: %w", w.ns(), sec.Name, err), "create", "secrets", w.ns())
	}
	return nil
}

func (w *run) pvcs() []*corev1.PersistentVolumeClaim {
	out := []*corev1.PersistentVolumeClaim{manifest.DataPVC(w.spec, w.spec.DataPVC)}
	if w.spec.Has(pgbackrest.Local) {
		out = append(out, manifest.RepoPVC(w.spec))
	}
	return out
}

func (w *run) volumesDone(ctx context.Context) (bool, error) {
	for _, p := range w.pvcs() {
		ok, err := w.present(ctx, kube.Ref{Kind: "PersistentVolumeClaim", Namespace: w.ns(), Name: p.Name})
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// createVolumes creates the PVCs that are missing. Existing ones are left alone: a PVC holds data,
// and an apply could try to resize it.
func (w *run) createVolumes(ctx context.Context) error {
	for _, p := range w.pvcs() {
		_, err := w.deps.Client.CoreV1().PersistentVolumeClaims(w.ns()).Create(ctx, p, metav1.CreateOptions{FieldManager: kube.FieldManager})
		if apierrors.IsAlreadyExists(err) {
			// Made meantime: used only if it is the cluster's.
			if _, err := w.present(ctx, kube.Ref{Kind: "PersistentVolumeClaim", Namespace: w.ns(), Name: p.Name}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return kube.Explain(fmt.Errorf("creating PVC %s/%s: %w", w.ns(), p.Name, err), "create", "persistentvolumeclaims", w.ns())
		}
	}
	return nil
}

func (w *run) servicesDone(ctx context.Context) (bool, error) {
	for _, name := range []string{w.names().Primary(), w.names().RepoHost()} {
		ok, err := w.present(ctx, kube.Ref{Kind: "Service", Namespace: w.ns(), Name: name})
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (w *run) applyServices(ctx context.Context) error {
	for _, svc := range []*corev1.Service{manifest.PrimaryService(w.spec), manifest.RepoHostService(w.spec)} {
		if _, err := kube.Apply(ctx, w.deps.Client, svc, kube.ApplyOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (w *run) repoDeployment() (*appsv1.Deployment, error) {
	_, repoConf, err := w.configs()
	if err != nil {
		return nil, err
	}
	return manifest.RepoHostDeployment(w.spec, repoConf), nil
}

func (w *run) primaryDeployment() (*appsv1.Deployment, error) {
	return manifest.PrimaryDeployment(w.spec), nil
}

// deploymentDone is true when the Deployment exists and is available.
func (w *run) deploymentDone(name string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		d, err := w.deps.Client.AppsV1().Deployments(w.ns()).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, kube.Explain(fmt.Errorf("getting Deployment %s/%s: %w", w.ns(), name, err), "get", "deployments", w.ns())
		}
		if err := kube.CheckOwner(kube.Ref{Kind: "Deployment", Namespace: w.ns(), Name: name}, d, cluster.Owner(w.spec.Name)); err != nil {
			return false, err // another's Deployment, available or not, is not this step done
		}
		if !OnImage(d, w.spec) {
			return false, nil // the pin came after it (or a create re-run took another image)
		}
		ok, _, err := kube.DeploymentAvailable(d)
		if err != nil {
			// A stuck rollout is not done; Apply re-applies and waits again.
			return false, nil
		}
		return ok, nil
	}
}

func (w *run) applyDeployment(build func() (*appsv1.Deployment, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		d, err := build()
		if err != nil {
			return err
		}
		if _, err := kube.Apply(ctx, w.deps.Client, d, kube.ApplyOptions{}); err != nil {
			return err
		}
		waiter := kube.Waiter{Client: w.deps.Client, Now: w.deps.Now}
		if w.deps.ErrOut != nil {
			waiter.Progress = kube.ProgressTo(w.deps.ErrOut)
		}
		err = waiter.DeploymentAvailable(ctx, w.ns(), d.Name, w.remaining())
		var stuck *kube.StuckError
		if errors.As(err, &stuck) {
			return &StuckError{Err: stuck, Hint: w.stuckHint(stuck)}
		}
		return err
	}
}

// markerDone is true once create finished: the created-at annotation is on the ConfigMap.
func (w *run) markerDone(ctx context.Context) (bool, error) {
	cm, err := w.deps.Client.CoreV1().ConfigMaps(w.ns()).Get(ctx, w.names().ConfigMap(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, kube.Explain(fmt.Errorf("getting ConfigMap %s/%s: %w", w.ns(), w.names().ConfigMap(), err), "get", "configmaps", w.ns())
	}
	_, ok := cm.Annotations[AnnotationCreatedAt]
	return ok, nil
}

// mark writes the done marker. It is a merge patch, not an apply: a later apply of the ConfigMap
// by the same field manager must not drop it.
func (w *run) mark(ctx context.Context) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, AnnotationCreatedAt, w.deps.Now().UTC().Format(time.RFC3339))
	_, err := w.deps.Client.CoreV1().ConfigMaps(w.ns()).Patch(ctx, w.names().ConfigMap(), types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return kube.Explain(fmt.Errorf("marking ConfigMap %s/%s created: %w", w.ns(), w.names().ConfigMap(), err), "patch", "configmaps", w.ns())
	}
	return nil
}

// execRepo runs a pgBackRest command in the repository host and returns what it printed.
func (w *run) execRepo(ctx context.Context, args []string) (string, error) {
	pod, err := cluster.FindRepoPod(ctx, w.deps.Client, w.ns(), w.spec.Name)
	if err != nil {
		return "", err
	}
	if !w.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, w.deadline)
		defer cancel()
	}
	// pgBackRest logs INFO to stdout and errors to stderr; both streams arrive concurrently.
	var out lockedBuffer
	err = w.deps.Exec.Exec(ctx, w.ns(), pod.Name, manifest.ContainerPGBackRest, args, nil, &out, &out)
	if err != nil {
		return out.String(), kube.Explain(err, "create", "pods/exec", w.ns())
	}
	return out.String(), nil
}

// lockedBuffer is a bytes.Buffer that two streams may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (w *run) stanzaCreate(ctx context.Context) error {
	args := pgbackrest.StanzaCreateArgs(pgbackrest.DefaultStanza)
	out, err := w.execRepo(ctx, args)
	if err != nil {
		return w.explain(ctx, "stanza-create", out, err)
	}
	return nil
}

func (w *run) check(ctx context.Context) error {
	out, err := w.execRepo(ctx, pgbackrest.CheckArgs(pgbackrest.DefaultStanza, 0))
	if err != nil {
		return w.explain(ctx, "check", out, err)
	}
	return nil
}

// explain is explainPGBackRest, plus what answered when pgBackRest rejected a server's certificate.
func (w *run) explain(ctx context.Context, command, out string, err error) error {
	err = explainPGBackRest(w.spec, command, out, err)
	if peer := w.explainTLSPeer(ctx, out); peer != "" {
		return fmt.Errorf("%w\n%s", err, peer)
	}
	return err
}

// tail returns the last n non-empty lines of s, indented, for an error message.
func tail(s string, n int) string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
