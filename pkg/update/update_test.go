package update

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

const (
	ns      = "ns1"
	oldDig  = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	newDig  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	repoImg = "reg.example/pg/postgres"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// images the fake node knows: tag → what the probe prints and the digest it pulled.
type fakeImage struct {
	probe, digest string
	unpullable    bool
}

var images = map[string]fakeImage{
	repoImg + ":17-a":    {"pg_major=17\npostgres=\npgbackrest=pgBackRest 2.55.1\n", newDig, false},
	repoImg + ":17-br":   {"pg_major=17\npostgres=\npgbackrest=pgBackRest 2.56.0\n", newDig, false},
	repoImg + ":15":      {"pg_major=15\npostgres=\npgbackrest=pgBackRest 2.45\n", newDig, false},
	repoImg + ":nobr":    {"pg_major=17\npostgres=\npgbackrest=\n", newDig, false},
	repoImg + ":missing": {unpullable: true},
}

type fakeExec struct {
	mu    sync.Mutex
	calls []string
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(_ context.Context, _, pod, _ string, cmd []string, _ io.Reader, stdout, _ io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	verb := cmd[len(cmd)-1]
	f.calls = append(f.calls, pod+" "+verb)
	switch verb {
	case "version":
		_, _ = io.WriteString(stdout, "pgBackRest 2.55.1\n")
	case "info":
		_, _ = io.WriteString(stdout, `[{"name":"db","backup":[{"label":"F1","backrest":{"format":5,"version":"2.55.1"}}],"status":{"code":0,"message":"ok"}}]`)
	}
	return nil
}

type reporter struct{ lines []string }

func (r *reporter) Start(name string)                 { r.lines = append(r.lines, "start "+name) }
func (r *reporter) Skipped(name string)               { r.lines = append(r.lines, "skip "+name) }
func (r *reporter) Done(name string, _ time.Duration) { r.lines = append(r.lines, "done "+name) }
func (r *reporter) Failed(name string, err error) {
	r.lines = append(r.lines, "fail "+name+": "+err.Error())
}

var _ workflow.Reporter = (*reporter)(nil)

// newCluster is a created, pinned cluster in a fake clientset with two stand-ins for
// controllers: an applied Deployment is available at once with a Ready pod of its template (the
// order of applies and "available" is recorded in events), and a probe Job's pod ends at once
// with what images says (or waits in ErrImagePull).
func newCluster(t *testing.T) (*fake.Clientset, *[]string) {
	t.Helper()
	spec := create.NewSpec(create.Config{Name: "pg1", Namespace: ns, Storages: []pgbackrest.Storage{pgbackrest.Local},
		Image: repoImg + ":17-old", PGDataSize: "1Gi", RepoSize: "1Gi", ImagePullSecrets: []string{"regcred"}}, cluster.S3{})
	spec.PGVersion = 17
	spec.ImageDigest = oldDig
	dbConf, repoConf, err := create.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := manifest.ConfigMap(spec, dbConf, repoConf)
	if err != nil {
		t.Fatal(err)
	}
	cm.Annotations = map[string]string{create.AnnotationCreatedAt: t0.Format(time.RFC3339)}
	cs := fake.NewClientset(cm)
	events := &[]string{}
	tracker := cs.Tracker()
	gvrDeploy := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrPod := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrJob := schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	available := func(d *appsv1.Deployment) error {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		if err := tracker.Update(gvrDeploy, d, d.Namespace); err != nil {
			return err
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-pod", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
			Spec:   d.Spec.Template.Spec,
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
		_ = tracker.Delete(gvrPod, d.Namespace, pod.Name)
		return tracker.Create(gvrPod, pod, d.Namespace)
	}
	for _, d := range []*appsv1.Deployment{manifest.RepoHostDeployment(spec, repoConf), manifest.PrimaryDeployment(spec)} {
		if err := tracker.Create(gvrDeploy, d, ns); err != nil {
			t.Fatal(err)
		}
		if err := available(d); err != nil {
			t.Fatal(err)
		}
	}
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := k8stesting.ObjectReaction(tracker)(a)
		if err != nil || !handled {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		*events = append(*events, "apply "+d.Name)
		if err := available(d); err != nil {
			return true, nil, err
		}
		return true, d, nil
	})
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job).DeepCopy()
		c := j.Spec.Template.Spec.Containers[0]
		*events = append(*events, "probe "+c.Image)
		img, ok := images[c.Image]
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: j.Name + "-x", Namespace: ns,
			Labels: map[string]string{kube.JobPodLabel: j.Name}}, Spec: j.Spec.Template.Spec}
		if !ok || img.unpullable {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "manifest unknown"}
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
		} else {
			st.ImageID = "mirror.example/any/name@" + img.digest
			st.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Message: img.probe}
			pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded}
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{st}
		_ = tracker.Delete(gvrPod, ns, pod.Name) // the last probe's, as a Foreground delete leaves none
		if err := tracker.Create(gvrJob, j, ns); err != nil {
			return true, nil, err
		}
		return true, j, tracker.Create(gvrPod, pod, ns)
	})
	return cs, events
}

