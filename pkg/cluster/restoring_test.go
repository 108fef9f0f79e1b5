package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRestoreFlags(t *testing.T) {
	tests := []struct{ canonical, want string }{
		{"storage=local type=default", "--storage=local"},
		{"storage=s3 type=time target=2026-11-25 10:00:00+00 action=promote",
			`--storage=s3 --target-time="2026-11-25 10:00:00+00" --target-action=promote`},
		{"storage=local type=immediate set=20261125-010000F", "--storage=local --target-immediate --set=20261125-010000F"},
		{"storage=local type=lsn target=0/4B000028 timeline=2 exclusive action=pause",
			"--storage=local --target-lsn=0/4B000028 --target-timeline=2 --target-exclusive --target-action=pause"},
		{"storage=local type=name target=before the migration action=promote",
			`--storage=local --target-name="before the migration" --target-action=promote`},
		{"storage=local type=xid target=1234", "--storage=local --target-xid=1234"},
	}
	for _, tt := range tests {
		if got := RestoreFlags(tt.canonical); got != tt.want {
			t.Errorf("RestoreFlags(%q)\n got %s\nwant %s", tt.canonical, got, tt.want)
		}
	}
}

func restoringCM(ann map[string]string) *corev1.ConfigMap {
	l := Labels("db", RoleConfig)
	l[LabelCluster] = "true"
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "db-pgbackrest", Namespace: "prod", Labels: l, Annotations: ann},
		Data:       map[string]string{SpecKey: `{"name":"db"}`},
	}
}

func TestCheckNoRestore(t *testing.T) {
	if err := CheckNoRestore(restoringCM(map[string]string{"pgbackrest.dev/last-restore-id": "x"}), "create"); err != nil {
		t.Errorf("no restore in progress: %v", err)
	}
	if err := CheckNoRestore(nil, "create"); err != nil {
		t.Errorf("no ConfigMap: %v", err)
	}
	cm := restoringCM(map[string]string{
		AnnotationRestoreID: "20261125010000", AnnotationRestoreTarget: "storage=s3 type=time target=2026-11-25 10:00:00+00 action=promote",
		AnnotationRestorePhase: "restore-job", AnnotationRestorePVC: "db-20261125010000",
	})
	err := CheckNoRestore(cm, "create")
	if !errors.Is(err, ErrRestoreInProgress) {
		t.Fatalf("err = %v, want ErrRestoreInProgress", err)
	}
	for _, want := range []string{
		"create of cluster db refused",
		`restore 20261125010000 (--storage=s3 --target-time="2026-11-25 10:00:00+00" --target-action=promote) is in progress`,
		`phase "restore-job"`,
		`kubectl pgbackrest restore db -n prod --storage=s3 --target-time="2026-11-25 10:00:00+00" --target-action=promote`,
		"--abandon",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
}

func TestRefuseMidRestore(t *testing.T) {
	ctx := context.Background()
	if err := RefuseMidRestore(ctx, fake.NewClientset(), "prod", "db", "backup"); err != nil {
		t.Errorf("missing cluster: %v", err)
	}
}
