package psql

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		atDash   int
		cluster  string
		psqlArgs []string
		wantErr  string
	}{
		{name: "cluster only", args: []string{"mydb"}, atDash: -1, cluster: "mydb"},
		{name: "psql args", args: []string{"mydb", "-At", "-c", "select 1"}, atDash: 1, cluster: "mydb", psqlArgs: []string{"-At", "-c", "select 1"}},
		{name: "none", args: nil, atDash: -1, wantErr: "needs the cluster's name"},
		{name: "dash first", args: []string{"-c"}, atDash: 0, wantErr: "needs the cluster's name"},
		{name: "two", args: []string{"mydb", "select"}, atDash: -1, wantErr: "after --, as in kubectl pgbackrest psql mydb -- select"},
		{name: "bad name", args: []string{"My_DB"}, atDash: -1, wantErr: `CLUSTER "My_DB" is not a valid name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{}
			err := o.Parse(tt.args, tt.atDash)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitcode.For(err) != exitcode.UsageError {
					t.Fatalf("Parse(%q) = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || o.Cluster != tt.cluster || !slices.Equal(o.Args, tt.psqlArgs) {
				t.Fatalf("Parse(%q) = %v: cluster %q args %q", tt.args, err, o.Cluster, o.Args)
			}
		})
	}
}

type recorder struct {
	pod, container string
	cmd            []string
	err            error
}

func (r *recorder) Run(_ context.Context, _, pod, container string, cmd []string) error {
	r.pod, r.container, r.cmd = pod, container, cmd
	return r.err
}

func primaryPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db", Labels: cluster.Labels("mydb", cluster.RolePrimary)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func TestRunExecsPsqlInThePrimary(t *testing.T) {
	r := &recorder{}
	o := &Options{Cluster: "mydb", Namespace: "db", Args: []string{"-d", "app", "-c", "select 1"},
		client: fake.NewClientset(primaryPod("mydb-abc")), runner: r}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"psql", "-h", cluster.SocketDir, "-U", "postgres", "-d", "postgres", "-d", "app", "-c", "select 1"}
	if r.pod != "mydb-abc" || r.container != "postgres" || !slices.Equal(r.cmd, want) {
		t.Fatalf("ran %q in %s/%s, want %q in mydb-abc/postgres", r.cmd, r.pod, r.container, want)
	}
}

func TestRunPassesPsqlExitStatus(t *testing.T) {
	r := &recorder{err: &kube.ExitError{Code: 3, Command: []string{"psql"}}}
	o := &Options{Cluster: "mydb", Namespace: "db", client: fake.NewClientset(primaryPod("mydb-abc")), runner: r}
	err := o.Run(context.Background())
	if exitcode.For(err) != 3 || !strings.Contains(err.Error(), "exited with status 3") {
		t.Fatalf("Run = %v (exit %d), want psql's status 3", err, exitcode.For(err))
	}
}

func TestRunWithoutPrimary(t *testing.T) {
	r := &recorder{}
	o := &Options{Cluster: "mydb", Namespace: "db", client: fake.NewClientset(), runner: r}
	err := o.Run(context.Background())
	if !errors.Is(err, cluster.ErrNoPod) || r.cmd != nil {
		t.Fatalf("Run = %v, ran %q; want ErrNoPod and nothing run", err, r.cmd)
	}
}