func deps(cs *fake.Clientset, ex *fakeExec, r *reporter) Deps {
	return Deps{Client: cs, Exec: ex, Now: time.Now, Reporter: r, PullGrace: time.Millisecond}
}

func cfg(image string) Config {
	return Config{Namespace: ns, Cluster: "pg1", Holder: "test", Timeout: time.Minute, ProbeTimeout: 20 * time.Second,
		Changes: Changes{Image: image}}
}

func storedSpec(t *testing.T, cs *fake.Clientset) *cluster.Spec {
	t.Helper()
	spec, _, err := cluster.Get(context.Background(), cs, ns, "pg1")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func writes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			if r := a.GetResource().Resource; r != "leases" && r != "jobs" && r != "pods" {
				out = append(out, a.GetVerb()+" "+r)
			}
		}
	}
	return out
}

// Same pgBackRest, new digest: the spec first, then one pod at a time (the repository host
// available before the primary is applied), check, the marker; pull Secrets kept; a second run
// changes nothing.
func TestUpdateSameVersionsRollsOneAtATime(t *testing.T) {
	ctx := context.Background()
	cs, events := newCluster(t)
	ex := &fakeExec{}
	r := &reporter{}
	res, err := Run(ctx, deps(cs, ex, r), cfg(repoImg+":17-a"))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(r.lines, "\n"))
	}
	want := []string{"probe " + repoImg + ":17-a", "apply pg1-backrest-shared-repo", "apply pg1"}
	if !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q", *events, want)
	}
	spec := storedSpec(t, cs)
	if spec.Image != repoImg+":17-a" || spec.ImageDigest != newDig || !slices.Equal(spec.ImagePullSecrets, []string{"regcred"}) {
		t.Errorf("stored spec: image %s digest %s pull secrets %q", spec.Image, spec.ImageDigest, spec.ImagePullSecrets)
	}
	for _, name := range []string{"pg1-backrest-shared-repo", "pg1"} {
		d, _ := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if !create.OnImage(d, spec) || d.Spec.Template.Spec.Containers[0].Image != repoImg+"@"+newDig {
			t.Errorf("Deployment %s runs %s", name, d.Spec.Template.Spec.Containers[0].Image)
		}
	}
	if res.PGBackRestChanged || !res.Checked || len(res.Rolled) != 2 || res.To.PinnedImage != repoImg+"@"+newDig || res.From.PinnedImage != repoImg+"@"+oldDig {
		t.Errorf("result %+v", res)
	}
	if !slices.ContainsFunc(ex.calls, func(c string) bool { return strings.HasSuffix(c, " check") }) {
		t.Errorf("no pgbackrest check: %q", ex.calls)
	}
	if j, err := cs.BatchV1().Jobs(ns).Get(ctx, "pg1-image-probe", metav1.GetOptions{}); err == nil {
		t.Errorf("probe Job left behind: %s", j.Name)
	}

	cs.ClearActions()
	*events = nil
	res, err = Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg(repoImg+":17-a"))
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if res.Changed || len(writes(cs)) > 0 || len(*events) != 1 {
		t.Errorf("second run: err %v changed %v writes %q events %q; want only the probe", err, res.Changed, writes(cs), *events)
	}
}

// A new pgBackRest version: both Deployments applied back to back, before either is waited for,
// and the user told what archiving does meanwhile.
func TestUpdateNewPGBackRestRollsBackToBack(t *testing.T) {
	cs, events := newCluster(t)
	var errOut strings.Builder
	d := deps(cs, &fakeExec{}, &reporter{})
	d.ErrOut = &errOut
	res, err := Run(context.Background(), d, cfg(repoImg+":17-br"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.PGBackRestChanged || res.From.PGBackRest != "2.55.1" || res.To.PGBackRest != "2.56.0" {
		t.Errorf("result %+v", res)
	}
	plan := workflow.Plan((&run{spec: storedSpec(t, cs), cfg: cfg("x")}).steps(storedSpec(t, cs), true))
	if !slices.ContainsFunc(plan, func(s string) bool { return strings.Contains(s, "back to back") }) {
		t.Errorf("plan %q lacks the back-to-back roll", plan)
	}
	if want := []string{"probe " + repoImg + ":17-br", "apply pg1-backrest-shared-repo", "apply pg1"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q", *events, want)
	}
	for _, w := range []string{"2.55.1 to 2.56.0", "WAL waits in pg_wal", "No WAL is lost"} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
		}
	}
}

// The back-to-back step applies both Deployments before waiting for either: with a controller
// that never makes them available, both are applied anyway. (The fake's watch ignores field
// selectors, so one available Deployment would end the wait for the other: neither becomes so.)
func TestBackToBackAppliesBothBeforeWaiting(t *testing.T) {
	cs, events := newCluster(t)
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*events = append(*events, "apply (stuck) "+a.(k8stesting.PatchAction).GetName())
		handled, obj, err := k8stesting.ObjectReaction(cs.Tracker())(a)
		if err != nil || !handled {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Status = appsv1.DeploymentStatus{Replicas: 1}
		return true, d, cs.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, d, ns)
	})
	c := cfg(repoImg + ":17-br")
	c.Timeout = 2 * time.Second
	if _, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), c); err == nil {
		t.Fatal("no error although the Deployments never became available")
	}
	if want := []string{"probe " + repoImg + ":17-br", "apply (stuck) pg1-backrest-shared-repo", "apply (stuck) pg1"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q", *events, want)
	}
}

