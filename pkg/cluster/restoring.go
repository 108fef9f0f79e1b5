package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// Annotations on the cluster ConfigMap that carry a restore in progress (pkg/restore writes them
// when it records a restore and removes them all, in one update, when it finishes). They live here
// so every command that changes a cluster can refuse to run beside a half-done restore.
const (
	AnnotationRestoreID     = AnnotationRestorePrefix + "id"
	AnnotationRestoreTarget = AnnotationRestorePrefix + "target"
	AnnotationRestorePhase  = AnnotationRestorePrefix + "phase"
	AnnotationRestorePVC    = AnnotationRestorePrefix + "pvc"
	// AnnotationRestoreOldPVC is the data PVC the cluster ran on when the restore was recorded:
	// after the new primary starts, the spec names the new PVC, so only this says which one is kept.
	AnnotationRestoreOldPVC = AnnotationRestorePrefix + "old-pvc"
)

// ErrRestoreInProgress is matched (errors.Is) by every RestoreInProgressError.
var ErrRestoreInProgress = errors.New("a restore is in progress")

// RecordedRestore is a restore in progress as recorded on the cluster ConfigMap.
type RecordedRestore struct {
	ID, Target, Phase, PVC, OldPVC string
}

// Recorded returns the restore in progress recorded on cm, or nil when there is none.
func Recorded(cm *corev1.ConfigMap) *RecordedRestore {
	if cm == nil || cm.Annotations[AnnotationRestoreID] == "" {
		return nil
	}
	a := cm.Annotations
	return &RecordedRestore{ID: a[AnnotationRestoreID], Target: a[AnnotationRestoreTarget], Phase: a[AnnotationRestorePhase],
		PVC: a[AnnotationRestorePVC], OldPVC: a[AnnotationRestoreOldPVC]}
}

// RestoreInProgressError refuses a command that would change a cluster while a restore of it is
// half done: the old primary brought back, a backup or a delete would run beside a restore whose
// re-run then drops or destroys their work.
type RestoreInProgressError struct {
	// Verb is the refused command ("create", "backup", ...).
	Verb      string
	Namespace string
	Cluster   string
	Restore   RecordedRestore
}

func (e *RestoreInProgressError) Error() string {
	r := e.Restore
	cmd := "kubectl pgbackrest restore " + e.Cluster
	if e.Namespace != "" {
		cmd += " -n " + e.Namespace
	}
	flags := RestoreFlags(r.Target)
	finish := cmd
	if flags != "" {
		finish += " " + flags
	}
	phase := r.Phase
	if phase == "" {
		phase = "started"
	}
	what := flags
	if what == "" {
		what = r.Target
	}
	return fmt.Sprintf("%s of cluster %s refused: restore %s (%s) is in progress, stopped at phase %q; "+
		"finish it first by re-running the same restore, `%s` (it resumes where it stopped), "+
		"or start another restore over it with `%s --abandon --target-...` (every PVC is kept)",
		e.Verb, e.Cluster, r.ID, what, phase, finish, cmd)
}

// Is makes errors.Is(err, ErrRestoreInProgress) true.
func (e *RestoreInProgressError) Is(target error) bool { return target == ErrRestoreInProgress }

// CheckNoRestore returns a *RestoreInProgressError when cm records a restore in progress, nil
// otherwise. Every command that changes a cluster calls it (or RefuseMidRestore) before it changes
// anything: create, backup, delete, cleanup and promote today, and each new one as it arrives.
// verb names the command being refused. Callers mark it as a usage error (exit 2): it is
// returned before anything changes.
func CheckNoRestore(cm *corev1.ConfigMap, verb string) error {
	r := Recorded(cm)
	if r == nil {
		return nil
	}
	name := cm.Labels[LabelInstance]
	if name == "" {
		name = strings.TrimSuffix(cm.Name, Names{}.ConfigMap()) // "<cluster>-pgbackrest"
	}
	return &RestoreInProgressError{Verb: verb, Namespace: cm.Namespace, Cluster: name, Restore: *r}
}

// RefuseMidRestore reads the cluster ConfigMap and returns CheckNoRestore's error. A missing
// cluster is not its concern (nil): the caller's own read reports it.
func RefuseMidRestore(ctx context.Context, cs kubernetes.Interface, ns, name, verb string) error {
	_, cm, err := Get(ctx, cs, ns, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := CheckNoRestore(cm, verb); err != nil {
		var e *RestoreInProgressError
		if errors.As(err, &e) {
			e.Cluster = name
		}
		return err
	}
	return nil
}

// restoreKeys are the fields of a restore's canonical target (restore.Canonical), in order.
var restoreKeys = []string{"storage=", "type=", "target=", "set=", "timeline=", "exclusive", "action="}

// RestoreFlags turns a restore's canonical target ("storage=s3 type=time target=2026-11-25
// 10:00:00+00 action=promote", as restore.Canonical writes it) back into the restore flags that
// repeat it: `--storage=s3 --target-time="2026-11-25 10:00:00+00" --target-action=promote`.
func RestoreFlags(canonical string) string {
	fields := map[string]string{}
	var order []string
	cur := ""
	for _, tok := range strings.Fields(canonical) {
		key := ""
		for _, k := range restoreKeys {
			if tok == k || (strings.HasSuffix(k, "=") && strings.HasPrefix(tok, k)) {
				key = k
			}
		}
		if key == "" && cur != "" {
			fields[cur] += " " + tok // a value with spaces (a time, a restore point name)
			continue
		}
		if key == "" {
			continue
		}
		cur = key
		order = append(order, key)
		fields[key] = strings.TrimPrefix(tok, key)
	}
	typ := fields["type="]
	var out []string
	for _, k := range order {
		v := fields[k]
		switch k {
		case "storage=":
			out = append(out, "--storage="+v)
		case "type=":
			if v == "immediate" {
				out = append(out, "--target-immediate")
			}
		case "target=":
			out = append(out, "--target-"+typ+"="+shellQuote(v))
		case "set=":
			out = append(out, "--set="+shellQuote(v))
		case "timeline=":
			out = append(out, "--target-timeline="+v)
		case "exclusive":
			out = append(out, "--target-exclusive")
		case "action=":
			out = append(out, "--target-action="+v)
		}
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'$`\\!*?;&|<>()[]{}#~") {
		return s
	}
	if !strings.ContainsAny(s, "\"$`\\!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
