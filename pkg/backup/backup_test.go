package backup

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube/kubetest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const infoFixture = "../pgbackrest/testdata/pgbackrest-2.45-info-two-repos.json"

// Labels in the fixture: the newest full backup of each repository.
var fixtureLabel = map[int]string{1: "20261125-002741F", 2: "20261125-002457F"}

// fakeExec answers pgBackRest commands like the repository host would.
type fakeExec struct {
	mu    sync.Mutex
	calls [][]string
	info  []byte
	// backupErr, when set, is returned by backup after its output.
	backupErr error
	// block makes backup wait until the context ends (a long backup interrupted).
	block bool
	// pgrepErr is pgrep's result: nil means a backup still runs.
	pgrepErr error
	// checkOut and checkErr are check's output and result.
	checkOut string
	checkErr error
	// execErrs are returned (then consumed) by the next read-only execs: broken streams.
	execErrs []error
	// gapStatus is what the primary's archive-backfill.sh --status prints, one answer per call
	// (the last one repeats).
	gapStatus []string
	// repoLs is repo-ls's output per --repo=N option; a repository not in it fails.
	repoLs map[string]string
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	f.mu.Unlock()
	if pod == "pg1-abc" && container == manifest.ContainerPostgres && cmd[0] == "sh" {
		if cmd[len(cmd)-1] == "--status" && len(f.gapStatus) > 0 {
			fmt.Fprint(stdout, f.gapStatus[0])
			if len(f.gapStatus) > 1 {
				f.gapStatus = f.gapStatus[1:]
			}
		}
		return nil
	}
	if container != Container || pod != "pg1-backrest-shared-repo-abc" {
		return fmt.Errorf("exec in unexpected pod %s container %s", pod, container)
	}
	switch cmd[len(cmd)-1] {
	case "backup":
		repo := 1
		if slices.Contains(cmd, "--repo=2") {
			repo = 2
		}
		fmt.Fprint(stdout, backupOutput(fixtureLabel[repo]))
		if f.block {
			<-ctx.Done()
			return fmt.Errorf("exec in pod: %w", ctx.Err())
		}
		if f.backupErr != nil {
			fmt.Fprintln(stderr, "ERROR: [082]: WAL segment 000000010000000000000003 was not archived before the 60000ms timeout")
			return f.backupErr
		}
		fmt.Fprintf(stdout, "2026-11-25 00:27:48.000 P00   INFO: new backup label = %s\n", fixtureLabel[repo])
		fmt.Fprint(stdout, "2026-11-25 00:27:48.200 P00   INFO: backup command end: completed successfully")
		return nil
	case "info":
		if len(f.execErrs) > 0 {
			err := f.execErrs[0]
			f.execErrs = f.execErrs[1:]
			return err
		}
		_, err := stdout.Write(f.info)
		return err
	case "check":
		fmt.Fprint(stderr, f.checkOut)
		return f.checkErr
	}
	if len(cmd) > 2 && cmd[len(cmd)-2] == "repo-ls" {
		for opt, out := range f.repoLs {
			if slices.Contains(cmd, opt) {
				fmt.Fprint(stdout, out)
				return nil
			}
		}
		fmt.Fprintln(stderr, "ERROR: [039]: HTTP request failed")
		return &kube.ExitError{Code: 39}
	}
	if cmd[0] == "pgrep" {
		if f.pgrepErr == nil {
			fmt.Fprintln(stdout, "123\n124")
		}
		return f.pgrepErr
	}
	return fmt.Errorf("unexpected command %q", cmd)
}

func (f *fakeExec) verbs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var v []string
	for _, c := range f.calls {
		w := c[len(c)-1]
		if c[0] == "pgrep" {
			w = "pgrep"
		}
		if c[0] == "sh" && strings.HasSuffix(c[1], "archive-backfill.sh") {
			w = strings.Join(c[2:], " ")
		}
		for _, a := range c {
			if conf, ok := strings.CutPrefix(a, "--config=/etc/pgbackrest/"); ok {
				w += " " + strings.TrimSuffix(conf, ".conf")
			}
		}
		for _, a := range c {
			if strings.HasPrefix(a, "--repo=") {
				w += " " + strings.TrimPrefix(a, "--")
			}
		}
		v = append(v, w)
	}
	return v
}

