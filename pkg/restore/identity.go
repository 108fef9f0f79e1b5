package restore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// Annotations that record, beside the target (AnnotationTarget), the flags that change where and
// how a restore runs, and how far it got. AnnotationRun and AnnotationCompleted go with the other
// restore annotations when the restore finishes; AnnotationLastRun keeps the finished one's.
const (
	AnnotationRun       = cluster.AnnotationRestorePrefix + "run"
	AnnotationCompleted = cluster.AnnotationRestorePrefix + "completed"
	AnnotationLastRun   = "pgbackrest.dev/last-restore-run"
)

// phaseOrder is the order in which the phased steps run: a phase recorded as completed proves
// every phase before it (progress is monotonic).
var phaseOrder = []string{PhaseSchedule, PhasePVC, PhaseArchive, PhaseStop, PhaseRepoPath, PhaseJob,
	PhasePrimary, PhaseRecovery, PhaseCheck, PhaseBackup, PhaseRetire, PhaseResume}

// phaseIndex is phase's place in phaseOrder, -1 for "" and for a phase this version does not know.
func phaseIndex(phase string) int { return slices.Index(phaseOrder, phase) }

// RunFlags are the flags besides the target that change where a restore runs and how pgBackRest
// restores. After a restore finished, a re-run that omits them means the recorded ones, and one
// that gives others is told which differ; Restore.resume says what a resume keeps.
type RunFlags struct {
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	Options    []string          `json:"options,omitempty"`
}

func (f RunFlags) encode() string {
	b, _ := json.Marshal(f) // a map of strings and a slice of strings always marshal
	return string(b)
}

func parseRunFlags(s string) (RunFlags, error) {
	var f RunFlags
	if s == "" {
		return f, nil
	}
	err := json.Unmarshal([]byte(s), &f)
	return f, err
}

// effective is what this run uses: each flag the user gave, else the recorded one.
func (c Config) effective(recorded RunFlags) RunFlags {
	f := recorded
	if c.NodeSelector != nil {
		f.NodeLabels = maps.Clone(c.NodeSelector)
	}
	if c.Options != nil {
		f.Options = slices.Clone(c.Options)
	}
	return f
}

// diffRunFlags lists, in the plugin's own flag names, the flags of now that differ from was.
func diffRunFlags(was, now RunFlags) []string {
	var out []string
	if !maps.Equal(was.NodeLabels, now.NodeLabels) {
		out = append(out, fmt.Sprintf("--node-label (was %s, now %s)", labelsText(was.NodeLabels), labelsText(now.NodeLabels)))
	}
	if !slices.Equal(was.Options, now.Options) {
		out = append(out, fmt.Sprintf("--options (was %s, now %s)", optionsText(was.Options), optionsText(now.Options)))
	}
	return out
}

func labelsText(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func optionsText(o []string) string {
	if len(o) == 0 {
		return "none"
	}
	return fmt.Sprintf("%q", strings.Join(o, " "))
}

// FlagsDifferError refuses a re-run whose flags differ from those of the restore it would resume
// or repeat: silently using either set would do something the user did not ask for.
type FlagsDifferError struct {
	Cluster, ID string
	Finished    bool
	Diffs       []string
}

func (e *FlagsDifferError) Error() string {
	if e.Finished {
		return fmt.Sprintf("restore %s of cluster %s to this target has finished, with other flags: %s; "+
			"pass --again to restore again with this command's flags (on a new PVC; the current one is kept)",
			e.ID, e.Cluster, strings.Join(e.Diffs, ", "))
	}
	return fmt.Sprintf("restore %s of cluster %s to this target is half done and was started with other flags: %s; "+
		"its restore Job was placed by them, and so is its new PVC: leave --node-label out (or repeat the recorded one) to resume it, "+
		"or pass --abandon to start over with them on a new PVC (every PVC is kept)",
		e.ID, e.Cluster, strings.Join(e.Diffs, ", "))
}

// recordedRestore is a half-done restore as the ConfigMap's annotations describe it, checked:
// a resume acts on what it reads back, so a hand-edited or truncated value must stop it rather
// than point a restore Job at the wrong PVC.
type recordedRestore struct {
	ID, PVC, OldPVC string
	Completed       int
	Run             RunFlags
}

func readRecorded(spec *cluster.Spec, cm *corev1.ConfigMap) (*recordedRestore, error) {
	a := cm.Annotations
	rec := &recordedRestore{ID: a[AnnotationID], PVC: a[AnnotationPVC], OldPVC: a[AnnotationOldPVC], Completed: -1}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("the restore recorded on ConfigMap %s/%s was edited or is damaged: %s; no restore step ran. "+
			"Put the annotation back, or pass --abandon to start a new restore (every PVC is kept)",
			cm.Namespace, cm.Name, fmt.Sprintf(format, args...))
	}
	if _, err := time.Parse(cluster.RestoreIDFormat, rec.ID); err != nil || len(rec.ID) != len(cluster.RestoreIDFormat) {
		return nil, bad("%s is %q, not a restore id (%d digits, UTC time)", AnnotationID, rec.ID, len(cluster.RestoreIDFormat))
	}
	want := spec.Names().RestoredDataPVC(rec.ID)
	if rec.PVC == "" {
		rec.PVC = want // recorded by a version that did not write it
	}
	if rec.PVC != want {
		return nil, bad("%s is %q, but restore %s restores onto PVC %s", AnnotationPVC, rec.PVC, rec.ID, want)
	}
	if rec.OldPVC == rec.PVC {
		return nil, bad("%s names the restore's own new PVC %s", AnnotationOldPVC, rec.PVC)
	}
	if rec.OldPVC != "" && rec.OldPVC != spec.Name && !strings.HasPrefix(rec.OldPVC, spec.Name+"-") {
		return nil, bad("%s is %q, not a data PVC of cluster %s", AnnotationOldPVC, rec.OldPVC, spec.Name)
	}
	if c := a[AnnotationCompleted]; c != "" {
		if rec.Completed = phaseIndex(c); rec.Completed < 0 {
			return nil, bad("%s is %q, not one of the phases %s", AnnotationCompleted, c, strings.Join(phaseOrder, ", "))
		}
	}
	run, err := parseRunFlags(a[AnnotationRun])
	if err != nil {
		return nil, bad("%s is not the JSON this plugin writes: %v", AnnotationRun, err)
	}
	rec.Run = run
	return rec, nil
}
