package kube

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube/kubetest"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var leaseGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// ticking is a watch clock that moves on by step at each reading: a test watches a Lease for
// minutes in microseconds.
func ticking(step time.Duration) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * step) }
}

// notes collects LeaseConfig.Note messages.
type notes struct {
	mu  sync.Mutex
	msg []string
}

func (n *notes) note(m string) { n.mu.Lock(); n.msg = append(n.msg, m); n.mu.Unlock() }
func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msg, "\n")
}

// leftLease is a Lease of holder renewed at renewed (by its own machine's clock), as another run
// left it.
func leftLease(holder string, renewed time.Time) *coordinationv1.Lease {
	secs := int32(90)
	at := metav1.NewMicroTime(renewed.Add(-time.Minute))
	rt := metav1.NewMicroTime(renewed)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "ns", Annotations: map[string]string{AnnotationPurpose: "backup"}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &at, RenewTime: &rt},
	}
}

// keepRenewing makes the holder of Lease ns/l alive, renewing it while this run watches.
func keepRenewing(t *testing.T, cs *fake.Clientset) { kubetest.KeepRenewing(t, cs, "ns", "l", "") }

func getLease(t *testing.T, cs *fake.Clientset) *coordinationv1.Lease {
	t.Helper()
	l, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), "l", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the lease: %v", err)
	}
	return l
}

func cfgFor(holder string, n *notes) LeaseConfig {
	return LeaseConfig{Namespace: "ns", Name: "l", Holder: holder, Purpose: "restore", Clock: clock(t0),
		Watch: ticking(10 * time.Second), Recheck: time.Millisecond, RenewEvery: time.Hour, Note: n.note}
}

func TestLeaseAcquireHeldRelease(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	a, err := AcquireLease(ctx, cs, cfgFor("alice@a run=1 pid 1", &notes{}))
	if err != nil {
		t.Fatal(err)
	}
	keepRenewing(t, cs) // alice's run is alive

	var n notes
	_, err = AcquireLease(ctx, cs, cfgFor("bob@b run=2 pid 2", &n))
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("err = %v, want *HeldError", err)
	}
	if held.Holder != "alice@a run=1 pid 1" || held.Purpose != "restore" || !held.Since.Equal(t0) {
		t.Errorf("held = %+v", held)
	}
	for _, want := range []string{`another restore is running: lease ns/l is held by "alice@a run=1 pid 1" since 2026-01-02T03:04:05Z`,
		"renewed it while this run watched", "kubectl delete lease -n ns l"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err.Error(), want)
		}
	}
	if want := `lease l is held by "alice@a run=1 pid 1" (a restore): watching it for up to 1m30s to see whether that run still renews it`; !strings.Contains(n.String(), want) {
		t.Errorf("notes %q lack %q", n.String(), want)
	}

	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoordinationV1().Leases("ns").Get(ctx, "l", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("lease still there after release: %v", err)
	}
	b, err := AcquireLease(ctx, cs, cfgFor("bob@b run=2 pid 2", &notes{}))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	_ = b.Release(ctx)
}

// TestLeaseStaleByObservationNotClock: whether a holder still runs is judged by what this process
// sees of the Lease, never by comparing the renew time another machine wrote with this clock.
func TestLeaseStaleByObservationNotClock(t *testing.T) {
	tests := []struct {
		name     string
		renewed  time.Time // the holder's renew time, by its machine's clock
		renewing bool
		takeOver bool
	}{
		{"renew time an hour ago by this clock, but renewing: held", t0.Add(-time.Hour), true, false},
		{"renew time an hour ahead by this clock, not renewing: stale once watched for its duration", t0.Add(time.Hour), false, true},
		{"renew time now, not renewing: stale once watched", t0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cs := fake.NewClientset(leftLease("alice@elsewhere run=1 pid 7", tt.renewed))
			if tt.renewing {
				keepRenewing(t, cs)
			}
			var n notes
			got, err := AcquireLease(ctx, cs, cfgFor("me@here run=2 pid 2", &n))
			if !tt.takeOver {
				var held *HeldError
				if !errors.As(err, &held) {
					t.Fatalf("err = %v, want *HeldError", err)
				}
				if h := holderOf(getLease(t, cs)); h != "alice@elsewhere run=1 pid 7" {
					t.Errorf("lease taken over from a live holder: now %q", h)
				}
				return
			}
			if err != nil {
				t.Fatalf("a lease unchanged for its duration was not taken over: %v", err)
			}
			defer got.Release(ctx)
			if h := holderOf(getLease(t, cs)); h != "me@here run=2 pid 2" {
				t.Errorf("holder = %q", h)
			}
			for _, want := range []string{"watching it for up to 1m30s",
				`lease l held by "alice@elsewhere run=1 pid 7" was not renewed in the 1m30s this run watched it, so its run is gone: taking it over`} {
				if !strings.Contains(n.String(), want) {
					t.Errorf("notes %q lack %q", n.String(), want)
				}
			}
		})
	}
}

