package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// A recovery that cannot reach its target: PostgreSQL replays every WAL segment it can find, then
// ends with FATAL, and each restart of the container replays the same WAL to the same end. The
// wait for the new primary would go on until its timeout; these rules end it at the first
// termination instead and say which target could not be reached.

// causeRecoveryTarget is the kube.StuckError cause of recoveryTargetRule.
const causeRecoveryTarget = "recovery-target"

// recoveryFatal are parts of PostgreSQL's FATAL messages of a recovery that cannot get to its
// target, whatever it is restarted with.
var recoveryFatal = []string{
	"recovery ended before configured recovery target was reached",      // a name, time, xid or LSN past the end of the WAL
	"is not a child of this server's history",                           // --target-timeline that the backup is not on
	"recovery target timeline",                                          // "recovery target timeline N does not exist"
	"requested recovery stop point is before consistent recovery point", // a target before the set ended
}

// recoveryFailure looks for such a FATAL line in the termination messages (the primary's
// postgres container falls back to its log) and the previous logs of p's containers.
func recoveryFailure(p *corev1.Pod, logs map[string]string) (line, detail string, ok bool) {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		texts := []string{logs[p.Name+"/"+cs.Name]}
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t != nil {
				texts = append(texts, t.Message)
			}
		}
		for _, text := range texts {
			for _, l := range strings.Split(text, "\n") {
				if !strings.Contains(l, "FATAL") {
					continue
				}
				for _, f := range recoveryFatal {
					if strings.Contains(l, f) {
						return strings.TrimSpace(l), lastLines(strings.TrimSpace(text), 8), true
					}
				}
			}
		}
	}
	return "", "", false
}

// recoveryTargetRule is the explainer rule of the wait for the new primary.
func recoveryTargetRule(o kube.Observation, _ time.Time) (kube.Diagnosis, bool) {
	for _, p := range o.Pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if line, detail, ok := recoveryFailure(p, o.Logs); ok {
			return kube.Diagnosis{Key: "recovery-target " + p.Name, Fatal: true, Cause: causeRecoveryTarget,
				Text:   fmt.Sprintf("pod %s: PostgreSQL ended recovery without reaching the target: %s", p.Name, line),
				Detail: detail}, true
		}
	}
	return kube.Diagnosis{}, false
}

// RecoveryTargetError is a restore whose new primary cannot reach the recovery target.
type RecoveryTargetError struct {
	// Pod is the new primary's pod; Line PostgreSQL's FATAL line; Log the last lines of its log.
	Pod, Line, Log string
	// Namespace and Cluster name the cluster; Flags are the restore's flags (cluster.RestoreFlags);
	// ID and PVC the restore and its data PVC.
	Namespace, Cluster, Flags, ID, PVC string
	// Window is the repository's recoverable window, when known.
	Window *pgbackrest.RecoveryWindow
}

func (e *RecoveryTargetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "restore %s cannot reach its target (%s): PostgreSQL in pod %s replayed all the WAL it could find and stopped: %s",
		orText(e.ID, "of cluster "+e.Cluster), orText(e.Flags, "as given"), orText(e.Pod, "of the primary"), e.Line)
	if e.Log != "" {
		fmt.Fprintf(&b, "\nlast lines of its log (kubectl logs -n %s %s -c %s --previous):\n%s", e.Namespace, e.Pod, manifest.ContainerPostgres,
			"    "+strings.ReplaceAll(e.Log, "\n", "\n    "))
	}
	fmt.Fprintf(&b, "\nThe archive holds no such point on the followed timeline (a restore point name never created, a time or LSN past the end "+
		"of the archive, or a timeline the backup is not on); restarting cannot change that%s. "+
		"Restore again with another target: kubectl pgbackrest restore %s -n %s --abandon --target-...=... "+
		"(PVC %s of this restore is kept, and so is every earlier data PVC)", windowText(e.Window), e.Cluster, e.Namespace, e.PVC)
	return b.String()
}

// waitPrimaryAvailable waits for the new primary's Deployment, ending at the first sign that its
// recovery cannot reach the target.
func (r *Restore) waitPrimaryAvailable(ctx context.Context) error {
	w := r.waiter()
	w.Rules = []kube.Rule{recoveryTargetRule}
	err := w.DeploymentAvailable(ctx, r.Spec.Namespace, r.Spec.Names().Primary(), r.cfg.Timeout)
	var stuck *kube.StuckError
	if errors.As(err, &stuck) && stuck.Cause == causeRecoveryTarget {
		e := &RecoveryTargetError{Line: stuck.Reason, Log: stuck.Detail, Namespace: r.Spec.Namespace, Cluster: r.Spec.Name}
		if pod, line, log, ok := checkRecoveryFailed(ctx, r.d, r.Spec); ok {
			e.Pod, e.Line, e.Log = pod, line, log
		}
		return r.targetError(e)
	}
	return err
}

// targetError completes e with what the restore knows: its flags, id, PVC and window.
func (r *Restore) targetError(e *RecoveryTargetError) error {
	e.Flags, e.ID, e.PVC, e.Window = cluster.RestoreFlags(r.Canonical), r.ID, r.PVC, r.Window
	return e
}

// checkRecoveryFailed looks at the primary's pods once: a recovery that cannot reach its target
// returns a RecoveryTargetError (WaitRecovery's polls see only that psql fails).
func checkRecoveryFailed(ctx context.Context, d Deps, spec *cluster.Spec) (pod, line, log string, failed bool) {
	list, err := d.Client.CoreV1().Pods(spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: cluster.SelectorString(spec.Name, cluster.RolePrimary)})
	if err != nil {
		return "", "", "", false
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if line, log, ok := recoveryFailure(p, nil); ok {
			return p.Name, line, log, true
		}
	}
	return "", "", "", false
}

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