func backupOutput(label string) string {
	return `2026-11-25 00:27:41.100 P00   INFO: backup command begin 2.45: --exec-id=1-abc --log-level-console=detail --stanza=db --type=full
2026-11-25 00:27:41.500 P00   INFO: execute non-exclusive backup start: backup begins after the requested immediate checkpoint completes
2026-11-25 00:27:42.000 P00   INFO: backup start archive = 000000010000000000000003, lsn = 0/3000028
2026-11-25 00:27:43.123 P01 DETAIL: backup file pg1:/pgdata/pg15/base/5/1259 (1.5MB, 40.00%) checksum 0123abcd
2026-11-25 00:27:43.200 P02 DETAIL: backup file pg1:/pgdata/pg15/base/5/2608 (512KB, 60.00%) checksum 0123abce
2026-11-25 00:27:43.300 P01   WARN: a warning pgBackRest wants seen
2026-11-25 00:27:43.400 P02 DETAIL: match file from prior backup pg1:/pgdata/pg15/global/pg_control (8KB, 100.00%) checksum 0123abcf
`
}

func newSpec(storages ...pgbackrest.Storage) *cluster.Spec {
	s := cluster.New("pg1", "ns")
	s.Storages = storages
	s.Image = "pgbackrest-pg15:test"
	if slices.Contains(storages, pgbackrest.S3) {
		s.S3 = cluster.S3{Bucket: "bkt", Endpoint: "s3.example", Region: "us-east-1", URIStyle: "path", VerifyTLS: true}
	}
	return s
}

func objects(t *testing.T, spec *cluster.Spec, ready bool) []runtime.Object {
	t.Helper()
	data, err := spec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	l := cluster.Labels(spec.Name, cluster.RoleConfig)
	l[cluster.LabelCluster] = "true"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: spec.Names().ConfigMap(), Namespace: "ns", Labels: l},
		Data:       map[string]string{cluster.SpecKey: data},
	}
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pg1-backrest-shared-repo-abc", Namespace: "ns", Labels: cluster.Labels(spec.Name, cluster.RoleRepo)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: status, Reason: "ContainersNotReady"}}},
	}
	primary := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pg1-abc", Namespace: "ns", Labels: cluster.Labels(spec.Name, cluster.RolePrimary)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	return []runtime.Object{cm, pod, primary}
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(infoFixture)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var t0 = time.Date(2026, 11, 25, 0, 27, 40, 0, time.UTC)

func deps(cs *fake.Clientset, ex *fakeExec, errOut io.Writer) Deps {
	return Deps{Client: cs, Exec: ex, ErrOut: errOut, Now: func() time.Time { return t0 }, RetryWait: time.Millisecond, LeaseRecheck: time.Millisecond}
}

func TestRunOrderAndResult(t *testing.T) {
	tests := []struct {
		name     string
		spec     []pgbackrest.Storage
		flag     []pgbackrest.Storage
		wantExec []string
	}{
		{"local only, default", []pgbackrest.Storage{pgbackrest.Local}, nil, []string{"backup repo=1", "info repo=1"}},
		{"s3 only, default is the cluster's one storage", []pgbackrest.Storage{pgbackrest.S3}, nil, []string{"backup repo=2", "info repo=2"}},
		{"both, default local", []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}, nil, []string{"backup repo=1", "info repo=1"}},
		{"both, to s3", []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}, []pgbackrest.Storage{pgbackrest.S3}, []string{"backup repo=2", "info repo=2"}},
		{"both, to both in order", []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}, []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3},
			[]string{"backup repo=1", "info repo=1", "backup repo=2", "info repo=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(objects(t, newSpec(tt.spec...), true)...)
			ex := &fakeExec{info: fixture(t)}
			var errOut bytes.Buffer
			res, err := Run(t.Context(), deps(cs, ex, &errOut), Config{Namespace: "ns", Cluster: "pg1", Storages: tt.flag, Type: "full", Holder: "me"})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut.String())
			}
			if got := ex.verbs(); !slices.Equal(got, tt.wantExec) {
				t.Errorf("execs = %q, want %q", got, tt.wantExec)
			}
			if c := ex.calls[0]; c[0] != "sh" || c[4] != "pgbackrest" {
				t.Errorf("backup not detached from the exec stream: %q", c)
			}
			if len(res.Backups) != len(tt.wantExec)/2 {
				t.Fatalf("got %d sets, want %d", len(res.Backups), len(tt.wantExec)/2)
			}
			for _, s := range res.Backups {
				if s.Label != fixtureLabel[s.Repo] || s.Type != "full" || s.Size == 0 || s.DurationSeconds == 0 {
					t.Errorf("set %+v", s)
				}
			}
			// The Lease is gone afterwards.
			if l, err := cs.CoordinationV1().Leases("ns").List(t.Context(), metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
				t.Errorf("leases after run: %v %v", l, err)
			}
		})
	}
}

