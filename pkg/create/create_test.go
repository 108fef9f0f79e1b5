package create

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

const ns = "ns1"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeExec is a kube.Executor that answers by pgBackRest command (the last argument).
type fakeExec struct {
	mu    sync.Mutex
	calls []string
	// out and err per command ("stanza-create", "check"); failOnce makes only the next call fail.
	out      map[string]string
	err      map[string]error
	failOnce bool
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(_ context.Context, namespace, pod, container string, cmd []string, _ io.Reader, stdout, stderr io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	verb := cmd[len(cmd)-1]
	f.calls = append(f.calls, fmt.Sprintf("%s/%s/%s %s", namespace, pod, container, verb))
	if out, ok := f.out[verb]; ok {
		// As pgBackRest does: errors (and their indented HINT lines) on stderr, the rest on stdout.
		for _, line := range strings.SplitAfter(out, "\n") {
			w := stdout
			if strings.Contains(line, "ERROR:") || strings.HasPrefix(line, " ") {
				w = stderr
			}
			_, _ = io.WriteString(w, line)
		}
	}
	if err := f.err[verb]; err != nil {
		if f.failOnce {
			delete(f.err, verb)
			delete(f.out, verb)
		}
		return err
	}
	return nil
}

// reporter records step outcomes.
type reporter struct{ lines []string }

func (r *reporter) Start(name string)                 { r.lines = append(r.lines, "start "+name) }
func (r *reporter) Skipped(name string)               { r.lines = append(r.lines, "skip "+name) }
func (r *reporter) Done(name string, _ time.Duration) { r.lines = append(r.lines, "done "+name) }
func (r *reporter) Failed(name string, err error) {
	r.lines = append(r.lines, "fail "+name+": "+err.Error())
}

var _ workflow.Reporter = (*reporter)(nil)

// newClient is a fake clientset with a tiny stand-in for the Deployment controller: every
// applied Deployment becomes available at once and gets a Ready pod.
func newClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	tracker := cs.Tracker()
	react := k8stesting.ObjectReaction(tracker)
	gvrDeploy := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrPod := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cs.PrependReactor("patch", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		handled, obj, err := react(action)
		if err != nil || !handled {
			return handled, obj, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		if err := tracker.Update(gvrDeploy, d, d.Namespace); err != nil {
			return true, nil, err
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-pod", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
			Spec:       d.Spec.Template.Spec,
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: fakeImageID(c.Image), Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
		}
		err = tracker.Create(gvrPod, pod, d.Namespace)
		if apierrors.IsAlreadyExists(err) {
			err = tracker.Update(gvrPod, pod, d.Namespace) // the rollout's new pod
		}
		if err != nil {
			return true, nil, err
		}
		return true, d, nil
	})
	return cs
}

// fakeDigest is the digest the fake node reports for a tag.
func fakeDigest(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fakeImageID is what containerd reports: a digest under whichever name the node pulled the
// content by (here another name than the one asked for, which the pin must not take). An image
// named "local/…" is known only by its config ID, as an image loaded without a registry can be.
func fakeImageID(image string) string {
	if d := cluster.ImageRefDigest(image); d != "" {
		return "mirror.example/other/name@" + d
	}
	if strings.HasPrefix(image, "local/") {
		return fakeDigest(image)
	}
	return "mirror.example/other/name@" + fakeDigest(image)
}

func s3Secret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: cluster.DefaultS3Secret, Namespace: ns},
		Data: map[string][]byte{
			"bucket": []byte("backups"), "endpoint": []byte("s3.example.svc:9443"), "region": []byte("us-east-1"),
			"uri-style": []byte("path"), "verify-tls": []byte("true"), "key": []byte("k"), "key-secret": []byte("s"),
			cluster.S3SecretKeyCA: testCA(),
		},
	}
}

func testCA() []byte {
	b, err := certs.Generate([]string{"s3.example.svc"}, "c", t0, time.Hour)
	if err != nil {
		panic(err)
	}
	return b.CACert
}

func config(storages ...pgbackrest.Storage) Config {
	return Config{Name: "pg1", Namespace: ns, Storages: storages, Image: "img:1", PGDataSize: "1Gi", RepoSize: "2Gi",
		Timeout: time.Minute, Version: "v0.0.0-test"}
}

func deps(cs *fake.Clientset, ex *fakeExec, r *reporter) Deps {
	return Deps{Client: cs, Exec: ex, Now: func() time.Time { return t0 }, Reporter: r}
}

