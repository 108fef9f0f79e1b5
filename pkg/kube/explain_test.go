package kube

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pod is a pod of Deployment db with one postgres container mounting PVC db.
func pod(name string, mod func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "db"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Minute))},
		Spec: corev1.PodSpec{NodeName: "node1",
			Containers: []corev1.Container{{Name: "postgres", Image: "reg/pg:15"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "db"}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if mod != nil {
		mod(p)
	}
	return p
}

func waitingIn(reason, msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}
	}
}

func event(kind, name, typ, reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "ns"},
		Type:           typ, Reason: reason, Message: msg, LastTimestamp: metav1.NewTime(at)}
}

func withCount(e corev1.Event, n int32) corev1.Event {
	e.Count = n
	return e
}

func pendingPVC(class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{StorageClassName: &class},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
}

func TestDiagnose(t *testing.T) {
	now := t0
	long := map[string]time.Time{"image reg/pg:15": now.Add(-31 * time.Second), "create " + rsOwner: now.Add(-31 * time.Second)}
	deleting := func(ago time.Duration) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			ts := metav1.NewTime(now.Add(-ago))
			p.DeletionTimestamp = &ts
			p.Status.Phase = corev1.PodRunning
		}
	}
	running := func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	}
	tests := []struct {
		name string
		obs  Observation
		// want: substrings of Text (and Detail); "" wants no diagnosis.
		want      []string
		fatal     bool
		cause     string
		recheckIn time.Duration // when > 0, RecheckAt must be now + recheckIn
	}{
		{name: "invalid image name is fatal at once",
			obs:  Observation{Pods: []*corev1.Pod{pod("db-1", waitingIn("InvalidImageName", `couldn't parse image name "reg/PG:15"`))}},
			want: []string{"db-1", `image "reg/pg:15" is not a valid image reference`, "couldn't parse"}, fatal: true, cause: CauseImage},
		{name: "a new pull failure waits out the grace period",
			obs:  Observation{Pods: []*corev1.Pod{pod("db-1", waitingIn("ErrImagePull", `failed to pull "reg/pg:15": not found`))}},
			want: []string{`cannot pull image "reg/pg:15"`, "not found"}, recheckIn: DefaultGrace},
		{name: "a pull failure that lasted the grace period is fatal, with the registry's words",
			obs: Observation{Since: long,
				Pods:   []*corev1.Pod{pod("db-1", waitingIn("ImagePullBackOff", `Back-off pulling image "reg/pg:15"`))},
				Events: []corev1.Event{event("Pod", "db-1", "Warning", "Failed", `Failed to pull image "reg/pg:15": manifest unknown`, now)}},
			want: []string{`cannot pull image "reg/pg:15"`, "manifest unknown", "(for 31s)"}, fatal: true, cause: CauseImage},
		{name: "a shorter grace applies",
			obs: Observation{Since: map[string]time.Time{"image reg/pg:15": now.Add(-2 * time.Second)}, Grace: time.Second,
				Pods: []*corev1.Pod{pod("db-1", waitingIn("ImagePullBackOff", "Back-off"))}},
			want: []string{"cannot pull"}, fatal: true, cause: CauseImage},
		{name: "a pod refused by Pod Security, long enough, is fatal",
			obs: Observation{Since: long, Owners: []Owner{{Kind: "ReplicaSet", Name: "db-"}},
				Events: []corev1.Event{event("ReplicaSet", "db-7d9", "Warning", "FailedCreate",
					`Error creating: pods "db-7d9-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true`, now)}},
			want: []string{"the Deployment's ReplicaSet cannot create its pod: violates PodSecurity"}, fatal: true, cause: CauseAdmission},
		{name: "a refusal of another ReplicaSet does not count",
			obs: Observation{Since: long, Owners: []Owner{{Kind: "ReplicaSet", Name: "db-"}},
				Events: []corev1.Event{event("ReplicaSet", "other-7d9", "Warning", "FailedCreate", "forbidden", now)}},
			want: nil},
		{name: "a refusal before the newest pod was made is over",
			obs: Observation{Since: long, Owners: []Owner{{Kind: "ReplicaSet", Name: "db-"}}, Pods: []*corev1.Pod{pod("db-1", nil)},
				Events: []corev1.Event{event("ReplicaSet", "db-7d9", "Warning", "FailedCreate", "exceeded quota", now.Add(-2*time.Minute))}},
			want: nil},
		{name: "the Deployment's ReplicaFailure without events waits out the grace period",
			obs:  Observation{OwnerFailure: `pods "db-x" is forbidden: exceeded quota: q, requested: cpu=1`},
			want: []string{"cannot create its pod", "exceeded quota"}, recheckIn: DefaultGrace},
		{name: "a PVC of a StorageClass that does not exist is fatal at once",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", nil)},
				Claims: map[string]*corev1.PersistentVolumeClaim{"db": pendingPVC("nosuch")}, MissingClasses: map[string]bool{"nosuch": true}},
			want: []string{"PVC db stays Pending", `StorageClass "nosuch" does not exist`}, fatal: true, cause: CauseStorageClass},
		{name: "the PV controller's event names a missing StorageClass (the class could not be read)",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", nil)}, Claims: map[string]*corev1.PersistentVolumeClaim{"db": pendingPVC("nosuch")},
				Events: []corev1.Event{event("PersistentVolumeClaim", "db", "Warning", "ProvisioningFailed",
					`storageclass.storage.k8s.io "nosuch" not found`, now)}},
			want: []string{`StorageClass "nosuch" does not exist`}, fatal: true, cause: CauseStorageClass},
		{name: "another provisioning failure is explained, not fatal",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", nil)}, Claims: map[string]*corev1.PersistentVolumeClaim{"db": pendingPVC("fast")},
				Events: []corev1.Event{
					event("PersistentVolumeClaim", "db", "Normal", "ExternalProvisioning", "waiting for a volume", now.Add(-time.Minute)),
					event("PersistentVolumeClaim", "db", "Warning", "ProvisioningFailed", "rpc error: quota of disks exceeded", now)}},
			want: []string{"PVC db is Pending", "ProvisioningFailed", "quota of disks exceeded"}},
		{name: "an event's message is shown, not run by the terminal",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", nil)}, Claims: map[string]*corev1.PersistentVolumeClaim{"db": pendingPVC("fast")},
				Events: []corev1.Event{event("PersistentVolumeClaim", "db", "Warning", "ProvisioningFailed", "quota \x1b]0;owned\x07\x1b[2J", now)}},
			want: []string{`quota \x1b]0;owned\x07\x1b[2J`}},
		{name: "a PVC that waits for its pod's node is no news",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", nil)}, Claims: map[string]*corev1.PersistentVolumeClaim{"db": pendingPVC("local")},
				Events: []corev1.Event{event("PersistentVolumeClaim", "db", "Normal", "WaitForFirstConsumer", "waiting for first consumer", now)}},
			want: nil},
		{name: "unschedulable, with the scheduler's reason",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}}
			})}},
			want: []string{"db-1 cannot be scheduled", "didn't match Pod's node affinity"}},
		{name: "crash loop: last termination and log lines, not fatal",
			obs: Observation{Namespace: "ns", Pods: []*corev1.Pod{pod("db-1", func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres", RestartCount: 4,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
						Message: "FATAL: data directory has invalid permissions"}}}}
			})}, Logs: map[string]string{"db-1/postgres": "line 1\nFATAL: data directory \"/pgdata\" has invalid permissions\n"}},
			want: []string{"container postgres keeps crashing", "4 restarts", "exit code 1 (Error)", "invalid permissions",
				"kubectl logs -n ns db-1 -c postgres --previous", `FATAL: data directory "/pgdata"`}},
		{name: "an old pod stuck terminating on a NotReady node: how to confirm and force",
			obs: Observation{Namespace: "ns", Pods: []*corev1.Pod{pod("db-old", deleting(time.Minute)), pod("db-new", nil)},
				NodesNotReady: map[string]string{"node1": "NodeStatusUnknown Kubelet stopped posting node status."}},
			want: []string{"db-old is stuck terminating on node node1, which is NotReady", "Kubelet stopped posting",
				"kubectl get node node1", "kubectl delete pod -n ns db-old --grace-period=0 --force", "1m0s past"}},
		{name: "the NodeNotReady event is enough when the node cannot be read",
			obs: Observation{Namespace: "ns", Pods: []*corev1.Pod{pod("db-old", deleting(time.Minute))},
				Events: []corev1.Event{event("Pod", "db-old", "Warning", "NodeNotReady", "Node is not ready", now.Add(-time.Minute))}},
			want: []string{"stuck terminating on node node1, which is NotReady", "--grace-period=0 --force"}},
		{name: "a pod within its grace period is no news yet, but looked at again when it ends",
			obs:  Observation{Pods: []*corev1.Pod{pod("db-old", deleting(-10*time.Second))}},
			want: nil, recheckIn: 10*time.Second + stuckTerminating},
		{name: "the replacement waits for the volume's fence: progress",
			obs: Observation{Pods: []*corev1.Pod{pod("db-new", running)},
				Logs: map[string]string{"db-new/postgres": "fence: " + FenceWaitLine + " (pid 12 on node1)\n"}},
			want: []string{"db-new is " + FenceWaitLine}},
		{name: "a readiness probe that keeps failing",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", running)},
				Events: []corev1.Event{withCount(event("Pod", "db-1", "Warning", "Unhealthy", "Readiness probe failed: no response", now), 3)}},
			want: []string{"db-1 is not ready: Unhealthy: Readiness probe failed"}},
		{name: "a readiness probe failing once while PostgreSQL starts is no news",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", running)},
				Events: []corev1.Event{withCount(event("Pod", "db-1", "Warning", "Unhealthy", "Readiness probe failed: rejecting connections", now), 1)}},
			want: nil},
		{name: "a ready pod is no news",
			obs: Observation{Pods: []*corev1.Pod{pod("db-1", func(p *corev1.Pod) {
				running(p)
				p.Status.Conditions[0].Status = corev1.ConditionTrue
			})}, Events: []corev1.Event{event("Pod", "db-1", "Warning", "Unhealthy", "Readiness probe failed", now.Add(-time.Minute))}},
			want: nil},
		{name: "an image that cannot be pulled outranks a pod that cannot be scheduled",
			obs: Observation{Since: long, Pods: []*corev1.Pod{
				pod("db-a", func(p *corev1.Pod) {
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}
				}),
				pod("db-b", waitingIn("ErrImagePull", "not found"))}},
			want: []string{"db-b cannot pull"}, fatal: true, cause: CauseImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.obs.Namespace == "" {
				tt.obs.Namespace = "ns"
			}
			d := Diagnose(tt.obs, now)
			all := d.Text + "\n" + d.Detail
			if len(tt.want) == 0 && d.Text != "" {
				t.Errorf("Text = %q, want none", d.Text)
			}
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("diagnosis %q lacks %q", all, w)
				}
			}
			if d.Fatal != tt.fatal {
				t.Errorf("Fatal = %v, want %v (%q)", d.Fatal, tt.fatal, d.Text)
			}
			if d.Cause != tt.cause && tt.fatal {
				t.Errorf("Cause = %q, want %q", d.Cause, tt.cause)
			}
			if d.Fatal && d.Fix == "" {
				t.Errorf("a fatal diagnosis without a Fix: %q", d.Text)
			}
			if tt.recheckIn > 0 && !d.RecheckAt.Equal(now.Add(tt.recheckIn)) {
				t.Errorf("RecheckAt = %v, want now+%s", d.RecheckAt, tt.recheckIn)
			}
		})
	}
}