func TestRunProgressAndLines(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("verbose=%v", verbose), func(t *testing.T) {
			cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local), true)...)
			ex := &fakeExec{info: fixture(t)}
			var errOut bytes.Buffer
			d := deps(cs, ex, &errOut)
			d.ProgressInterval = time.Nanosecond
			n := 0
			d.Now = func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
			if _, err := Run(t.Context(), d, Config{Namespace: "ns", Cluster: "pg1", Holder: "me", Verbose: verbose}); err != nil {
				t.Fatal(err)
			}
			out := errOut.String()
			for _, want := range []string{
				"backup to local (repo1):  40.0%  1.5MB in 1 files",
				"backup to local (repo1): 100.0%  2.0MB in 3 files",
				"P01   WARN: a warning pgBackRest wants seen",
				"✓ full backup 20261125-002741F to local (repo1): 773.3MB (87.0MB in the repository)",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			if got := strings.Contains(out, "DETAIL: backup file"); got != verbose {
				t.Errorf("detail lines shown = %v, want %v:\n%s", got, verbose, out)
			}
		})
	}
}

func TestRunRefusals(t *testing.T) {
	held := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "pg1-pgbackrest", Namespace: "ns", Labels: cluster.Labels("pg1", cluster.RoleBackup),
			Annotations: map[string]string{kube.AnnotationPurpose: "backup"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("alice@laptop pid 7"), LeaseDurationSeconds: ptr(int32(90)),
			AcquireTime: &metav1.MicroTime{Time: t0.Add(-time.Minute)}, RenewTime: &metav1.MicroTime{Time: t0.Add(-10 * time.Second)}},
	}
	tests := []struct {
		name      string
		objs      func(t *testing.T) []runtime.Object
		cfg       Config
		wantIs    error
		wantUsage bool
		wantMsg   string
	}{
		{"unknown cluster lists existing ones", func(t *testing.T) []runtime.Object { return objects(t, newSpec(pgbackrest.Local), true) },
			Config{Cluster: "nope"}, cluster.ErrNotFound, true, "clusters there: pg1"},
		{"storage the cluster lacks", func(t *testing.T) []runtime.Object { return objects(t, newSpec(pgbackrest.Local), true) },
			Config{Cluster: "pg1", Storages: []pgbackrest.Storage{pgbackrest.S3}}, nil, true, "--storage s3: cluster pg1 has no s3 repository"},
		{"repo pod not ready", func(t *testing.T) []runtime.Object { return objects(t, newSpec(pgbackrest.Local), false) },
			Config{Cluster: "pg1"}, cluster.ErrPodNotReady, false, "pod pg1-backrest-shared-repo-abc"},
		{"lease held", func(t *testing.T) []runtime.Object { return append(objects(t, newSpec(pgbackrest.Local), true), held) },
			Config{Cluster: "pg1"}, nil, false, `another backup is running: lease ns/pg1-pgbackrest is held by "alice@laptop pid 7" since 2026-11-25T00:26:40Z`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objs(t)...)
			keepRenewing(t, cs) // the holder of the lease, when there is one, is alive
			ex := &fakeExec{info: fixture(t)}
			tt.cfg.Namespace, tt.cfg.Holder = "ns", "me"
			_, err := Run(t.Context(), deps(cs, ex, io.Discard), tt.cfg)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if got := errors.Is(err, exitcode.ErrUsage); got != tt.wantUsage {
				t.Errorf("usage error = %v, want %v: %v", got, tt.wantUsage, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
			if len(ex.calls) != 0 {
				t.Errorf("exec'd %q before refusing", ex.verbs())
			}
			var he *kube.HeldError
			if errors.As(err, &he) {
				if l, _ := cs.CoordinationV1().Leases("ns").Get(t.Context(), "pg1-pgbackrest", metav1.GetOptions{}); *l.Spec.HolderIdentity != "alice@laptop pid 7" {
					t.Errorf("lease taken over: %v", *l.Spec.HolderIdentity)
				}
			}
		})
	}
}

