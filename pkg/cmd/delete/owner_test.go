package deletecmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// withUIDs gives every object a UID ("uid-" and its name), as the API server does.
func withUIDs(t *testing.T, objs []runtime.Object) []runtime.Object {
	t.Helper()
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		m.SetUID(types.UID("uid-" + m.GetName()))
	}
	return objs
}

func foreignService(name string) *corev1.Service {
	app := map[string]string{"app": "orders"}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: app}, Spec: corev1.ServiceSpec{Selector: app}}
}

func foreignDeployment(name string) *appsv1.Deployment {
	app := map[string]string{"app": "orders"}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: app},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: app}}}
}

// checkPreconditions fails unless every delete the fake saw is conditional on the UID of the
// object it names.
func checkPreconditions(t *testing.T, cs *fake.Clientset) {
	t.Helper()
	for _, a := range cs.Actions() {
		d, ok := a.(k8stesting.DeleteAction)
		if !ok {
			continue
		}
		p := d.GetDeleteOptions().Preconditions
		if p == nil || p.UID == nil || string(*p.UID) != "uid-"+d.GetName() {
			t.Errorf("delete %s/%s without its UID precondition: %+v", d.GetResource().Resource, d.GetName(), p)
		}
	}
}

// The finding: `delete NAME` deleted a Deployment and Service of that name even when no cluster
// existed. Now it refuses (exit 2) naming them, and --force deletes only what is labelled as the
// cluster's.
func TestDeleteWithoutClusterRefuses(t *testing.T) {
	ctx := context.Background()
	leftover := foreignDeployment("orders-backrest-shared-repo")
	leftover.Labels = cluster.Labels("orders", cluster.RoleRepo)
	cs := fake.NewClientset(withUIDs(t, []runtime.Object{foreignService("orders"), foreignDeployment("orders"), leftover})...)
	o, _, out, _ := newOptions(t, "", false)
	o.Client, o.Name = cs, "orders"

	err := o.Run(ctx)
	if !errors.Is(err, ErrNoCluster) || exitcode.For(err) != exitcode.UsageError {
		t.Fatalf("err = %v (exit %d), want ErrNoCluster, exit 2", err, exitcode.For(err))
	}
	for _, want := range []string{
		"cluster orders has no ConfigMap orders-pgbackrest in namespace ns1, so nothing was deleted",
		"deployment/orders (not cluster orders's: label app.kubernetes.io/managed-by=kubectl-pgbackrest missing): never deleted",
		"service/orders (not cluster orders's",
		"deployment/orders-backrest-shared-repo: labelled as cluster orders's; --force deletes it",
		"kubectl pgbackrest delete orders -n ns1 --force",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if d := deletes(cs); len(d) > 0 {
		t.Fatalf("refused delete deleted %q", d)
	}

	o.Force = true
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(deletes(cs), " "); d != "deployments/orders-backrest-shared-repo" {
		t.Errorf("--force deleted %q, want only the labelled Deployment", d)
	}
	checkPreconditions(t, cs)
	for _, want := range []string{"service/orders (not cluster orders's: label app.kubernetes.io/managed-by=kubectl-pgbackrest missing) kept",
		"deployment/orders (not cluster orders's"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "orders", metav1.GetOptions{}); err != nil {
		t.Errorf("foreign Service: %v", err)
	}
}

// Only foreign objects and no cluster: refused, and nothing of the plugin's to offer --force for.
func TestDeleteOnlyForeign(t *testing.T) {
	cs := fake.NewClientset(foreignService("orders"))
	o, _, _, _ := newOptions(t, "", false)
	o.Client, o.Name = cs, "orders"
	err := o.Run(context.Background())
	if exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "none of these objects is the plugin's") || len(deletes(cs)) > 0 {
		t.Fatalf("err = %v, deletes %q", err, deletes(cs))
	}
}

// A cluster whose primary Service was replaced by another application's, and whose spec names a
// data PVC that is not labelled as the cluster's: both are kept, even with --delete-data; every
// other delete is conditional on the UID that was checked.
func TestDeleteKeepsForeignObjectsOfACluster(t *testing.T) {
	ctx := context.Background()
	var objs []runtime.Object
	for _, obj := range clusterObjects(t) {
		m, _ := meta.Accessor(obj)
		_, isSvc := obj.(*corev1.Service)
		_, isPVC := obj.(*corev1.PersistentVolumeClaim)
		switch {
		case isSvc && m.GetName() == "pg1":
			obj = foreignService("pg1")
		case isPVC && m.GetName() == "pg1":
			m.SetLabels(map[string]string{"app": "orders"})
		}
		objs = append(objs, obj)
	}
	cs := fake.NewClientset(withUIDs(t, objs)...)
	o, _, out, _ := newOptions(t, "", false)
	o.Client, o.DeleteData, o.Yes = cs, true, true
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	d := strings.Join(deletes(cs), " ")
	if strings.Contains(d, "services/pg1 ") || strings.Contains(d, "persistentvolumeclaims/pg1 ") || strings.HasSuffix(d, "persistentvolumeclaims/pg1") {
		t.Errorf("deleted a foreign object: %s", d)
	}
	if !strings.Contains(d, "services/pg1-backrest-shared-repo") || !strings.Contains(d, "persistentvolumeclaims/pg1-pgbr-repo") {
		t.Errorf("deleted %s", d)
	}
	checkPreconditions(t, cs)
	for _, want := range []string{"service/pg1 (not cluster pg1's", "persistentvolumeclaim/pg1 (not cluster pg1's"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
