package kube

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

// Why a wait has not ended yet, decided from what the cluster shows: the pods of the object waited
// for, their conditions and container states, the namespace's Events about them, their PVCs and
// nodes. Diagnose is pure; the watcher (explainer.go) gathers an Observation on every change.

// Causes of a StuckError, so a workflow can add the flag that fixes it.
const (
	CauseImage        = "image"        // the image cannot be pulled or is not a valid reference
	CauseStorageClass = "storageclass" // a PVC names a StorageClass that does not exist
	CauseAdmission    = "admission"    // the pod is refused at creation (Pod Security, quota, SCC, webhook)
)

// DefaultGrace is how long a cause that may still be a passing hiccup (an image pull failure: the
// registry may be restarting; a pod refused at creation: a quota may free up) must last before the
// wait gives up. Long enough for the kubelet's first pull retries (10 s, 20 s), short enough that a
// typo in --image fails in well under a minute.
const DefaultGrace = 30 * time.Second

// stuckTerminating is how long past its grace period a pod still terminating is called stuck.
const stuckTerminating = 15 * time.Second

// FenceWaitLine and FenceWaitRepoLine are what a primary's and a repository host's container log
// while the previous server on their volume still holds its fence (pkg/manifest): the replacement
// is progressing, not stuck.
const (
	FenceWaitLine     = "waiting for the previous PostgreSQL on this volume to stop"
	FenceWaitRepoLine = "waiting for the previous repository host on this volume to stop"
)

// Observation is what the explainer read for one object waited for.
type Observation struct {
	// Namespace of everything below.
	Namespace string
	// Pods of the object waited for (by its selector).
	Pods []*corev1.Pod
	// Events about those pods, their PVCs and the object's owners (a Deployment's ReplicaSets, the
	// Job), in any order.
	Events []corev1.Event
	// Owners are the kinds and names whose FailedCreate events count: {"ReplicaSet", "db-"} means
	// every ReplicaSet named db-*, {"Job", "db-restore-1"} that Job.
	Owners []Owner
	// OwnerFailure is the Deployment's ReplicaFailure condition message, "" when there is none.
	OwnerFailure string
	// Claims are the PVCs the pods mount, by name; nil for one that does not exist.
	Claims map[string]*corev1.PersistentVolumeClaim
	// MissingClasses are StorageClasses named by Pending claims that do not exist.
	MissingClasses map[string]bool
	// NodesNotReady maps the nodes known not Ready to their condition's message.
	NodesNotReady map[string]string
	// Logs holds the last lines of containers, by "pod/container": the previous run's for a container
	// in CrashLoopBackOff, the current one's for a running container of a pod that is not ready.
	Logs map[string]string
	// Since says when each cause (Diagnosis.Key) was first seen by this wait; a cause not in it is
	// new. Grace is how long a cause that may pass must last to be fatal (0: DefaultGrace).
	Since map[string]time.Time
	Grace time.Duration
}

// Owner names the objects whose events about creating pods count: Name is a prefix when it ends
// in "-".
type Owner struct{ Kind, Name string }

func (o Owner) matches(ref corev1.ObjectReference) bool {
	if ref.Kind != o.Kind {
		return false
	}
	if strings.HasSuffix(o.Name, "-") {
		return strings.HasPrefix(ref.Name, o.Name)
	}
	return ref.Name == o.Name
}

// Diagnosis is the main reason a wait goes on, for people.
type Diagnosis struct {
	// Key identifies the cause across observations ("image localhost/x:1"), for how long it lasted.
	Key string
	// Text is one line: what is wrong or what is awaited. "" means nothing worth saying.
	Text string
	// Detail adds lines to the final error (a crashing container's last log lines).
	Detail string
	// Fatal says waiting cannot help; Cause and Fix then say why and what to do.
	Fatal bool
	Cause string
	Fix   string
	// RecheckAt is when the diagnosis may change without the cluster changing (a grace period ends).
	RecheckAt time.Time
}

// Rule is one cause a wait may be explained by: ok when it applies to o. A workflow adds its own
// (Waiter.Rules), such as the restore's recovery that cannot reach its target.
type Rule func(o Observation, now time.Time) (d Diagnosis, ok bool)

