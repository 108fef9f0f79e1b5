package create

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// foreignObjects are another application's objects that happen to have the names of cluster
// "orders": its Service and Deployment, and a TLS Secret someone planted.
func foreignObjects() []runtime.Object {
	app := map[string]string{"app": "orders"}
	return []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns, Labels: app},
			Spec: corev1.ServiceSpec{Selector: app}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns, Labels: app},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: app}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orders-pgbackrest-tls", Namespace: ns},
			Data: map[string][]byte{"ca.crt": []byte("planted")}},
	}
}

// The finding: create applied its Service and Deployment over another application's (replacing
// their selectors) and trusted a pre-planted TLS Secret. Now it reads every name first and refuses
// (exit 2) naming each foreign object, having written nothing.
func TestCreateRefusesForeignObjects(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, foreignObjects()...)
	cfg := config(pgbackrest.Local)
	cfg.Name = "orders"
	r := &reporter{}
	_, err := Run(ctx, deps(cs, &fakeExec{}, r), cfg)
	if !errors.Is(err, cluster.ErrNotOurs) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want a refusal, exit 2", err, exitcode.For(err))
	}
	for _, want := range []string{
		"cannot create cluster orders in namespace ns1: 3 object(s) of its names are not its own",
		"deployment/orders exists and is not managed by kubectl-pgbackrest (label app.kubernetes.io/managed-by=kubectl-pgbackrest missing)",
		"service/orders exists",
		"secret/orders-pgbackrest-tls exists",
		"nothing was changed; choose another cluster name",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("refused create wrote %q", w)
	}
	if len(r.lines) > 0 {
		t.Errorf("steps ran: %q", r.lines)
	}
	svc, _ := cs.CoreV1().Services(ns).Get(ctx, "orders", metav1.GetOptions{})
	if len(svc.Spec.Selector) != 1 || svc.Spec.Selector["app"] != "orders" {
		t.Errorf("foreign Service selector = %v", svc.Spec.Selector)
	}
}

// Derived names of two clusters can collide: cluster "pg" has a repository host
// "pg-backrest-shared-repo", which is the primary's name of a cluster "pg-backrest-shared-repo".
// Those objects are the plugin's, but another cluster's: refused by the instance label.
func TestCreateRefusesAnotherClustersObjects(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), config(pgbackrest.Local)); err != nil {
		t.Fatal(err)
	}
	cs.ClearActions()
	cfg := config(pgbackrest.Local)
	cfg.Name = "pg1-backrest-shared-repo"
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg)
	if exitcode.For(err) != exitcode.UsageError ||
		!strings.Contains(err.Error(), `deployment/pg1-backrest-shared-repo exists and belongs to "pg1", not "pg1-backrest-shared-repo"`) ||
		!strings.Contains(err.Error(), "service/pg1-backrest-shared-repo exists and belongs to") {
		t.Fatalf("err = %v (exit %d)", err, exitcode.For(err))
	}
	if w := writes(cs); len(w) > 0 {
		t.Errorf("refused create wrote %q", w)
	}
}

// The server dry run reads like a real create, so it refuses the same way.
func TestPrepareRefusesForeignObjects(t *testing.T) {
	cs := newClient(t, foreignObjects()[2])
	cfg := config(pgbackrest.Local)
	cfg.Name = "orders"
	_, _, err := Prepare(context.Background(), cs, cfg)
	if exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "secret/orders-pgbackrest-tls exists") {
		t.Fatalf("err = %v", err)
	}
}

// A TLS Secret planted between the check and the step (or left by another cluster) is not
// counted as the step done: the certificates the pods trust are the cluster's own.
func TestSecretStepRefusesForeignSecret(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t, foreignObjects()[2])
	cfg := config(pgbackrest.Local)
	cfg.Name = "orders"
	w := &run{deps: deps(cs, &fakeExec{}, &reporter{}), spec: NewSpec(cfg, cluster.S3{})}
	if done, err := w.secretDone(ctx); !errors.Is(err, cluster.ErrNotOurs) || done {
		t.Errorf("secretDone = %v, %v; want a refusal", done, err)
	}
	if err := w.createSecret(ctx); !errors.Is(err, cluster.ErrNotOurs) {
		t.Errorf("createSecret over a planted Secret: %v; want a refusal", err)
	}
}