// The waiting message alternates between ErrImagePull and ImagePullBackOff; the line must not.
func TestPullLineStaysTheSame(t *testing.T) {
	const img, why = "reg/pg:15", `failed to resolve reference "reg/pg:15": connection refused`
	failed := event("Pod", "db-1", "Warning", "Failed", `Failed to pull image "reg/pg:15": `+why, t0)
	a := Diagnose(Observation{Pods: []*corev1.Pod{pod("db-1", waitingIn("ErrImagePull", why))}}, t0)
	b := Diagnose(Observation{Pods: []*corev1.Pod{pod("db-1", waitingIn("ImagePullBackOff", `Back-off pulling image "reg/pg:15": ErrImagePull: `+why))},
		Events: []corev1.Event{failed}}, t0)
	c := Diagnose(Observation{Pods: []*corev1.Pod{pod("db-1", waitingIn("ImagePullBackOff", `Back-off pulling image "reg/pg:15": ErrImagePull: `+why))}}, t0)
	if a.Text != b.Text || b.Text != c.Text || !strings.HasSuffix(a.Text, ": "+why) {
		t.Errorf("lines differ or lack the registry's words:\n%s\n%s\n%s", a.Text, b.Text, c.Text)
	}
	// The kubelet's event comes before the container status: no "not ready: Failed" line first.
	d := Diagnose(Observation{Pods: []*corev1.Pod{pod("db-1", nil)}, Events: []corev1.Event{failed}}, t0)
	if d.Text != "" {
		t.Errorf("before the container status: %q, want nothing", d.Text)
	}
}