// With the same pgBackRest the primary waits for the repository host: stuck there, the primary
// is never applied. (The primary's Deployment starts unavailable too: see above.)
func TestOneAtATimeWaitsForTheRepositoryHost(t *testing.T) {
	cs, events := newCluster(t)
	p, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), "pg1", metav1.GetOptions{})
	p.Status = appsv1.DeploymentStatus{Replicas: 1}
	if err := cs.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, p, ns); err != nil {
		t.Fatal(err)
	}
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*events = append(*events, "apply (stuck) "+a.(k8stesting.PatchAction).GetName())
		handled, obj, err := k8stesting.ObjectReaction(cs.Tracker())(a)
		if err != nil || !handled {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Status = appsv1.DeploymentStatus{Replicas: 1}
		return true, d, cs.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, d, ns)
	})
	c := cfg(repoImg + ":17-a")
	c.Timeout = 2 * time.Second
	if _, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), c); err == nil {
		t.Fatal("no error although the repository host never became available")
	}
	if want := []string{"probe " + repoImg + ":17-a", "apply (stuck) pg1-backrest-shared-repo"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q", *events, want)
	}
}

// Every refusal exits 2 and changes nothing: no spec write, no Deployment applied.
func TestUpdateRefusalsChangeNothing(t *testing.T) {
	for _, c := range []struct{ image, want string }{
		{repoImg + ":15", "create NEW --from pg1"},
		{repoImg + ":nobr", "no pgBackRest"},
		{repoImg + ":missing", "cannot pull"},
	} {
		t.Run(c.image, func(t *testing.T) {
			cs, events := newCluster(t)
			cs.ClearActions()
			start := time.Now()
			_, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), cfg(c.image))
			if exitcode.For(err) != exitcode.UsageError ||
				!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("err = %v (exit %d), want exit 2 saying %q", err, exitcode.For(err), c.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s to refuse", took)
			}
			if w := writes(cs); len(w) > 0 || len(*events) != 1 {
				t.Errorf("writes %q, events %q: want none but the probe", w, *events)
			}
			if s := storedSpec(t, cs); s.ImageDigest != oldDig {
				t.Errorf("digest %s after a refusal", s.ImageDigest)
			}
		})
	}
}

// Interrupted after the spec was written (the repository host's apply fails): the re-run
// converges, with the same result as one run.
func TestUpdateFailAtRollThenResume(t *testing.T) {
	for _, failAt := range []string{"pg1-backrest-shared-repo", "pg1"} {
		t.Run(failAt, func(t *testing.T) {
			ctx := context.Background()
			cs, _ := newCluster(t)
			fired := false
			cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if fired || a.(k8stesting.PatchAction).GetName() != failAt {
					return false, nil, nil
				}
				fired = true
				return true, nil, apierrors.NewInternalError(errors.New("injected"))
			})
			if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg(repoImg+":17-a")); err == nil {
				t.Fatal("first run succeeded despite the fault")
			}
			if storedSpec(t, cs).ImageDigest != newDig {
				t.Fatal("the spec was not written before the roll")
			}
			r := &reporter{}
			res, err := Run(ctx, deps(cs, &fakeExec{}, r), cfg(repoImg+":17-a"))
			if err != nil || !res.Checked {
				t.Fatalf("re-run: %v\n%s", err, strings.Join(r.lines, "\n"))
			}
			for _, name := range []string{"pg1-backrest-shared-repo", "pg1"} {
				d, _ := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if got := d.Spec.Template.Spec.Containers[0].Image; got != repoImg+"@"+newDig {
					t.Errorf("Deployment %s runs %s after the re-run", name, got)
				}
			}
			cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
			if cm.Annotations[AnnotationChecked] != repoImg+"@"+newDig {
				t.Errorf("done marker %q", cm.Annotations[AnnotationChecked])
			}
		})
	}
}

// Refused while a restore is recorded, and for a cluster whose create never finished.
func TestUpdateRefusedMidRestoreOrUnfinished(t *testing.T) {
	for name, annotate := range map[string]func(*corev1.ConfigMap){
		"mid-restore": func(cm *corev1.ConfigMap) { cm.Annotations[cluster.AnnotationRestoreID] = "20260102030405" },
		"unfinished":  func(cm *corev1.ConfigMap) { delete(cm.Annotations, create.AnnotationCreatedAt) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cs, events := newCluster(t)
			cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
			annotate(cm)
			if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg(repoImg+":17-a"))
			if exitcode.For(err) != exitcode.UsageError || len(*events) > 0 {
				t.Errorf("err %v (exit %d), events %q: want exit 2 before any probe", err, exitcode.For(err), *events)
			}
		})
	}
}