// Diagnose decides why the object is not there yet. Causes are tried from those that cannot fix
// themselves to those that are mere progress; the first that applies wins. extra rules, the
// workflow's own, are tried first.
func Diagnose(o Observation, now time.Time, extra ...Rule) Diagnosis {
	// An old pod's grace period may end while another cause is shown: look again then.
	_, recheck := terminatingDeadline(o, now)
	for _, rule := range append(slices.Clone(extra),
		diagnoseInvalidImage, diagnoseMissingClass, diagnosePull, diagnoseFailedCreate, diagnoseCrash,
		diagnoseCannotStart, diagnoseClaim, diagnoseUnschedulable, diagnoseTerminating, diagnoseFence,
		diagnoseNotReady,
	) {
		if d, ok := rule(o, now); ok {
			d.RecheckAt = earliest(d.RecheckAt, recheck)
			return d
		}
	}
	return Diagnosis{RecheckAt: recheck}
}

// terminatingDeadline returns the pods being deleted that are past their grace period by
// stuckTerminating, and when the next one will be.
func terminatingDeadline(o Observation, now time.Time) (stuck []*corev1.Pod, next time.Time) {
	for _, p := range o.Pods {
		if p.DeletionTimestamp == nil {
			continue
		}
		// DeletionTimestamp is when the grace period ends (deletion time + grace seconds).
		at := p.DeletionTimestamp.Add(stuckTerminating)
		if now.Before(at) {
			next = earliest(next, at)
		} else {
			stuck = append(stuck, p)
		}
	}
	slices.SortFunc(stuck, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return stuck, next
}

// earliest is the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// graced makes d fatal once its cause has lasted the grace period, and says when to look again
// before that.
func graced(o Observation, now time.Time, d Diagnosis) Diagnosis {
	grace := o.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	since, ok := o.Since[d.Key]
	if !ok {
		since = now
	}
	if now.Sub(since) >= grace {
		d.Fatal = true
		d.Text += fmt.Sprintf(" (for %s)", now.Sub(since).Round(time.Second))
	} else {
		d.RecheckAt = since.Add(grace)
	}
	return d
}

// livePods are the pods not being deleted, in a stable order.
func livePods(o Observation) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range o.Pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// containerStatuses are a pod's init and regular containers' statuses.
func containerStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	return append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
}

// waiting calls f for each waiting container of each live pod until f returns true.
func waiting(o Observation, f func(p *corev1.Pod, cs corev1.ContainerStatus, w *corev1.ContainerStateWaiting) bool) {
	for _, p := range livePods(o) {
		for _, cs := range containerStatuses(p) {
			if cs.State.Waiting != nil && f(p, cs, cs.State.Waiting) {
				return
			}
		}
	}
}

func imageOf(p *corev1.Pod, cs corev1.ContainerStatus) string {
	for _, c := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
		if c.Name == cs.Name {
			return c.Image
		}
	}
	return cs.Image
}

const imageFix = "use an image that exists and that the nodes can pull (check the name and tag, the registry's " +
	"address and any imagePullSecret), then re-run"

func diagnoseInvalidImage(o Observation, now time.Time) (d Diagnosis, ok bool) {
	waiting(o, func(p *corev1.Pod, cs corev1.ContainerStatus, w *corev1.ContainerStateWaiting) bool {
		if w.Reason != "InvalidImageName" {
			return false
		}
		img := imageOf(p, cs)
		d, ok = Diagnosis{Key: "image " + img, Fatal: true, Cause: CauseImage,
			Text: fmt.Sprintf("pod %s: image %q is not a valid image reference: %s", p.Name, img, w.Message),
			Fix:  imageFix}, true
		return true
	})
	return d, ok
}

func diagnosePull(o Observation, now time.Time) (d Diagnosis, ok bool) {
	waiting(o, func(p *corev1.Pod, cs corev1.ContainerStatus, w *corev1.ContainerStateWaiting) bool {
		if w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff" {
			return false
		}
		img := imageOf(p, cs)
		// The registry's own words are in the kubelet's "Failed" event and in the ErrImagePull
		// message; the waiting message alternates between ErrImagePull and ImagePullBackOff, so the
		// event, when it can be read, keeps the line the same from one attempt to the next.
		msg := w.Message
		if e := latestEvent(o, "Pod", p.Name, func(e corev1.Event) bool {
			return e.Reason == "Failed" && strings.HasPrefix(e.Message, "Failed to pull image")
		}); e != nil {
			msg = e.Message
		}
		for _, prefix := range []string{fmt.Sprintf("Failed to pull image %q: ", img), fmt.Sprintf("Back-off pulling image %q: ", img), "ErrImagePull: "} {
			msg = strings.TrimPrefix(msg, prefix)
		}
		d = Diagnosis{Key: "image " + img, Cause: CauseImage, Fix: imageFix,
			Text: fmt.Sprintf("pod %s cannot pull image %q: %s", p.Name, img, oneLine(msg))}
		d, ok = graced(o, now, d), true
		return true
	})
	return d, ok
}

