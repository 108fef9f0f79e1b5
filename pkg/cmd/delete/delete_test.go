package deletecmd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/schedule"
)

const ns = "ns1"

// clusterObjects are the objects of cluster pg1 (local,s3), a restore Job, its Lease, another
// cluster's Deployment and the shared S3 Secret.
func clusterObjects(t *testing.T) []runtime.Object {
	t.Helper()
	spec := create.NewSpec(create.Config{Name: "pg1", Namespace: ns, Storages: []pgbackrest.Storage{pgbackrest.Local, pgbackrest.S3}, Image: "img"},
		cluster.S3{Bucket: "bkt", Endpoint: "e", Region: "r"})
	objs, err := create.Objects(spec, map[string][]byte{"ca.crt": []byte("x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := create.NewSpec(create.Config{Name: "pg2", Namespace: ns, Storages: []pgbackrest.Storage{pgbackrest.Local}, Image: "img"}, cluster.S3{})
	job := manifest.RestoreJob(spec, "20260102030405", "pg1-20260102030405", []string{"pgbackrest", "restore"})
	objs = append(objs, schedule.Objects(spec, schedule.CreateConfig{Namespace: ns, Cluster: "pg1", Type: "full",
		Storage: pgbackrest.Local, Cron: "0 1 * * 0", Image: "plugin"})...)
	objs = append(objs, manifest.ScheduleCronJob(schedule.Schedule{Namespace: ns, Cluster: "pg2", Type: "full", Storage: pgbackrest.Local, Cron: "0 1 * * 0"}))
	return append(objs,
		job,
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "pg1-pgbackrest", Namespace: ns, Labels: cluster.Labels("pg1", cluster.RoleBackup)}},
		manifest.PrimaryDeployment(other),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pgbackrest-s3", Namespace: ns}},
	)
}

func newOptions(t *testing.T, stdin string, tty bool) (*Options, *fake.Clientset, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	o := NewOptions(streams)
	o.Name, o.Namespace = "pg1", ns
	cs := fake.NewClientset(clusterObjects(t)...)
	o.Client = cs
	o.StdinIsTerminal = func() bool { return tty }
	o.Timeout = 10 * time.Second
	return o, cs, out, errOut
}

func deletes(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if a.GetVerb() == "delete" {
			out = append(out, a.GetResource().Resource+"/"+a.(interface{ GetName() string }).GetName())
		}
	}
	return out
}

func TestDeleteKeepsVolumes(t *testing.T) {
	o, cs, out, _ := newOptions(t, "", false)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "cronjobs/pg1-full-local deployments/pg1 deployments/pg1-backrest-shared-repo jobs/pg1-restore-20260102030405 services/pg1 " +
		"services/pg1-backrest-shared-repo networkpolicies/pg1 networkpolicies/pg1-backrest-shared-repo " +
		"leases/pg1-pgbackrest secrets/pg1-pgbackrest-tls rolebindings/pg1-pgbackrest-schedule roles/pg1-pgbackrest-schedule " +
		"serviceaccounts/pg1-pgbackrest-schedule configmaps/pg1-pgbackrest"
	if got := strings.Join(deletes(cs), " "); got != want {
		t.Errorf("deleted, in order:\n got %s\nwant %s", got, want)
	}
	for _, w := range []string{"deployment/pg1 deleted", "persistentvolumeclaim/pg1 (PostgreSQL data) kept",
		"persistentvolumeclaim/pg1-pgbr-repo (local repository", "secret/pgbackrest-s3 (S3 settings shared"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// Again: idempotent, the PVCs still listed as kept.
	cs.ClearActions()
	out.Reset()
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if d := deletes(cs); len(d) > 0 {
		t.Errorf("second delete deleted %q", d)
	}
	if !strings.Contains(out.String(), "persistentvolumeclaim/pg1 (PostgreSQL data) kept") {
		t.Errorf("second delete output:\n%s", out)
	}
}

func TestDeleteDataNeedsYesWithoutTerminal(t *testing.T) {
	o, cs, _, _ := newOptions(t, "", false)
	o.DeleteData = true
	err := o.Run(context.Background())
	if !errors.Is(err, ErrNeedsConfirmation) || exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("err = %v (exit %d)", err, exitcode.For(err))
	}
	if d := deletes(cs); len(d) > 0 {
		t.Errorf("deleted %q before confirmation", d)
	}
}

func TestDeleteDataConfirmation(t *testing.T) {
	cases := []struct {
		name, stdin string
		tty, yes    bool
		ok          bool
	}{
		{"typed name", "pg1\n", true, false, true},
		{"wrong name", "pg2\n", true, false, false},
		{"no answer", "", true, false, false},
		{"--yes", "", false, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, cs, _, _ := newOptions(t, c.stdin, c.tty)
			o.DeleteData, o.Yes = true, c.yes
			err := o.Run(context.Background())
			if !c.ok {
				if exitcode.For(err) != exitcode.UsageError || len(deletes(cs)) > 0 {
					t.Fatalf("err = %v, deletes %q", err, deletes(cs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := strings.Join(deletes(cs), " ")
			if !strings.HasSuffix(d, "persistentvolumeclaims/pg1 persistentvolumeclaims/pg1-pgbr-repo") {
				t.Errorf("deleted %s", d)
			}
			if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "pgbackrest-s3", metav1.GetOptions{}); err != nil {
				t.Errorf("S3 Secret deleted: %v", err)
			}
		})
	}
}

func TestDeleteDryRun(t *testing.T) {
	o, cs, out, _ := newOptions(t, "", false)
	o.DryRun, o.DeleteData = DryRunClient, true
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := deletes(cs); len(d) > 0 {
		t.Errorf("dry run deleted %q", d)
	}
	if !strings.Contains(out.String(), "persistentvolumeclaim/pg1 deleted (dry run)") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDeleteUnknown(t *testing.T) {
	o, cs, _, errOut := newOptions(t, "", false)
	o.Name = "nope"
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(deletes(cs)) > 0 || !strings.Contains(errOut.String(), "clusters there: pg1") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestValidate(t *testing.T) {
	o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name, o.DryRun = "Bad_Name", "server"
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "invalid cluster NAME") || !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("err = %v", err)
	}
}

// Deleting a cluster under a half-done restore leaves neither the old cluster nor the restored
// one: it is refused (exit 2) before anything is deleted, naming the restore.
func TestDeleteRefusedMidRestore(t *testing.T) {
	o, cs, _, _ := newOptions(t, "", false)
	ctx := context.Background()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[cluster.AnnotationRestoreID] = "20260102030405"
	cm.Annotations[cluster.AnnotationRestoreTarget] = "storage=s3 type=default"
	cm.Annotations[cluster.AnnotationRestorePhase] = "restore-job"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err = o.Run(ctx)
	if !errors.Is(err, cluster.ErrRestoreInProgress) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want ErrRestoreInProgress, exit 2", err, exitcode.For(err))
	}
	if !strings.Contains(err.Error(), "restore 20260102030405") || !strings.Contains(err.Error(), "kubectl pgbackrest restore pg1 -n ns1 --storage=s3") {
		t.Errorf("message: %v", err)
	}
	if d := deletes(cs); len(d) > 0 {
		t.Errorf("deleted %q", d)
	}
}
