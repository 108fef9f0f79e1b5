package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// ErrNoPod and ErrPodNotReady are matched (errors.Is) by FindPrimaryPod's and FindRepoPod's errors.
var (
	ErrNoPod       = errors.New("no pod")
	ErrPodNotReady = errors.New("pod not ready")
)

// FindPrimaryPod returns the cluster's Running and Ready PostgreSQL pod.
func FindPrimaryPod(ctx context.Context, cs kubernetes.Interface, ns, cluster string) (*corev1.Pod, error) {
	return findPod(ctx, cs, ns, cluster, RolePrimary, "primary", Names{Cluster: cluster}.Primary())
}

// FindRepoPod returns the cluster's Running and Ready repository host pod.
func FindRepoPod(ctx context.Context, cs kubernetes.Interface, ns, cluster string) (*corev1.Pod, error) {
	return findPod(ctx, cs, ns, cluster, RoleRepo, "repository host", Names{Cluster: cluster}.RepoHost())
}

func findPod(ctx context.Context, cs kubernetes.Interface, ns, cluster string, role Role, what, deployment string) (*corev1.Pod, error) {
	sel := SelectorString(cluster, role)
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the %s pods of cluster %s (%s): %w", what, cluster, sel, err)
	}
	pods := list.Items
	if len(pods) == 0 {
		return nil, fmt.Errorf("cluster %s: %w for the %s (selector %s): check Deployment %s with `kubectl -n %s describe deployment %s`",
			cluster, ErrNoPod, what, sel, deployment, ns, deployment)
	}
	// Newest first: during a rollout the newest pod is the one that matters.
	slices.SortFunc(pods, func(a, b corev1.Pod) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range pods {
		if PodReady(&pods[i]) {
			return &pods[i], nil
		}
	}
	p := &pods[0]
	why := ""
	if parsed, err := labels.Parse(sel); err == nil {
		// The same reading as the waits': the scheduler's reason, an image pull, a crash loop.
		if w := (kube.Waiter{Client: cs}).Why(ctx, ns, parsed); w != "" {
			why = " (" + w + ")"
		}
	}
	return nil, fmt.Errorf("cluster %s: %s %w: %s pod %s is %s%s; see `kubectl -n %s describe pod %s`",
		cluster, what, ErrPodNotReady, what, p.Name, PodStatus(p), why, ns, p.Name)
}

// PodReady says whether a pod is Running, Ready and not being deleted.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodStatus describes why a pod is not Running and Ready, from its status: phase, scheduling,
// and each container's waiting or terminated state.
func PodStatus(p *corev1.Pod) string {
	phase := string(p.Status.Phase)
	if phase == "" {
		phase = "Unknown"
	}
	parts := []string{"phase " + phase}
	if p.DeletionTimestamp != nil {
		parts = append(parts, "being deleted")
	}
	if p.Status.Reason != "" || p.Status.Message != "" {
		parts = append(parts, join(p.Status.Reason, p.Status.Message))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			parts = append(parts, "not scheduled: "+join(c.Reason, c.Message))
		}
	}
	describe := func(kind string, statuses []corev1.ContainerStatus) {
		for _, cs := range statuses {
			switch {
			case cs.State.Waiting != nil:
				s := fmt.Sprintf("%scontainer %s waiting: %s", kind, cs.Name, join(cs.State.Waiting.Reason, cs.State.Waiting.Message))
				if t := cs.LastTerminationState.Terminated; t != nil {
					s += fmt.Sprintf(" (last exit code %d%s)", t.ExitCode, prefixed(", ", join(t.Reason, t.Message)))
				}
				parts = append(parts, s)
			case cs.State.Terminated != nil:
				t := cs.State.Terminated
				if kind == "init " && t.ExitCode == 0 {
					continue
				}
				parts = append(parts, fmt.Sprintf("%scontainer %s terminated with exit code %d%s",
					kind, cs.Name, t.ExitCode, prefixed(": ", join(t.Reason, t.Message))))
			case cs.State.Running != nil && !cs.Ready && kind == "":
				parts = append(parts, fmt.Sprintf("container %s running but not ready", cs.Name))
			}
		}
	}
	describe("init ", p.Status.InitContainerStatuses)
	describe("", p.Status.ContainerStatuses)
	return strings.Join(parts, "; ")
}

func join(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