func TestEventTimeReadsNewStyleEvents(t *testing.T) {
	old := event("Pod", "p", "Warning", "FailedScheduling", "old", t0.Add(-time.Minute))
	// events.k8s.io writers (the scheduler) set EventTime and Series, not LastTimestamp.
	fresh := corev1.Event{InvolvedObject: old.InvolvedObject, Type: "Warning", Reason: "FailedMount", Message: "new",
		EventTime: metav1.NewMicroTime(t0.Add(-2 * time.Minute)), Series: &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(t0)}}
	o := Observation{Events: []corev1.Event{old, fresh}}
	e := latestEvent(o, "Pod", "p", func(corev1.Event) bool { return true })
	if e == nil || e.Message != "new" {
		t.Fatalf("latest = %+v, want the series event", e)
	}
}

// Each refusal names another pod; the line must stay the same.
func TestAdmissionLineStaysTheSame(t *testing.T) {
	owners := []Owner{{Kind: "ReplicaSet", Name: "db-"}}
	first := Diagnose(Observation{Owners: owners, Events: []corev1.Event{event("ReplicaSet", "db-7d9", "Warning", "FailedCreate",
		`Error creating: pods "db-7d9-abcde" is forbidden: exceeded quota: q, requested: pods=1`, t0)}}, t0)
	later := Diagnose(Observation{Owners: owners, Events: []corev1.Event{event("ReplicaSet", "db-7d9", "Warning", "FailedCreate",
		`(combined from similar events): Error creating: pods "db-7d9-xyz12" is forbidden: exceeded quota: q, requested: pods=1`, t0)}}, t0)
	condition := Diagnose(Observation{Owners: owners, OwnerFailure: `pods "db-7d9-qwert" is forbidden: exceeded quota: q, requested: pods=1`}, t0)
	if first.Text != later.Text || first.Text != condition.Text || first.Key != condition.Key || first.Text == "" {
		t.Errorf("lines differ:\n%s\n%s\n%s", first.Text, later.Text, condition.Text)
	}
}

func TestAdmissionFix(t *testing.T) {
	for msg, want := range map[string]string{
		"exceeded quota: compute":                                    "ResourceQuota",
		`violates PodSecurity "restricted:latest"`:                   "Pod Security",
		"unable to validate against any security context constraint": "SecurityContextConstraints",
		"admission webhook denied the request":                       "webhook",
	} {
		if got := admissionFix(msg); !strings.Contains(got, want) {
			t.Errorf("admissionFix(%q) = %q, lacks %q", msg, got, want)
		}
	}
}