// TestRunTakesOverLeaseOfDeadLocalRun: a backup killed with kill -9 on this machine leaves a
// fresh Lease behind; the next backup takes it over at once instead of refusing for 90 s.
func TestRunTakesOverLeaseOfDeadLocalRun(t *testing.T) {
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatalf("running a short-lived process: %v", err)
	}
	self := kube.Holder()
	holder := self[:strings.LastIndex(self, " pid ")] + " pid " + strconv.Itoa(dead.Process.Pid)
	left := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "pg1-pgbackrest", Namespace: "ns", Labels: cluster.Labels("pg1", cluster.RoleBackup),
			Annotations: map[string]string{kube.AnnotationPurpose: "backup"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr(holder), LeaseDurationSeconds: ptr(int32(90)),
			AcquireTime: &metav1.MicroTime{Time: t0.Add(-time.Minute)}, RenewTime: &metav1.MicroTime{Time: t0.Add(-10 * time.Second)}},
	}
	cs := fake.NewClientset(append(objects(t, newSpec(pgbackrest.Local), true), left)...)
	short, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if held, err := kube.LeaseHeld(short, cs, kube.LeaseConfig{Namespace: "ns", Name: "pg1-pgbackrest", Holder: "me", Recheck: time.Millisecond}); held != nil || err != nil {
		t.Skip("processes cannot be probed here: a dead run's Lease is taken over once stale")
	}
	ex := &fakeExec{info: fixture(t)}
	var errOut bytes.Buffer
	res, err := Run(t.Context(), deps(cs, ex, &errOut), Config{Namespace: "ns", Cluster: "pg1", Holder: "me"})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	if len(res.Backups) != 1 {
		t.Errorf("got %d sets, want 1", len(res.Backups))
	}
	if want := fmt.Sprintf("lease pg1-pgbackrest was held by %q, which no longer runs on this machine: taking it over", holder); !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
	if l, err := cs.CoordinationV1().Leases("ns").List(t.Context(), metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("leases after run: %v %v", l, err)
	}
}

func ptr[T any](v T) *T { return &v }

var leases = coordinationv1.SchemeGroupVersion.WithResource("leases")

// keepRenewing makes the holder of Lease pg1-pgbackrest alive (when it is not this run), renewing it while
// this run watches.
func keepRenewing(t *testing.T, cs *fake.Clientset) {
	kubetest.KeepRenewing(t, cs, "ns", "pg1-pgbackrest", "me")
}