// writes counts the mutating actions the fake clientset saw.
func writes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestRunTwiceChangesNothing(t *testing.T) {
	for _, storages := range [][]pgbackrest.Storage{{pgbackrest.Local}, {pgbackrest.S3}, {pgbackrest.Local, pgbackrest.S3}} {
		t.Run(storageString(storages), func(t *testing.T) {
			ctx := context.Background()
			cs := newClient(t, s3Secret())
			ex := &fakeExec{}
			r := &reporter{}
			res, err := Run(ctx, deps(cs, ex, r), config(storages...))
			if err != nil {
				t.Fatalf("first run: %v\n%s", err, strings.Join(r.lines, "\n"))
			}
			if !res.Changed || res.Existed {
				t.Errorf("first run: Changed=%v Existed=%v, want true false", res.Changed, res.Existed)
			}
			want := []string{ns + "/pg1-backrest-shared-repo-pod/pgbackrest stanza-create", ns + "/pg1-backrest-shared-repo-pod/pgbackrest check"}
			if !slices.Equal(ex.calls, want) {
				t.Errorf("exec calls = %q, want %q", ex.calls, want)
			}
			cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := cm.Annotations[AnnotationCreatedAt]; got != "2026-01-02T03:04:05Z" {
				t.Errorf("created-at = %q", got)
			}
			spec, _, err := cluster.Get(ctx, cs, ns, "pg1")
			if err != nil {
				t.Fatalf("stored spec: %v", err)
			}
			if !slices.Equal(spec.Storages, storages) || spec.Image != "img:1" {
				t.Errorf("stored spec = %+v", spec)
			}
			_, err = cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "pg1-pgbr-repo", metav1.GetOptions{})
			if hasLocal := slices.Contains(storages, pgbackrest.Local); hasLocal != (err == nil) {
				t.Errorf("repo PVC exists = %v, want %v", err == nil, hasLocal)
			}
			if slices.Contains(storages, pgbackrest.S3) {
				if spec.S3.Bucket != "backups" || spec.S3.Endpoint != "s3.example.svc:9443" || !spec.S3.HasCA {
					t.Errorf("spec S3 = %+v", spec.S3)
				}
				if !strings.Contains(cm.Data[cluster.RepoConfKey], "repo2-s3-endpoint=s3.example.svc\nrepo2-storage-port=9443\n") {
					t.Errorf("repo.conf lacks endpoint and port:\n%s", cm.Data[cluster.RepoConfKey])
				}
			}

			cs.ClearActions()
			ex.calls = nil
			r.lines = nil
			res, err = Run(ctx, deps(cs, ex, r), config(storages...))
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if res.Changed || !res.Existed {
				t.Errorf("second run: Changed=%v Existed=%v, want false true", res.Changed, res.Existed)
			}
			if w := writes(cs); len(w) > 0 {
				t.Errorf("second run wrote: %q", w)
			}
			if len(ex.calls) > 0 {
				t.Errorf("second run exec'd: %q", ex.calls)
			}
			for _, l := range r.lines {
				if !strings.HasPrefix(l, "skip ") {
					t.Errorf("second run step not skipped: %s", l)
				}
			}
		})
	}
}

// failOnce makes the next verb on resource (named name, or any when "") fail.
func failOnce(cs *fake.Clientset, verb, resource, name string) {
	fired := false
	cs.PrependReactor(verb, resource, func(action k8stesting.Action) (bool, runtime.Object, error) {
		if fired {
			return false, nil, nil
		}
		if n, ok := action.(interface{ GetName() string }); ok && name != "" && n.GetName() != name {
			return false, nil, nil
		}
		fired = true
		return true, nil, apierrors.NewInternalError(errors.New("injected"))
	})
}