// TestLeaseHeldThenAcquireWatchOnce: what the preflight saw counts for the take: a stale Lease is
// not watched twice.
func TestLeaseHeldThenAcquireWatchOnce(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(leftLease("alice@elsewhere run=1 pid 7", t0))
	var seen LeaseSeen
	cfg := cfgFor("me@here run=2 pid 2", &notes{})
	cfg.Seen = &seen
	held, err := LeaseHeld(ctx, cs, cfg)
	if held != nil || err != nil {
		t.Fatalf("LeaseHeld = %v, %v; want a stale lease", held, err)
	}
	for _, a := range cs.Actions() {
		if v := a.GetVerb(); v != "get" && v != "watch" {
			t.Errorf("LeaseHeld changed something: %v", a)
		}
	}
	cs.ClearActions()
	var n notes
	cfg.Note = n.note
	l, err := AcquireLease(ctx, cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if strings.Contains(n.String(), "watching it") {
		t.Errorf("the take watched the lease again: %q", n.String())
	}
	if gets := len(cs.Actions()); gets > 3 { // create, get, update
		t.Errorf("%d API calls to take a lease already judged stale: %v", gets, cs.Actions())
	}
}

// deadPID is the pid of a process of this user on this machine that has ended (a run killed
// with kill -9), or skips the test where processes cannot be probed.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running a short-lived process: %v", err)
	}
	if processAlive(cmd.Process.Pid) {
		t.Skip("this platform cannot tell a dead process from a live one")
	}
	return cmd.Process.Pid
}

// withPID is this run's Holder() with another pid: another run of this user, machine and boot.
func withPID(pid int) string {
	s := Holder()
	return s[:strings.LastIndex(s, " pid ")] + " pid " + strconv.Itoa(pid)
}

func TestLeaseOfDeadLocalProcessIsTakenOverAtOnce(t *testing.T) {
	if self().Boot == "" || self().Pod != "" {
		t.Skip("no boot id here, or in a pod: no holder is ever a dead local process")
	}
	pid := deadPID(t)
	tests := []struct {
		name     string
		holder   string
		takeOver bool
	}{
		{"dead process of this machine and boot", withPID(pid), true},
		{"live process of this machine", withPID(os.Getppid()), false},
		{"same user@host, pid dead here, an earlier version's holder (or another machine's)", self().User + "@" + self().Host + " pid " + strconv.Itoa(pid), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cs := fake.NewClientset(leftLease(tt.holder, t0))
			if !tt.takeOver {
				keepRenewing(t, cs) // a live holder renews; a dead one is not waited for
			}
			held, err := LeaseHeld(ctx, cs, cfgFor("me", &notes{}))
			if err != nil {
				t.Fatal(err)
			}
			if (held == nil) != tt.takeOver {
				t.Errorf("LeaseHeld = %v, want held = %v", held, !tt.takeOver)
			}
			var n notes
			l, err := AcquireLease(ctx, cs, cfgFor("me", &n))
			if !tt.takeOver {
				var he *HeldError
				if !errors.As(err, &he) || he.Holder != tt.holder {
					t.Fatalf("err = %v, want *HeldError naming %q", err, tt.holder)
				}
				return
			}
			if err != nil {
				t.Fatalf("the dead run's lease was not taken over: %v", err)
			}
			defer l.Release(ctx)
			if want := "lease l was held by \"" + tt.holder + "\", which no longer runs on this machine: taking it over"; n.String() != want {
				t.Errorf("notes = %q, want only %q (taken over at once, not watched)", n.String(), want)
			}
		})
	}
}

