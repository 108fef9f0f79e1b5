package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"
)

// A workflow's own rule is tried before the common ones, in Diagnose and in a Waiter's Explain.
func TestRulesTriedFirst(t *testing.T) {
	crash := pod("db-1", waitingIn("CrashLoopBackOff", ""))
	own := func(o Observation, _ time.Time) (Diagnosis, bool) {
		return Diagnosis{Key: "own", Text: "the workflow's own cause", Fatal: true, Cause: "own"}, len(o.Pods) > 0
	}
	if d := Diagnose(Observation{Namespace: "ns", Pods: []*corev1.Pod{crash}}, t0, own); d.Cause != "own" || !d.Fatal {
		t.Errorf("Diagnose with a rule = %+v, want the rule's fatal cause", d)
	}
	if d := Diagnose(Observation{Namespace: "ns", Pods: []*corev1.Pod{crash}}, t0); d.Fatal || !strings.Contains(d.Text, "keeps crashing") {
		t.Errorf("Diagnose without = %+v, want the common crash loop", d)
	}
	w := Waiter{Client: fake.NewClientset(crash), Rules: []Rule{own}}
	if d := w.Explain(context.Background(), "ns", labels.SelectorFromSet(labels.Set{"app": "db"})); d.Cause != "own" {
		t.Errorf("Explain = %+v, want the rule's cause", d)
	}
}

// A termination message that falls back to the container's log keeps the crash line to its last
// line; the log lines themselves are the Detail's.
func TestCrashLineTakesLastLineOfMessage(t *testing.T) {
	p := pod("db-1", func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "postgres", RestartCount: 2,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				Message: "LOG:  one\nLOG:  two\nLOG:  database system is shut down\n"}}}}
	})
	d := Diagnose(Observation{Namespace: "ns", Pods: []*corev1.Pod{p}}, t0)
	if !strings.HasSuffix(d.Text, "exit code 1 (Error): LOG: database system is shut down") {
		t.Errorf("crash line %q: want only the message's last line", d.Text)
	}
}
