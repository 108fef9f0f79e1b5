package status

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// fakeExec answers the two execs of Gather by container and counts them.
type fakeExec struct {
	mu            sync.Mutex
	primary, repo string
	execs         []string
}

var _ kube.Executor = (*fakeExec)(nil)

func (f *fakeExec) Exec(_ context.Context, _, pod, container string, _ []string, _ io.Reader, stdout, _ io.Writer) error {
	f.mu.Lock()
	f.execs = append(f.execs, pod+"/"+container)
	f.mu.Unlock()
	if container == manifest.ContainerPostgres {
		_, err := io.WriteString(stdout, f.primary)
		return err
	}
	_, err := io.WriteString(stdout, f.repo)
	return err
}

func TestGather(t *testing.T) {
	spec := cluster.New("pg1", "ns")
	spec.Storages = []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}
	spec.Image = "img:test"
	spec.S3 = cluster.S3{Bucket: "bkt", Endpoint: "s3.example", Region: "us-east-1", URIStyle: "path", VerifyTLS: true}
	data, err := spec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	l := cluster.Labels("pg1", cluster.RoleConfig)
	l[cluster.LabelCluster] = "true"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: spec.Names().ConfigMap(), Namespace: "ns", Labels: l,
		Annotations: map[string]string{cluster.AnnotationRestoreID: "20261202-1", cluster.AnnotationRestorePhase: "job"}},
		Data: map[string]string{cluster.SpecKey: data}}
	pod := func(name string, role cluster.Role) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: cluster.Labels("pg1", role)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	}
	cs := fake.NewClientset(cm, pod("pg1-abc", cluster.RolePrimary), pod("pg1-backrest-shared-repo-abc", cluster.RoleRepo))
	info, err := os.ReadFile("../pgbackrest/testdata/pgbackrest-2.55-info-two-repos.json")
	if err != nil {
		t.Fatal(err)
	}
	ex := &fakeExec{
		primary: "version=17.2\ninRecovery=false\nlsn=0/7000060\ntimeline=2\nwalBytes=48\narchivedCount=6\nlastArchivedWAL=000000020000000000000006\n" +
			"lastArchivedTime=1764664000\nfailedCount=0\nlastFailedWAL=\nlastFailedTime=\nnow=1764664010\nready=0\ndataSize=1000\ndataUsed=100\n",
		repo: "== repo1 0\n" + string(info) + "\n== repo2 124\n\nstderr: ERROR: [104]: timed out\n== df 2000 500\n",
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	st, err := Gather(context.Background(), Deps{Client: cs, Exec: ex, Now: func() time.Time { return now }},
		Config{Namespace: "ns", Cluster: "pg1"})
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Primary; p.Pod != "pg1-abc" || !p.Ready || p.Timeline != 2 || p.Version != "17.2" {
		t.Errorf("primary %+v", p)
	}
	local, s3 := st.Repositories[0], st.Repositories[1]
	if local.Storage != pgbackrest.Local || local.Error != "" || local.Backups == 0 || local.LastFull == nil || local.RecoveryWindow == nil ||
		local.VolumeSizeBytes != 2000 || local.VolumeUsedBytes != 500 || local.Retention.Full != cluster.DefaultRetentionFull {
		t.Errorf("local %+v", local)
	}
	if s3.Storage != pgbackrest.S3 || !strings.Contains(s3.Error, "did not answer") || s3.VolumeSizeBytes != 0 {
		t.Errorf("s3 %+v", s3)
	}
	if st.Restore == nil || st.Restore.Phase != "job" {
		t.Errorf("restore %+v", st.Restore)
	}
	if st.Healthy || !slices.ContainsFunc(st.Problems, func(p Problem) bool { return p.Check == "repository" && p.Storage == pgbackrest.S3 }) {
		t.Errorf("problems %+v", st.Problems)
	}
	if st.Backups() == nil || len(st.Backups().Repositories) != 1 {
		t.Errorf("Backups() %+v", st.Backups())
	}
	// One exec in each pod, and one API read of each kind.
	slices.Sort(ex.execs)
	if strings.Join(ex.execs, ",") != "pg1-abc/postgres,pg1-backrest-shared-repo-abc/"+manifest.ContainerPGBackRest {
		t.Errorf("execs %v", ex.execs)
	}
	var calls []string
	for _, a := range cs.Actions() {
		calls = append(calls, a.GetVerb()+" "+a.GetResource().Resource)
	}
	slices.Sort(calls)
	if want := "get configmaps,get leases,get secrets,list cronjobs,list pods"; strings.Join(calls, ",") != want {
		t.Errorf("API calls %v, want %s", calls, want)
	}
}

func TestSchedules(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	yes := true
	cj := func(name, typ, sched string, uid string, suspend *bool) batchv1.CronJob {
		return batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid), Labels: cluster.ScheduleLabels("pg1", typ, pgbackrest.Local)},
			Spec: batchv1.CronJobSpec{Schedule: sched, Suspend: suspend}}
	}
	job := func(name, owner string, at time.Time, cond batchv1.JobConditionType) batchv1.Job {
		j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(at),
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", UID: types.UID(owner)}}}}
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		}
		return j
	}
	got := Schedules(
		[]batchv1.CronJob{cj("pg1-incr-local", "incr", "0 * * * *", "b", &yes), cj("pg1-full-local", "full", "0 1 * * 0", "a", nil)},
		[]batchv1.Job{job("f1", "a", now.Add(-2*time.Hour), batchv1.JobComplete), job("f2", "a", now.Add(-time.Hour), batchv1.JobFailed),
			job("i1", "b", now.Add(-time.Minute), "")}, now)
	if len(got) != 2 || got[0].Name != "pg1-full-local" || got[0].Type != "full" || got[0].Period.Seconds != 7*24*3600 ||
		got[0].LastJob != "f2" || got[0].LastResult != "failed" || got[0].Suspended {
		t.Errorf("full: %+v", got[0])
	}
	if got[1].LastJob != "i1" || got[1].LastResult != "running" || !got[1].Suspended || got[1].Period.Seconds != 3600 {
		t.Errorf("incr: %+v", got[1])
	}
}
