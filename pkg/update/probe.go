package update

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// probe runs the image once in a Job of its own, before any pod of the cluster does, and reads
// what ProbeScript printed and the digest the node pulled. A pull that fails stops the wait within
// seconds (Deps.PullGrace) with the registry's reason.
func (w *run) probe(ctx context.Context, image string) (*ImageFacts, error) {
	ns, name := w.ns(), w.spec.Names().ProbeJob()
	if err := w.deleteProbe(ctx, true); err != nil { // a previous run's, interrupted
		return nil, err
	}
	job := manifest.ImageProbeJob(w.spec, name, image)
	created, err := w.deps.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("creating the image probe Job %s/%s: %w", ns, name, err), "create", "jobs", ns)
	}
	defer func() { _ = w.deleteProbe(context.WithoutCancel(ctx), false) }()
	timeout := w.cfg.ProbeTimeout
	if timeout == 0 {
		timeout = DefaultProbeTimeout
	}
	fmt.Fprintf(w.deps.ErrOut, "probing image %s (Job %s)\n", image, name)
	waiter := kube.Waiter{Client: w.deps.Client, Now: w.deps.Now, Progress: kube.ProgressTo(w.deps.ErrOut), Grace: w.deps.PullGrace}
	err = waiter.JobSucceeded(ctx, ns, name, timeout)
	var stuck *kube.StuckError
	var failed *kube.JobFailedError
	switch {
	case errors.As(err, &stuck):
		return nil, exitcode.Usage(fmt.Errorf("%w: update --image %s of cluster %s: %w; nothing was changed", ErrRefused, image, w.spec.Name, err))
	case errors.As(err, &failed):
		return nil, exitcode.Usage(fmt.Errorf("%w: update --image %s of cluster %s: the image cannot run /bin/sh (docs/image.md): %w; nothing was changed",
			ErrRefused, image, w.spec.Name, err))
	case err != nil:
		return nil, fmt.Errorf("probing image %s: %w; nothing was changed", image, err)
	}
	pods, err := w.deps.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{kube.JobPodLabel: name}).String()})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("reading the image probe's pod: %w", err), "list", "pods", ns)
	}
	for _, p := range pods.Items {
		if !ownedBy(p.OwnerReferences, created.UID) {
			continue
		}
		for _, st := range p.Status.ContainerStatuses {
			t := st.State.Terminated
			if st.Name != manifest.ContainerProbe || t == nil || t.ExitCode != 0 {
				continue
			}
			facts := &ImageFacts{Image: image, Digest: cluster.ImageRefDigest(image)}
			if facts.PGMajor, facts.PGBackRest, err = ParseProbe(t.Message); err != nil {
				return nil, fmt.Errorf("probing image %s: %w", image, err)
			}
			if facts.Digest == "" {
				if facts.Digest, err = cluster.DigestFromImageID(st.ImageID); err != nil {
					return nil, exitcode.Usage(fmt.Errorf("%w: update --image %s: %w; give it as repository@sha256:<digest>; nothing was changed", ErrRefused, image, err))
				}
			}
			return facts, nil
		}
	}
	return nil, fmt.Errorf("probing image %s: the probe's pod has no finished container to read; re-run", image)
}

// ownedBy says refs name uid as owner; "" (a client that sets no UIDs) matches every pod.
func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	if uid == "" {
		return true
	}
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

// deleteProbe deletes the probe Job and its pod (and, when wait, waits until both are gone). The
// deletion is Foreground: the Job is gone only after its pod, so a probe of the same name that
// follows never meets the last one's pod (the waits find a Job's pods by its name).
func (w *run) deleteProbe(ctx context.Context, wait bool) error {
	ns, name := w.ns(), w.spec.Names().ProbeJob()
	c := w.deps.Client.BatchV1().Jobs(ns)
	j, err := c.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return kube.Explain(fmt.Errorf("reading Job %s/%s: %w", ns, name, err), "get", "jobs", ns)
	}
	if err := kube.CheckOwner(kube.Ref{Kind: "Job", Namespace: ns, Name: name}, j, cluster.Owner(w.spec.Name)); err != nil {
		return err
	}
	fg := metav1.DeletePropagationForeground
	if err := c.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return kube.Explain(fmt.Errorf("deleting Job %s/%s: %w", ns, name, err), "delete", "jobs", ns)
	}
	if !wait {
		return nil
	}
	return kube.WaitForJobGone(ctx, w.deps.Client, ns, name, w.remaining())
}