// admissionFix says what to change for a pod refused at creation, from the API server's words.
func admissionFix(msg string) string {
	switch {
	case strings.Contains(msg, "exceeded quota"):
		return "the namespace's ResourceQuota has no room for the pod: free some (kubectl describe resourcequota -n NAMESPACE) " +
			"or ask your cluster administrator to raise it, then re-run"
	case strings.Contains(msg, "PodSecurity"):
		return "the namespace's Pod Security level refuses the pod (kubectl get namespace NAMESPACE --show-labels): " +
			"ask your cluster administrator to allow it, then re-run"
	case strings.Contains(msg, "security context constraint"):
		return "no OpenShift SecurityContextConstraints admits the pod: ask your cluster administrator to grant one " +
			"(e.g. restricted-v2) to the namespace's default ServiceAccount, then re-run"
	}
	return "an admission policy of the cluster refuses the pod (Pod Security, ResourceQuota, LimitRange, a webhook): " +
		"fix what the message names, then re-run"
}

func diagnoseFailedCreate(o Observation, now time.Time) (Diagnosis, bool) {
	var newest time.Time
	for _, p := range o.Pods {
		newest = later(newest, p.CreationTimestamp.Time)
	}
	var msg, owner string
	var at time.Time
	for _, e := range o.Events {
		if e.Reason != "FailedCreate" || !ownedBy(o, e.InvolvedObject) {
			continue
		}
		// A pod made after the event shows that creating pods works again.
		if t := eventTime(e); t.After(newest) && t.After(at) {
			msg, owner, at = e.Message, e.InvolvedObject.Kind+" "+e.InvolvedObject.Name, t
			if e.InvolvedObject.Kind == "ReplicaSet" {
				owner = rsOwner // its name changes with each template; the line should not
			}
		}
	}
	if msg == "" && o.OwnerFailure != "" && len(livePods(o)) == 0 {
		msg, owner = o.OwnerFailure, rsOwner
	}
	if msg == "" {
		return Diagnosis{}, false
	}
	msg = admissionMessage(msg)
	d := Diagnosis{Key: "create " + owner, Cause: CauseAdmission, Fix: strings.ReplaceAll(admissionFix(msg), "NAMESPACE", o.Namespace),
		Text: fmt.Sprintf("%s cannot create its pod: %s", owner, msg)}
	return graced(o, now, d), true
}

const rsOwner = "the Deployment's ReplicaSet"

var rePodForbidden = regexp.MustCompile(`^pods "[^"]*" is forbidden: `)

// admissionMessage is the API server's refusal without what changes from one attempt to the next
// (the pod's random name, the event correlator's "combined from similar events").
func admissionMessage(msg string) string {
	msg = oneLine(msg)
	msg = strings.TrimPrefix(msg, "(combined from similar events): ")
	msg = strings.TrimPrefix(msg, "Error creating: ")
	return rePodForbidden.ReplaceAllString(msg, "")
}

func ownedBy(o Observation, ref corev1.ObjectReference) bool {
	for _, ow := range o.Owners {
		if ow.matches(ref) {
			return true
		}
	}
	return false
}

func diagnoseCrash(o Observation, now time.Time) (d Diagnosis, ok bool) {
	waiting(o, func(p *corev1.Pod, cs corev1.ContainerStatus, w *corev1.ContainerStateWaiting) bool {
		if w.Reason != "CrashLoopBackOff" {
			return false
		}
		last := "it"
		if t := cs.LastTerminationState.Terminated; t != nil {
			last = fmt.Sprintf("exit code %d", t.ExitCode)
			if t.Reason != "" {
				last += " (" + t.Reason + ")"
			}
			// A container whose termination message falls back to its log carries many lines:
			// the last one says why it ended, the Detail shows the rest.
			if m := strings.TrimSpace(t.Message); m != "" {
				last += ": " + oneLine(lastLines(m, 1))
			}
		}
		d = Diagnosis{Key: "crash " + p.Name + "/" + cs.Name,
			Text: fmt.Sprintf("pod %s: container %s keeps crashing (CrashLoopBackOff, %d restarts); last run ended with %s",
				p.Name, cs.Name, cs.RestartCount, last)}
		if log := strings.TrimRight(o.Logs[p.Name+"/"+cs.Name], "\n"); log != "" {
			d.Detail = fmt.Sprintf("last lines of its log (kubectl logs -n %s %s -c %s --previous):\n%s",
				o.Namespace, p.Name, cs.Name, indentLines(log))
		}
		ok = true
		return true
	})
	return d, ok
}