// TestDeadHolderOnlyOnThisMachineBootAndUser: the shortcut never takes over a live run elsewhere.
func TestDeadHolderOnlyOnThisMachineBootAndUser(t *testing.T) {
	me := identity{User: "alice", Host: "laptop", Machine: "m1", Boot: "b1", PIDNS: "4026531836", Run: "r1", PID: 100}
	dead := func(int) bool { return false }
	with := func(f func(*identity)) string { id := me; id.Run, id.PID = "r0", 42; f(&id); return id.String() }
	tests := []struct {
		name string
		me   identity
		h    string
		want bool
	}{
		{"this machine, boot, user; pid gone", me, with(func(*identity) {}), true},
		{"same hostname, another machine", me, with(func(id *identity) { id.Machine, id.Boot = "m2", "b2" }), false},
		{"same image's machine id, another boot (another host)", me, with(func(id *identity) { id.Boot = "b2" }), false},
		{"another container of this host", me, with(func(id *identity) { id.PIDNS = "4026532000" }), false},
		{"another user", me, with(func(id *identity) { id.User = "bob" }), false},
		{"a pod's holder", me, with(func(id *identity) { id.Machine, id.Boot, id.PIDNS, id.Pod = "", "", "", "uid" }), false},
		{"an earlier version's holder", me, "alice@laptop pid 42", false},
		{"an earlier process with this pid", me, with(func(id *identity) { id.PID = 100 }), true},
		{"this very run", me, me.String(), false},
		{"no boot id here", identity{User: "alice", Host: "laptop", Run: "r1", PID: 100}, "alice@laptop run=r0 pid 42", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deadHolderOf(tt.me, tt.h, dead); got != tt.want {
				t.Errorf("deadHolderOf(%q) = %v, want %v", tt.h, got, tt.want)
			}
		})
	}
	if deadHolderOf(me, with(func(*identity) {}), func(int) bool { return true }) {
		t.Error("a running pid counted as dead")
	}
}

// TestPodIdentity: in a pod, which shares its image's machine id with every other pod, the run is
// named by the pod's UID and a nonce, and no holder is ever taken for a dead local process.
func TestPodIdentity(t *testing.T) {
	noFile := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	noStat := func(string) (os.FileInfo, error) { return nil, os.ErrNotExist }
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cgroup := func(p string) ([]byte, error) {
		if p == "/proc/self/cgroup" {
			return []byte("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_0000_1111_2222_333344445555.slice/cri-containerd-ab.scope\n"), nil
		}
		return []byte("same-image-machine-id\n"), nil
	}
	tests := []struct {
		name     string
		getenv   func(string) string
		readFile func(string) ([]byte, error)
		wantPod  string
	}{
		{"POD_UID from the downward API", env(map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "POD_UID": "9f8e-uid"}), cgroup, "9f8e-uid"},
		{"UID from the cgroup", env(map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}), cgroup, "1b2c3d4e-0000-1111-2222-333344445555"},
		{"UID unknown", env(map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1"}), noFile, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := probeIdentity(tt.getenv, tt.readFile, noStat)
			if id.Pod != tt.wantPod || id.Machine != "" || id.Boot != "" || id.Run == "" {
				t.Errorf("identity = %+v, want pod %q, a run nonce, no machine or boot", id, tt.wantPod)
			}
			if s := id.String(); !strings.Contains(s, " pod="+tt.wantPod+" run="+id.Run+" pid ") {
				t.Errorf("String() = %q", s)
			}
			other := id
			other.Run, other.PID = "0123", id.PID+1
			if deadHolderOf(id, other.String(), func(int) bool { return false }) {
				t.Errorf("in a pod, %q was taken for a dead local process", other.String())
			}
		})
	}
	// The service account mount alone says "pod" too.
	sa := func(p string) (os.FileInfo, error) {
		if p == "/var/run/secrets/kubernetes.io/serviceaccount" {
			return os.Stat(os.TempDir())
		}
		return nil, os.ErrNotExist
	}
	if id := probeIdentity(env(nil), noFile, sa); id.Pod == "" {
		t.Errorf("service account mounted, identity %+v not a pod's", id)
	}
	// Outside a pod: a machine and boot hash (never the raw machine id), and a nonce per process.
	out := probeIdentity(env(nil), cgroup, noStat)
	if out.Pod != "" || out.Machine == "" || strings.Contains(out.String(), "same-image-machine-id") {
		t.Errorf("outside a pod: %q", out.String())
	}
	if again := probeIdentity(env(nil), cgroup, noStat); again.Run == out.Run {
		t.Errorf("two runs share the nonce %q", out.Run)
	}
	if Holder() != Holder() {
		t.Error("Holder() changes within one process")
	}
	if id, ok := parseIdentity(Holder()); !ok || id.String() != Holder() {
		t.Errorf("parseIdentity(%q) = %+v, %v", Holder(), id, ok)
	}
}