// TestRunStopsWhenLeaseLost: a backup whose Lease was deleted by hand (or taken by another run)
// while it ran takes no further backup beside the other run, and says what is left to take.
func TestRunStopsWhenLeaseLost(t *testing.T) {
	for _, storages := range [][]pgbackrest.Storage{{pgbackrest.Local, pgbackrest.S3}, {pgbackrest.Local}} {
		t.Run(fmt.Sprint(storages), func(t *testing.T) {
			cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
			ex := &fakeExec{info: fixture(t)}
			// Once the first backup has run, the Lease is gone: deleted by hand meanwhile.
			cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
				if slices.Contains(ex.verbs(), "backup repo=1") {
					return true, nil, apierrors.NewNotFound(leases.GroupResource(), "pg1-pgbackrest")
				}
				return false, nil, nil
			})
			var errOut bytes.Buffer
			res, err := Run(t.Context(), deps(cs, ex, &errOut), Config{Namespace: "ns", Cluster: "pg1", Holder: "me", Type: "full", Storages: storages})
			if got := slices.DeleteFunc(ex.verbs(), func(v string) bool { return !strings.HasPrefix(v, "backup") }); !slices.Equal(got, []string{"backup repo=1"}) {
				t.Errorf("backups = %q, want only the first", got)
			}
			if res == nil || len(res.Backups) != 1 {
				t.Fatalf("result = %+v, want the first set", res)
			}
			if len(storages) == 1 {
				// The only backup is taken: told, not failed.
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if want := "lease ns/pg1-pgbackrest was deleted while this backup held it: another backup or restore may have run beside this one"; !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
				}
				return
			}
			want := "lease ns/pg1-pgbackrest was deleted while this backup held it; stopped before the backup to s3 (repo2) so that two runs never act on cluster pg1 at once; " +
				"take what is left with: kubectl pgbackrest backup pg1 -n ns --storage=s3 --type=full"
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
		})
	}
}

func TestRunFailureStopsAndNeverRetries(t *testing.T) {
	cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
	ex := &fakeExec{info: fixture(t), backupErr: &kube.ExitError{Code: 82}}
	res, err := Run(t.Context(), deps(cs, ex, io.Discard), Config{Namespace: "ns", Cluster: "pg1", Holder: "me",
		Storages: []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}})
	if err == nil || !strings.Contains(err.Error(), "backup to local (repo1) failed (pgbackrest exit code 82): ERROR: [082]: WAL segment") {
		t.Fatalf("err = %v", err)
	}
	if got := ex.verbs(); !slices.Equal(got, []string{"backup repo=1"}) {
		t.Errorf("execs = %q", got)
	}
	if len(res.Backups) != 0 {
		t.Errorf("sets = %v", res.Backups)
	}
	if l, _ := cs.CoordinationV1().Leases("ns").List(t.Context(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("lease left behind")
	}
}

func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		name        string
		timeout     time.Duration
		cancelAfter time.Duration
		pgrepErr    error
		wantTimeout bool
		want        string
	}{
		{"ctrl-c, still running", 0, 50 * time.Millisecond, nil, false,
			"backup to local (repo1) interrupted (context canceled); pgbackrest backup is still running in pod pg1-backrest-shared-repo-abc (pid 123, 124)"},
		{"ctrl-c, gone", 0, 50 * time.Millisecond, &kube.ExitError{Code: 1}, false, "pgbackrest backup is no longer running"},
		{"timeout", 50 * time.Millisecond, 0, nil, true, "did not finish within --timeout 50ms; pgbackrest backup is still running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local), true)...)
			ex := &fakeExec{info: fixture(t), block: true, pgrepErr: tt.pgrepErr}
			ctx := t.Context()
			if tt.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tt.cancelAfter, cancel)
			}
			_, err := Run(ctx, deps(cs, ex, io.Discard), Config{Namespace: "ns", Cluster: "pg1", Holder: "me", Timeout: tt.timeout})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "kubectl exec -n ns pg1-backrest-shared-repo-abc -c pgbackrest -- pgbackrest --stanza=db info") {
				t.Errorf("err does not say how to follow it: %v", err)
			}
			if got := exitcode.For(err) == exitcode.TimedOut; got != tt.wantTimeout {
				t.Errorf("exit code %d", exitcode.For(err))
			}
			if got := ex.verbs(); !slices.Equal(got, []string{"backup repo=1", "pgrep"}) {
				t.Errorf("execs = %q", got)
			}
			if l, _ := cs.CoordinationV1().Leases("ns").List(t.Context(), metav1.ListOptions{}); len(l.Items) != 0 {
				t.Errorf("lease left behind")
			}
		})
	}
}