func diagnoseCannotStart(o Observation, now time.Time) (d Diagnosis, ok bool) {
	waiting(o, func(p *corev1.Pod, cs corev1.ContainerStatus, w *corev1.ContainerStateWaiting) bool {
		switch w.Reason {
		case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
			d, ok = Diagnosis{Key: "start " + p.Name + "/" + cs.Name,
				Text: fmt.Sprintf("pod %s: container %s cannot start: %s: %s", p.Name, cs.Name, w.Reason, oneLine(w.Message))}, true
			return true
		}
		return false
	})
	return d, ok
}

// reClassNotFound is the PV controller's ProvisioningFailed message for a missing StorageClass.
var reClassNotFound = regexp.MustCompile(`storageclass\.storage\.k8s\.io "([^"]+)" not found`)

// claimsOfLivePods returns the PVC names the live pods mount, in order.
func claimsOfLivePods(o Observation) []string {
	var out []string
	for _, p := range livePods(o) {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && !slices.Contains(out, v.PersistentVolumeClaim.ClaimName) {
				out = append(out, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	return out
}

func classFix(ns, pvc string) string {
	return fmt.Sprintf("see the classes that exist with `kubectl get storageclass`; a PVC's class cannot be changed, so "+
		"PVC %s must be deleted (kubectl delete pvc -n %s %s) and made again with one of them (or with the default class)", pvc, ns, pvc)
}

func diagnoseMissingClass(o Observation, now time.Time) (Diagnosis, bool) {
	for _, name := range claimsOfLivePods(o) {
		pvc := o.Claims[name]
		if pvc == nil || pvc.Status.Phase != corev1.ClaimPending {
			continue
		}
		class := ""
		if pvc.Spec.StorageClassName != nil && o.MissingClasses[*pvc.Spec.StorageClassName] {
			class = *pvc.Spec.StorageClassName
		} else if e := latestEvent(o, "PersistentVolumeClaim", name, func(e corev1.Event) bool {
			return e.Reason == "ProvisioningFailed" && reClassNotFound.MatchString(e.Message)
		}); e != nil {
			class = reClassNotFound.FindStringSubmatch(e.Message)[1]
		}
		if class != "" {
			return Diagnosis{Key: "pvc " + name, Fatal: true, Cause: CauseStorageClass, Fix: classFix(o.Namespace, name),
				Text: fmt.Sprintf("PVC %s stays Pending: its StorageClass %q does not exist", name, class)}, true
		}
	}
	return Diagnosis{}, false
}

func diagnoseClaim(o Observation, now time.Time) (Diagnosis, bool) {
	for _, name := range claimsOfLivePods(o) {
		pvc, known := o.Claims[name]
		if known && pvc == nil {
			return Diagnosis{Key: "pvc " + name, Text: fmt.Sprintf("PVC %s, which the pod mounts, does not exist", name)}, true
		}
		if pvc == nil || pvc.Status.Phase != corev1.ClaimPending {
			continue
		}
		// The newest Warning says what is wrong; a Normal one what is awaited (a provisioner, the pod's node).
		e := latestEvent(o, "PersistentVolumeClaim", name, func(e corev1.Event) bool { return e.Type == corev1.EventTypeWarning })
		if e == nil {
			e = latestEvent(o, "PersistentVolumeClaim", name, func(e corev1.Event) bool { return e.Reason != "WaitForFirstConsumer" })
		}
		if e == nil {
			continue
		}
		return Diagnosis{Key: "pvc " + name, Text: fmt.Sprintf("PVC %s is Pending: %s: %s", name, e.Reason, oneLine(e.Message))}, true
	}
	return Diagnosis{}, false
}

func diagnoseUnschedulable(o Observation, now time.Time) (Diagnosis, bool) {
	for _, p := range livePods(o) {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return Diagnosis{Key: "schedule " + p.Name,
					Text: fmt.Sprintf("pod %s cannot be scheduled: %s", p.Name, oneLine(c.Message))}, true
			}
		}
	}
	return Diagnosis{}, false
}

func diagnoseTerminating(o Observation, now time.Time) (Diagnosis, bool) {
	stuck, _ := terminatingDeadline(o, now)
	if len(stuck) == 0 {
		return Diagnosis{}, false
	}
	p := stuck[0]
	node := p.Spec.NodeName
	msg, notReady := o.NodesNotReady[node]
	if !notReady && latestEvent(o, "Pod", p.Name, func(e corev1.Event) bool { return e.Reason == "NodeNotReady" }) != nil {
		notReady, msg = true, "the node controller marked its pods not ready"
	}
	past := now.Sub(p.DeletionTimestamp.Time).Round(time.Second)
	force := fmt.Sprintf("kubectl delete pod -n %s %s --grace-period=0 --force", o.Namespace, p.Name)
	d := Diagnosis{Key: "terminating " + p.Name}
	if notReady {
		d.Text = fmt.Sprintf("old pod %s is stuck terminating on node %s, which is NotReady (%s): nothing can confirm "+
			"that its containers stopped", p.Name, node, oneLine(msg))
		d.Detail = fmt.Sprintf("It is %s past its grace period. Confirm that node %s is really down (kubectl get node %s; "+
			"the machine itself or its cloud console), and only then force the pod away: %s", past, node, node, force)
	} else {
		d.Text = fmt.Sprintf("old pod %s is still terminating on node %s, past its grace period", p.Name, node)
		d.Detail = fmt.Sprintf("It is %s past its grace period. If node %s is down (kubectl get node %s), confirm it, "+
			"and only then force the pod away: %s", past, node, node, force)
	}
	return d, true
}

func diagnoseFence(o Observation, now time.Time) (Diagnosis, bool) {
	for _, p := range livePods(o) {
		if podutils.IsPodReady(p) {
			continue
		}
		for _, cs := range containerStatuses(p) {
			if cs.State.Running == nil {
				continue
			}
			logs := lastLines(o.Logs[p.Name+"/"+cs.Name], 3)
			for _, line := range []string{FenceWaitLine, FenceWaitRepoLine} {
				if strings.Contains(logs, line) {
					return Diagnosis{Key: "fence " + p.Name,
						Text: fmt.Sprintf("pod %s is %s (its container %s says so): it starts once the old one has stopped",
							p.Name, line, cs.Name)}, true
				}
			}
		}
	}
	return Diagnosis{}, false
}

func diagnoseNotReady(o Observation, now time.Time) (Diagnosis, bool) {
	for _, p := range livePods(o) {
		if podutils.IsPodReady(p) {
			continue
		}
		// Mount and attach failures while the pod is created, failed probes once it runs.
		// The kubelet's Failed and BackOff events are about pulls and crashes, which the container
		// states explain better; FailedScheduling is the PodScheduled condition's.
		// A probe or two failing while PostgreSQL starts is normal: only a third is news.
		e := latestEvent(o, "Pod", p.Name, func(e corev1.Event) bool {
			return e.Type == corev1.EventTypeWarning && e.Reason != "FailedScheduling" && e.Reason != "Failed" && e.Reason != "BackOff" &&
				(e.Reason != "Unhealthy" || eventCount(e) >= 3)
		})
		if e != nil {
			return Diagnosis{Key: "pod " + p.Name + " " + e.Reason,
				Text: fmt.Sprintf("pod %s is not ready: %s: %s", p.Name, e.Reason, oneLine(e.Message))}, true
		}
	}
	return Diagnosis{}, false
}

// latestEvent is the newest event about kind/name that keep accepts; for a pod, only events of this
// pod (its UID is not compared: pods of one name are not reused by our controllers within a wait).
func latestEvent(o Observation, kind, name string, keep func(corev1.Event) bool) *corev1.Event {
	var best *corev1.Event
	for i := range o.Events {
		e := &o.Events[i]
		if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name || !keep(*e) {
			continue
		}
		if best == nil || eventTime(*e).After(eventTime(*best)) {
			best = e
		}
	}
	return best
}

// eventTime is when an event last happened. Events written through events.k8s.io (the scheduler's)
// carry EventTime and Series instead of LastTimestamp, so kubectl's SortableEvents, which orders by
// LastTimestamp alone, would misplace them.
func eventTime(e corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	t = later(t, e.EventTime.Time)
	if e.Series != nil {
		t = later(t, e.Series.LastObservedTime.Time)
	}
	if t.IsZero() {
		t = later(e.FirstTimestamp.Time, e.CreationTimestamp.Time)
	}
	return t
}

// eventCount is how many times an event happened, old-style (Count) or new-style (Series).
func eventCount(e corev1.Event) int32 {
	if e.Series != nil {
		return max(e.Series.Count, e.Count)
	}
	return max(e.Count, 1)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// oneLine folds a message onto one line.
// oneLine joins an event's or status's message into one terminal-safe line.
func oneLine(s string) string { return output.Clean(strings.Join(strings.Fields(s), " ")) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indentLines(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