func TestFailAtStepThenResume(t *testing.T) {
	exitErr := &kube.ExitError{Code: 82, Command: []string{"pgbackrest", "check"}}
	cases := []struct {
		step   string
		inject func(cs *fake.Clientset, ex *fakeExec)
	}{
		{"cluster config", func(cs *fake.Clientset, _ *fakeExec) { failOnce(cs, "patch", "configmaps", "") }},
		{"TLS certificates", func(cs *fake.Clientset, _ *fakeExec) { failOnce(cs, "create", "secrets", "") }},
		{"volumes", func(cs *fake.Clientset, _ *fakeExec) {
			failOnce(cs, "create", "persistentvolumeclaims", "pg1-pgbr-repo")
		}},
		{"services", func(cs *fake.Clientset, _ *fakeExec) { failOnce(cs, "patch", "services", "pg1-backrest-shared-repo") }},
		{"repository host", func(cs *fake.Clientset, _ *fakeExec) {
			failOnce(cs, "patch", "deployments", "pg1-backrest-shared-repo")
		}},
		{"primary", func(cs *fake.Clientset, _ *fakeExec) { failOnce(cs, "patch", "deployments", "pg1") }},
		{"stanza-create", func(_ *fake.Clientset, ex *fakeExec) {
			ex.out = map[string]string{"stanza-create": "P00  ERROR: [039]: unable to connect\n"}
			ex.err = map[string]error{"stanza-create": &kube.ExitError{Code: 39}}
			ex.failOnce = true
		}},
		{"check", func(_ *fake.Clientset, ex *fakeExec) {
			ex.out = map[string]string{"check": "P00  ERROR: [082]: WAL segment 000000010000000000000001 was not archived before the 60000ms timeout\n"}
			ex.err = map[string]error{"check": exitErr}
			ex.failOnce = true
		}},
		{"mark created", func(cs *fake.Clientset, _ *fakeExec) {
			cs.PrependReactor("patch", "configmaps", func(action k8stesting.Action) (bool, runtime.Object, error) {
				if action.(k8stesting.PatchAction).GetPatchType() == "application/merge-patch+json" {
					return true, nil, apierrors.NewInternalError(errors.New("injected"))
				}
				return false, nil, nil
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.step, func(t *testing.T) {
			ctx := context.Background()
			cs := newClient(t, s3Secret())
			ex := &fakeExec{}
			r := &reporter{}
			c.inject(cs, ex)
			_, err := Run(ctx, deps(cs, ex, r), config(pgbackrest.Local, pgbackrest.S3))
			var se *workflow.StepError
			if !errors.As(err, &se) || !strings.HasPrefix(se.Step, c.step) {
				t.Fatalf("err = %v, want a failure of step %q", err, c.step)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{}); err == nil {
				if done, _ := (&run{deps: deps(cs, ex, r), spec: &cluster.Spec{Name: "pg1", Namespace: ns}}).markerDone(ctx); done {
					t.Fatal("created marker written although a step failed")
				}
			}
			sec1, _ := cs.CoreV1().Secrets(ns).Get(ctx, "pg1-pgbackrest-tls", metav1.GetOptions{})

			// The fault is gone (the mark-created reactor stays: give it a fresh client view).
			if c.step == "mark created" {
				cs.ReactionChain = cs.ReactionChain[1:]
			}
			r.lines = nil
			res, err := Run(ctx, deps(cs, ex, r), config(pgbackrest.Local, pgbackrest.S3))
			if err != nil {
				t.Fatalf("re-run: %v\n%s", err, strings.Join(r.lines, "\n"))
			}
			if !res.Existed && c.step != "cluster config" {
				t.Error("re-run did not find the cluster ConfigMap")
			}
			cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
			if err != nil || cm.Annotations[AnnotationCreatedAt] == "" {
				t.Fatalf("not marked created after re-run: %v", err)
			}
			if sec1 != nil && sec1.Name != "" {
				sec2, _ := cs.CoreV1().Secrets(ns).Get(ctx, "pg1-pgbackrest-tls", metav1.GetOptions{})
				if !bytes.Equal(sec1.Data["ca.crt"], sec2.Data["ca.crt"]) {
					t.Error("TLS Secret regenerated on re-run")
				}
			}
			// A third run changes nothing.
			cs.ClearActions()
			res, err = Run(ctx, deps(cs, ex, r), config(pgbackrest.Local, pgbackrest.S3))
			if err != nil || res.Changed || len(writes(cs)) > 0 {
				t.Errorf("third run: err=%v changed=%v writes=%q", err, res.Changed, writes(cs))
			}
		})
	}
}

func TestStorageIsFixed(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, s3Secret())
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local, pgbackrest.S3)); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.S3))
	if !errors.Is(err, ErrStorageFixed) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want ErrStorageFixed, exit 2", err, exitcode.For(err))
	}
	if want := "the storage type is fixed at create: cluster pg1 has local,s3"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("wrote %q", w)
	}
}

func TestNoS3Secret(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.S3))
	if !errors.Is(err, ErrNoS3Secret) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v, want ErrNoS3Secret, exit 2", err)
	}
	if !strings.Contains(err.Error(), "kubectl pgbackrest s3 configure") {
		t.Errorf("message does not say how to create the Secret: %v", err)
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("wrote %q", w)
	}
}

func TestS3FromSecretIncomplete(t *testing.T) {
	sec := s3Secret()
	delete(sec.Data, "key-secret")
	delete(sec.Data, "bucket")
	_, err := S3FromSecret(sec)
	if err == nil || !strings.Contains(err.Error(), "--bucket is required") || !strings.Contains(err.Error(), "secret key is missing") {
		t.Fatalf("err = %v", err)
	}
}