func TestLeaseLost(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, cs *fake.Clientset, failing *atomic.Bool)
		want   string
		still  string // the holder left on the cluster after Release ("" = no Lease)
	}{
		{"deleted by hand", func(t *testing.T, cs *fake.Clientset, _ *atomic.Bool) {
			if err := cs.CoordinationV1().Leases("ns").Delete(context.Background(), "l", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "lease ns/l was deleted while this restore held it", ""},
		{"taken over by another run", func(t *testing.T, cs *fake.Clientset, _ *atomic.Bool) {
			l := getLease(t, cs)
			h := "bob@b run=9 pid 9"
			l.Spec.HolderIdentity = &h
			if _, err := cs.CoordinationV1().Leases("ns").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, `lease ns/l was taken over by "bob@b run=9 pid 9" while this restore held it`, "bob@b run=9 pid 9"},
		{"renewals failing until others may judge it stale", func(_ *testing.T, _ *fake.Clientset, failing *atomic.Bool) { failing.Store(true) }, "lease ns/l could not be renewed for 1m", "me@here run=2 pid 2"},
	}
	for _, tt := range tests {
		for _, by := range []string{"renewal", "step boundary"} {
			t.Run(tt.name+" found by "+by, func(t *testing.T) {
				ctx := context.Background()
				cs := fake.NewClientset()
				var failing atomic.Bool // the API server cannot be reached
				cs.PrependReactor("*", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
					if failing.Load() {
						return true, nil, errors.New("connection refused")
					}
					return false, nil, nil
				})
				cfg := cfgFor("me@here run=2 pid 2", &notes{})
				if by == "renewal" {
					cfg.RenewEvery = time.Millisecond
				}
				l, err := AcquireLease(ctx, cs, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.Check(ctx); err != nil {
					t.Fatalf("Check on a held lease: %v", err)
				}
				tt.break_(t, cs, &failing)
				var lost error
				if by == "renewal" {
					deadline := time.Now().Add(5 * time.Second)
					for lost = l.Lost(); lost == nil && time.Now().Before(deadline); lost = l.Lost() {
						time.Sleep(time.Millisecond)
					}
				} else {
					// The watch clock moves 10 s a reading: failing reads add up to the duration.
					for range 10 {
						if lost = l.Check(ctx); lost != nil {
							break
						}
					}
				}
				var le *LostError
				if !errors.As(lost, &le) || !strings.Contains(lost.Error(), tt.want) {
					t.Fatalf("lost = %v, want a *LostError saying %q", lost, tt.want)
				}
				if err := l.Check(ctx); err == nil {
					t.Error("Check is nil after the loss")
				}
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
				failing.Store(false)
				got, err := cs.CoordinationV1().Leases("ns").Get(ctx, "l", metav1.GetOptions{})
				switch {
				case tt.still == "" && !apierrors.IsNotFound(err):
					t.Errorf("a lost lease was created again: %v %v", got, err)
				case tt.still != "" && (err != nil || holderOf(got) != tt.still):
					t.Errorf("after Release the lease is %v %v, want it left to %q", got, err, tt.still)
				}
			})
		}
	}
}

func TestLeaseReleaseBounded(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	cfg := cfgFor("me@here run=2 pid 2", &notes{})
	cfg.ReleaseTimeout = 50 * time.Millisecond
	l, err := AcquireLease(ctx, cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	defer close(hang)
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-hang // an API server that is gone
		return false, nil, nil
	})
	cancelled, cancel := context.WithCancel(ctx)
	cancel() // after Ctrl-C
	done := make(chan error, 1)
	go func() { done <- l.Release(cancelled) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") || !strings.Contains(err.Error(), "kubectl delete lease -n ns l") {
			t.Errorf("Release = %v, want it to say it gave up and how to delete the lease", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Release did not return: a hung API server hangs the exit")
	}
}

func TestLeaseReleaseAfterCtrlC(t *testing.T) {
	cs := fake.NewClientset()
	l, err := AcquireLease(context.Background(), cs, cfgFor("me@here run=2 pid 2", &notes{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), "l", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lease left after Release with a cancelled context: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func TestLeaseRenews(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	var calls atomic.Int64 // each reading of the clock is one second later
	cfg := cfgFor("a run=1 pid 1", &notes{})
	cfg.Clock = func() time.Time { return t0.Add(time.Duration(calls.Add(1)) * time.Second) }
	cfg.RenewEvery = 10 * time.Millisecond
	l, err := AcquireLease(ctx, cs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	deadline := time.After(5 * time.Second)
	for {
		got, err := cs.CoordinationV1().Leases("ns").Get(ctx, "l", metav1.GetOptions{})
		if err == nil && got.Spec.RenewTime.After(got.Spec.AcquireTime.Time) {
			break
		}
		select {
		case <-deadline:
			t.Fatal("lease never renewed")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := l.Lost(); err != nil {
		t.Errorf("a renewed lease counts as lost: %v", err)
	}
}

// TestLeaseWatchedNotPolled: a Lease held by another run is watched, one watch call, not read
// again and again; its renewal is seen when it happens.
func TestLeaseWatchedNotPolled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := fake.NewClientset(leftLease("alice@elsewhere run=1 pid 7", t0))
	cfg := cfgFor("me@here run=2 pid 2", &notes{})
	cfg.Watch, cfg.Recheck = nil, 0 // the real clock, and no bound but the Lease's duration (90 s)
	watching := make(chan struct{})
	cs.PrependWatchReactor("leases", func(k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(leaseGVR, "ns")
		close(watching)
		return true, w, err
	})
	go func() {
		<-watching // the holder renews once, after this run started watching
		obj, _ := cs.Tracker().Get(leaseGVR, "ns", "l")
		l := obj.(*coordinationv1.Lease).DeepCopy()
		rt := metav1.NewMicroTime(l.Spec.RenewTime.Add(2 * time.Second))
		l.Spec.RenewTime = &rt
		_ = cs.Tracker().Update(leaseGVR, l, "ns")
	}()
	_, err := AcquireLease(ctx, cs, cfg)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("err = %v, want *HeldError", err)
	}
	verbs := map[string]int{}
	for _, a := range cs.Actions() {
		verbs[a.GetVerb()]++
	}
	if verbs["watch"] != 1 || verbs["get"] != 1 {
		t.Errorf("API calls %v: want one get (after the create found it) and one watch", verbs)
	}
}

// A renewal cancelled by Release can still land on the API server after Release read the Lease:
// the delete's precondition then fails with a Conflict, and Release reads it again and deletes it
// rather than failing the run's last step (seen in e2e under load).
func TestLeaseReleaseAfterLateRenewal(t *testing.T) {
	cs := fake.NewClientset()
	l, err := AcquireLease(context.Background(), cs, cfgFor("me@here run=2 pid 2", &notes{}))
	if err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	cs.PrependReactor("delete", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), "l", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("Release after a late renewal: %v", err)
	}
	if _, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), "l", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lease left after Release: %v", err)
	}
}
