package create

import (
	"context"
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// ErrNoDigest is wrapped when create cannot learn the digest of the image its first pod runs.
var ErrNoDigest = errors.New("cannot pin the image to a digest")

// OnImage says every container of d's pod template runs spec's PodImage with spec's pull Secrets:
// a Deployment applied before the pin (or with another image) is not the step done.
func OnImage(d *appsv1.Deployment, spec *cluster.Spec) bool {
	pod := d.Spec.Template.Spec
	for _, c := range pod.Containers {
		if c.Image != spec.PodImage() {
			return false
		}
	}
	return slices.Equal(pullSecretNames(pod.ImagePullSecrets), spec.ImagePullSecrets)
}

func pullSecretNames(refs []corev1.LocalObjectReference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}

// adoptPullSecrets gives a create that never finished the --image-pull-secret values given now:
// its pods could typically not pull without them. A finished cluster keeps its own (update
// changes a running cluster's pods; create does not).
func adoptPullSecrets(stored *cluster.Spec, cm *corev1.ConfigMap, cfg Config) {
	if cfg.ImagePullSecrets != nil && cm.Annotations[AnnotationCreatedAt] == "" {
		stored.ImagePullSecrets = slices.Clone(cfg.ImagePullSecrets)
	}
}

// pinDone: the spec records a digest, or the cluster was created before create pinned images
// (a re-run of create on a finished cluster changes nothing; `update --image` pins it).
func (w *run) pinDone(ctx context.Context) (bool, error) {
	if w.spec.ImageDigest != "" {
		return true, nil
	}
	return w.markerDone(ctx)
}

// pin records the digest of the image the repository host's pod runs in the spec, so that every
// later pod (and the repository host, re-applied by the next step) runs exactly those bytes.
func (w *run) pin(ctx context.Context) error {
	digest := cluster.ImageRefDigest(w.spec.Image)
	if digest == "" {
		var err error
		digest, err = RunningDigest(ctx, w.deps.Client, w.spec, cluster.RoleRepo)
		if errors.Is(err, cluster.ErrNoRepoDigest) {
			// An image loaded into the node without a registry (kind load, ctr import) has no
			// digest a pod could pull by: the cluster runs the tag, as before pinning existed.
			if w.deps.Warn != nil {
				w.deps.Warn(fmt.Sprintf("image %s not pinned: %v. Its pods run the tag, which can move; push the image to a registry, "+
					"or give --image as repository@sha256:<digest>, to pin it (docs/upgrade.md)", w.spec.Image, err))
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	w.spec.ImageDigest = digest
	return w.applyConfig(ctx)
}

// RunningDigest is the digest of spec.Image as the kubelet reports it for a running pod of role:
// the imageID of a container whose image is spec.Image (the tag asked for, not a pod of an older
// image still terminating).
func RunningDigest(ctx context.Context, cs kubernetes.Interface, spec *cluster.Spec, role cluster.Role) (string, error) {
	ns := spec.Namespace
	sel := cluster.SelectorString(spec.Name, role)
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", kube.Explain(fmt.Errorf("listing the pods of cluster %s (%s) to pin the image: %w", spec.Name, sel, err), "list", "pods", ns)
	}
	for _, p := range list.Items {
		if id := ImageIDOf(&p, spec.Image); id != "" {
			d, err := cluster.DigestFromImageID(id)
			if err != nil {
				return "", fmt.Errorf("%w %s (pod %s/%s): %w; give --image as repository@sha256:<digest> to pin it yourself",
					ErrNoDigest, spec.Image, ns, p.Name, err)
			}
			return d, nil
		}
	}
	return "", fmt.Errorf("%w %s: no running pod of cluster %s (%s) reports it; re-run to resume", ErrNoDigest, spec.Image, spec.Name, sel)
}

// ImageIDOf is the imageID of p's first running container whose spec names image, or "".
func ImageIDOf(p *corev1.Pod, image string) string {
	want := map[string]bool{}
	for _, c := range p.Spec.Containers {
		if c.Image == image {
			want[c.Name] = true
		}
	}
	for _, st := range p.Status.ContainerStatuses {
		if want[st.Name] && st.ImageID != "" && (st.State.Running != nil || st.State.Terminated != nil) {
			return st.ImageID
		}
	}
	return ""
}

// warnPullSecrets warns about an --image-pull-secret that does not exist (yet) or is not a
// registry credential. A warning, not a refusal: such Secrets are often written by another tool
// (external-secrets, a GitOps sync) around the same time, and the kubelet uses one as soon as it
// appears; if it never does, the first pod's wait stops within seconds, explaining the failed
// pull. A read that is refused (no `get secrets` right) says nothing.
func warnPullSecrets(ctx context.Context, d Deps, spec *cluster.Spec) {
	if d.Warn == nil {
		return
	}
	for _, name := range spec.ImagePullSecrets {
		sec, err := d.Client.CoreV1().Secrets(spec.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			d.Warn(fmt.Sprintf("--image-pull-secret %s: Secret %s/%s does not exist yet; pods cannot pull %s with it until it does "+
				"(kubectl create secret docker-registry %s -n %s --docker-server=... --docker-username=... --docker-password=...)",
				name, spec.Namespace, name, spec.Image, name, spec.Namespace))
		case err != nil:
		case sec.Type != corev1.SecretTypeDockerConfigJson && sec.Type != corev1.SecretTypeDockercfg:
			d.Warn(fmt.Sprintf("--image-pull-secret %s: Secret %s/%s has type %q; the kubelet reads only %s (or %s) Secrets as registry credentials",
				name, spec.Namespace, name, sec.Type, corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg))
		}
	}
}