// stanzaCreate245Mismatch is what pgBackRest 2.45 prints when stanza-create finds repo2 holding the
// stanza of another system (src/command/check/common.c checkStanzaInfoPg, error 028).
const stanzaCreate245Mismatch = `2026-01-02 03:04:05.123 P00   INFO: stanza-create command begin 2.45: --exec-id=87-6f1a2b3c --log-level-console=info --log-level-file=off --pg1-host=pg1 --pg1-path=/pgdata/pg15 --repo1-path=/pgbackrest/repo1 --repo2-path=/backrestrepo/pg1-backrest-shared-repo --repo2-s3-bucket=backups --repo2-type=s3 --stanza=db
2026-01-02 03:04:05.456 P00   INFO: stanza-create for stanza 'db' on repo1
2026-01-02 03:04:05.789 P00   INFO: stanza-create for stanza 'db' on repo2
2026-01-02 03:04:05.900 P00  ERROR: [028]: backup and archive info files exist but do not match the database
                                    HINT: is this the correct stanza?
                                    HINT: did an error occur during stanza-upgrade?
2026-01-02 03:04:05.901 P00   INFO: stanza-create command end: aborted with exception [028]
`

func TestSystemIDMismatch(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, s3Secret())
	ex := &fakeExec{
		out: map[string]string{"stanza-create": stanzaCreate245Mismatch},
		err: map[string]error{"stanza-create": &kube.ExitError{Code: 28, Command: pgbackrest.StanzaCreateArgs("db")}},
	}
	r := &reporter{}
	_, err := Run(ctx, deps(cs, ex, r), config(pgbackrest.Local, pgbackrest.S3))
	var m *RepositoryMismatchError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want *RepositoryMismatchError", err)
	}
	if m.Repo != 2 {
		t.Errorf("repo = %d, want 2", m.Repo)
	}
	msg := err.Error()
	for _, want := range []string{
		"repository repo2 (s3: bucket backups at s3.example.svc:9443, path /backrestrepo/pg1-backrest-shared-repo)",
		"another cluster name", "kubectl pgbackrest delete pg1 --delete-data -n ns1",
		"restore from those backups", "kubectl pgbackrest restore pg1 --storage=s3 --force -n ns1",
		"ERROR: [028]: backup and archive info files exist but do not match the database",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "re-run the same command to resume") {
		t.Errorf("message suggests a plain re-run:\n%s", msg)
	}
	if last := r.lines[len(r.lines)-1]; !strings.HasPrefix(last, "fail stanza-create: ") {
		t.Errorf("last progress line = %q, want the failure of stanza-create", last)
	}
}

func TestMismatchFromArchivePush(t *testing.T) {
	spec := NewSpec(config(pgbackrest.Local), cluster.S3{})
	out := "P00  ERROR: [044]: PostgreSQL version 15, system-id 7312345678901234567 do not match repo1 stanza version 15, system-id 7298765432109876543\n"
	m := Mismatch(spec, out)
	if m == nil || m.Repo != 1 || len(m.Locations) != 1 || !strings.Contains(m.Locations[0], "/pgbackrest/repo1 on PVC pg1-pgbr-repo") {
		t.Fatalf("Mismatch = %+v", m)
	}
	if Mismatch(spec, "P00  ERROR: [082]: WAL segment was not archived before the 60000ms timeout") != nil {
		t.Error("an archive timeout read as a mismatch")
	}
}

func TestObjectsForDryRun(t *testing.T) {
	spec := NewSpec(config(pgbackrest.Local, pgbackrest.S3), cluster.S3{Bucket: "bkt", Endpoint: "e", Region: "r"})
	tls, err := GenerateCerts(spec, t0)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(spec, tls, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	want := []string{"ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolumeClaim", "Service", "Service", "NetworkPolicy", "NetworkPolicy", "Deployment", "Deployment"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds = %q, want %q", kinds, want)
	}
	if d := objs[len(objs)-1].(*appsv1.Deployment); d.Spec.Template.Spec.Containers[0].Name != manifest.ContainerPostgres {
		t.Errorf("last object is not the primary: %s", d.Name)
	}
}

// A cluster whose S3 Secret turns certificate checks off says so at every create, resumes too.
func TestCreateWarnsWithoutVerifyTLS(t *testing.T) {
	ctx := context.Background()
	sec := s3Secret()
	sec.Data["verify-tls"] = []byte("false")
	cs := newClient(t, sec)
	for _, run := range []string{"first", "again"} {
		var warnings []string
		d := deps(cs, &fakeExec{}, &reporter{})
		d.Warn = func(msg string) { warnings = append(warnings, msg) }
		if _, err := Run(ctx, d, config(pgbackrest.S3)); err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "verify-tls=false") || !strings.Contains(warnings[0], "s3.example.svc:9443") {
			t.Errorf("%s run: warnings %q", run, warnings)
		}
	}
}