func TestWithStartFast(t *testing.T) {
	tests := []struct{ in, want []string }{
		{nil, []string{"--start-fast"}},
		{[]string{"--process-max=4"}, []string{"--process-max=4", "--start-fast"}},
		{[]string{"--no-start-fast"}, []string{"--no-start-fast"}},
		{[]string{"--start-fast=n"}, []string{"--start-fast=n"}},
	}
	for _, tt := range tests {
		if got := withStartFast(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("withStartFast(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResultTableGolden(t *testing.T) {
	set, err := describeSet(fixture(t), pgbackrest.Local, fixtureLabel[1], 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	set2, err := describeSet(fixture(t), pgbackrest.S3, fixtureLabel[2], 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Cluster: "pg1", Namespace: "ns", Backups: []Set{*set, *set2}}
	for _, f := range []output.Format{output.Table, output.JSON} {
		var b bytes.Buffer
		if err := output.Print(&b, f, res); err != nil {
			t.Fatal(err)
		}
		golden(t, "result."+string(f), b.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestStorages(t *testing.T) {
	L, S := pgbackrest.Local, pgbackrest.S3
	tests := []struct {
		name       string
		spec, flag []pgbackrest.Storage
		backup     []pgbackrest.Storage
		repo       int
		repoSt     []pgbackrest.Storage
		err        string
	}{
		{"local default", []pgbackrest.Storage{L}, nil, []pgbackrest.Storage{L}, 0, []pgbackrest.Storage{L}, ""},
		{"s3 default", []pgbackrest.Storage{S}, nil, []pgbackrest.Storage{S}, 0, []pgbackrest.Storage{S}, ""},
		{"both default", []pgbackrest.Storage{L, S}, nil, []pgbackrest.Storage{L}, 0, []pgbackrest.Storage{L, S}, ""},
		{"both, s3", []pgbackrest.Storage{L, S}, []pgbackrest.Storage{S}, []pgbackrest.Storage{S}, 2, []pgbackrest.Storage{S}, ""},
		{"both, both", []pgbackrest.Storage{L, S}, []pgbackrest.Storage{L, S}, []pgbackrest.Storage{L, S}, 0, []pgbackrest.Storage{L, S}, ""},
		{"s3 cluster, local", []pgbackrest.Storage{S}, []pgbackrest.Storage{L}, nil, 0, nil, "--storage local: cluster pg1 has no local repository; its storage is s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newSpec(tt.spec...)
			got, err := BackupStorages(spec, tt.flag)
			repo, st, err2 := RepoStorages(spec, tt.flag)
			if tt.err != "" {
				for _, e := range []error{err, err2} {
					if e == nil || !strings.Contains(e.Error(), tt.err) || !errors.Is(e, exitcode.ErrUsage) {
						t.Errorf("err = %v, want usage error %q", e, tt.err)
					}
				}
				return
			}
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			if !slices.Equal(got, tt.backup) || repo != tt.repo || !slices.Equal(st, tt.repoSt) {
				t.Errorf("backup %v, info repo %d %v", got, repo, st)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
	// Two broken streams, then success: info is read-only and retried.
	ex := &fakeExec{info: fixture(t), execErrs: []error{errors.New("stream reset"), errors.New("EOF")}}
	sum, err := Info(t.Context(), deps(cs, ex, io.Discard), InfoConfig{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Repositories) != 2 || sum.Repositories[0].Storage != pgbackrest.Local || len(sum.Repositories[0].Backups) != 6 {
		t.Errorf("summary %+v", sum)
	}
	// The gap lists are read from the primary, so the window says no more than the archive holds.
	if got := ex.verbs(); !slices.Equal(got, []string{"info", "info", "info", "--status"}) {
		t.Errorf("execs %q", got)
	}

	ex = &fakeExec{info: fixture(t), execErrs: []error{errors.New("a"), errors.New("b"), errors.New("c")}}
	if _, err := Info(t.Context(), deps(cs, ex, io.Discard), InfoConfig{Namespace: "ns", Cluster: "pg1"}); err == nil || len(ex.calls) != 3 {
		t.Errorf("three broken streams: err %v after %d calls", err, len(ex.calls))
	}

	ex = &fakeExec{info: fixture(t)}
	sum, err = Info(t.Context(), deps(cs, ex, io.Discard), InfoConfig{Namespace: "ns", Cluster: "pg1", Storages: []pgbackrest.Storage{pgbackrest.S3}, Set: "20261125-002457F"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Repositories) != 1 || sum.Repositories[0].Key != 2 || len(sum.Repositories[0].Backups) != 1 {
		t.Errorf("summary %+v", sum)
	}
	if got := ex.verbs(); !slices.Equal(got, []string{"info repo=2", "--status"}) {
		t.Errorf("execs %q", got)
	}

	ex = &fakeExec{info: fixture(t), gapStatus: []string{"gap s3 1 1764547200 000000010000000000000070 000000010000000000000070\n"}}
	sum, err = Info(t.Context(), deps(cs, ex, io.Discard), InfoConfig{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if s3 := sum.Repositories[1]; len(s3.Gaps) != 1 || s3.RecoveryWindow == nil || s3.RecoveryWindow.ToWAL != "00000001000000000000006F" {
		t.Errorf("s3 with a gap: %+v", s3)
	}

	_, err = Info(t.Context(), deps(cs, ex, io.Discard), InfoConfig{Namespace: "ns", Cluster: "pg1", Set: "20990101-000000F"})
	if !errors.Is(err, ErrSetNotFound) || !strings.Contains(err.Error(), "existing sets: 20261125-002351F") {
		t.Errorf("err = %v", err)
	}
}

// TestArchiveListings: one repo-ls --recurse of the stanza's archive per repository, the current
// history's files kept; a repository whose listing fails is left out with a warning.
func TestArchiveListings(t *testing.T) {
	cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
	sum, err := Summarize(fixture(t), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	max1 := sum.Repositories[0].Archive.Max
	ex := &fakeExec{repoLs: map[string]string{"--repo=1": `{".":{"type":"path"},"15-1":{"type":"path"},` +
		`"15-1/0000000100000000/` + max1 + `-aa.gz":{"type":"file","size":10,"time":1764030000},` +
		`"14-1/0000000100000000/000000010000000000000001-bb.gz":{"type":"file","size":10,"time":1700000000}}`}}
	var errOut strings.Builder
	got, err := ArchiveListings(t.Context(), deps(cs, ex, &errOut), InfoConfig{Namespace: "ns", Cluster: "pg1"}, sum)
	if err != nil {
		t.Fatal(err)
	}
	if files := got[pgbackrest.Local]; len(files) != 1 || files[0].Name != "0000000100000000/"+max1+"-aa.gz" || files[0].Time.Unix() != 1764030000 {
		t.Errorf("local listing %+v", files)
	}
	if _, ok := got[pgbackrest.S3]; ok || !strings.Contains(errOut.String(), "warning: listing the WAL archive of s3 (repo2)") {
		t.Errorf("a failed listing: %v, stderr %q", got, errOut.String())
	}
	if len(ex.calls) != 2 {
		t.Fatalf("execs %q", ex.calls)
	}
	for i, c := range ex.calls {
		want := []string{"pgbackrest", fmt.Sprintf("--repo=%d", i+1), "--output=json", "--recurse", "repo-ls", "archive/db"}
		if !slices.Equal(c, want) {
			t.Errorf("exec %q, want %q", c, want)
		}
	}
}

func TestCheck(t *testing.T) {
	cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
	ex := &fakeExec{}
	res, err := Check(t.Context(), deps(cs, ex, io.Discard), CheckConfig{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Verdict(); got != "✓ archiving to local (repo1) works\n✓ archiving to s3 (repo2) works" || !res.OK {
		t.Errorf("verdict %q, ok %v", got, res.OK)
	}
	// Each repository is checked on its own: pgBackRest's check has no --repo.
	if got := ex.verbs(); !slices.Equal(got, []string{"--status", "check check-local", "check check-s3"}) {
		t.Errorf("execs %q", got)
	}
	ex = &fakeExec{checkOut: "ERROR: [082]: WAL segment 000000010000000000000004 was not archived before the 60000ms timeout\n       HINT: check the archive_command\n",
		checkErr: &kube.ExitError{Code: 82}}
	res, err = Check(t.Context(), deps(cs, ex, io.Discard), CheckConfig{Namespace: "ns", Cluster: "pg1", Storages: []pgbackrest.Storage{pgbackrest.S3}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Verdict(); got != "✗ archiving to s3 (repo2) fails: ERROR: [082]: WAL segment 000000010000000000000004 was not archived before the 60000ms timeout" || res.OK {
		t.Errorf("verdict %q, ok %v", got, res.OK)
	}
	if got := ex.verbs(); !slices.Equal(got, []string{"--status", "check check-s3"}) {
		t.Errorf("execs %q", got)
	}
}

// A gap left by an outage is filled before the check; one that stays is named with the backups
// it limits, and fails the check even when pushing works again.
func TestCheckReportsAndFillsGaps(t *testing.T) {
	cs := fake.NewClientset(objects(t, newSpec(pgbackrest.Local, pgbackrest.S3), true)...)
	gap := "gap s3 3 1764547200 000000010000000000000004 000000010000000000000006\nlog s3 archive-backfill.sh: pushing 000000010000000000000004 to s3 failed: the gap stays and is tried again\n"
	now := func() time.Time { return time.Unix(1764547200+600, 0) }

	// The backfill fills it: the check passes, having copied.
	ex := &fakeExec{gapStatus: []string{gap, ""}}
	d := deps(cs, ex, io.Discard)
	d.Now = now
	res, err := Check(t.Context(), d, CheckConfig{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || !slices.Equal(ex.verbs(), []string{"--status", "s3 30 0", "--status", "check check-local", "check check-s3"}) {
		t.Errorf("ok %v, execs %q, verdict %q", res.OK, ex.verbs(), res.Verdict())
	}

	// S3 is still down: the gap stays.
	ex = &fakeExec{gapStatus: []string{gap}, info: fixture(t)}
	d = deps(cs, ex, io.Discard)
	d.Now = now
	res, err = Check(t.Context(), d, CheckConfig{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Verdict()
	for _, want := range []string{
		"✓ archiving to local (repo1) works",
		"✗ archiving to s3 (repo2) fails: the segments below could not be copied there yet, and new segments wait behind them",
		"3 WAL segments 000000010000000000000004–000000010000000000000006 missing from s3 (repo2) since 10m ago, not yet copied there",
		"last backfill: archive-backfill.sh: pushing 000000010000000000000004 to s3 failed",
		"until the gap is filled, a restore from s3 (repo2) replays only up to WAL 000000010000000000000003: its backups 20261125-002351F", fixtureLabel[2],
	} {
		if !strings.Contains(v, want) {
			t.Errorf("verdict lacks %q:\n%s", want, v)
		}
	}
	if res.OK || res.Repositories[1].Gaps[0].Segments != 3 {
		t.Errorf("ok %v, %+v", res.OK, res.Repositories)
	}
	// pgBackRest's check of s3 would wait its whole archive-timeout behind the gap: not run.
	if got := ex.verbs(); slices.Contains(got, "check check-s3") || !slices.Contains(got, "check check-local") {
		t.Errorf("execs %q", got)
	}
}

// TestDetachScriptEndsWithTheCommand runs the wrapper in a real shell: the command's output comes
// through, its status is the script's, and nothing the script leaves behind keeps the stream open
// (the exec would then end only when that process does).
func TestDetachScriptEndsWithTheCommand(t *testing.T) {
	if _, err := exec.LookPath("tail"); err != nil {
		t.Skip("no tail on this machine")
	}
	run := func(script string) (string, error) {
		args := detached([]string{"sh", "-c", script})
		cmd := exec.Command(args[0], args[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// Shorter than the watchdog's sleep: a watchdog holding the stream makes Wait give up.
		cmd.WaitDelay = 3 * time.Second
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run("echo line one; echo line two >&2")
	if errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("the stream stayed open after the command ended: %v", err)
	}
	if err != nil || !strings.Contains(out, "line one\n") || !strings.Contains(out, "line two\n") {
		t.Fatalf("output %q, err %v; want both lines and no error", out, err)
	}
	_, err = run("exit 3")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
}
