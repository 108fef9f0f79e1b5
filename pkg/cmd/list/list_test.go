package list

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clusterObjects(t *testing.T, ns, name string, created, ready bool, storages ...pgbackrest.Storage) []runtime.Object {
	t.Helper()
	spec := create.NewSpec(create.Config{Name: name, Namespace: ns, Storages: storages, Image: "img:" + name},
		cluster.S3{Bucket: "bkt", Endpoint: "e", Region: "r"})
	cm, err := manifest.ConfigMap(spec, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cm.CreationTimestamp = metav1.NewTime(t0.Add(-2 * time.Hour))
	if created {
		cm.Annotations = map[string]string{create.AnnotationCreatedAt: t0.Format(time.RFC3339)}
	}
	d := manifest.PrimaryDeployment(spec)
	if ready {
		d.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	}
	return []runtime.Object{cm, d}
}

func TestListThreeCallsAndStates(t *testing.T) {
	var objs []runtime.Object
	objs = append(objs, clusterObjects(t, "a", "pg2", true, true, pgbackrest.Local, pgbackrest.S3)...)
	objs = append(objs, clusterObjects(t, "a", "pg1", false, false, pgbackrest.Local)...)
	objs = append(objs, clusterObjects(t, "b", "other", true, true, pgbackrest.S3)[0]) // Deployment gone
	objs = append(objs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "a"}})
	cs := fake.NewClientset(objs...)

	got, err := Collect(context.Background(), cs, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cs.Actions()); n != 3 {
		t.Errorf("%d API calls, want 3 (one List of ConfigMaps, one of Deployments, one of Secrets)", n)
	}
	want := []struct{ ns, name, storage, primary string }{
		{"a", "pg1", "local", PrimaryNotReady},
		{"a", "pg2", "local,s3", PrimaryReady},
		{"b", "other", "s3", PrimaryMissing},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d clusters: %+v", len(got), got)
	}
	for i, w := range want {
		c := got[i]
		if c.Namespace != w.ns || c.Name != w.name || strings.Join(c.Storage, ",") != w.storage || c.Primary != w.primary {
			t.Errorf("cluster %d = %+v, want %+v", i, c, w)
		}
	}
	if got[0].Created || !got[1].Created {
		t.Errorf("created flags: %v %v", got[0].Created, got[1].Created)
	}
}

func run(t *testing.T, o *Options) string {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return o.Out.(interface{ String() string }).String()
}

func newOptions(objs ...runtime.Object) *Options {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewOptions(streams)
	o.Client = fake.NewClientset(objs...)
	o.Namespace = "a"
	o.Now = func() time.Time { return t0 }
	return o
}

func TestListOutputs(t *testing.T) {
	objs := append(clusterObjects(t, "a", "pg1", true, true, pgbackrest.Local), clusterObjects(t, "b", "x", true, false, pgbackrest.S3)...)

	o := newOptions(objs...)
	out := run(t, o)
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "pg1") || strings.Contains(out, "x ") ||
		!strings.Contains(out, "ready") || !strings.Contains(out, "120m") || strings.Contains(out, "IMAGE") {
		t.Errorf("table:\n%s", out)
	}

	o = newOptions(objs...)
	o.AllNamespaces, o.Output = true, "wide"
	out = run(t, o)
	for _, w := range []string{"NAMESPACE", "IMAGE", "DATA PVC", "img:pg1", "not ready", "b "} {
		if !strings.Contains(out, w) {
			t.Errorf("wide table lacks %q:\n%s", w, out)
		}
	}

	o = newOptions(objs...)
	o.Output = "json"
	out = run(t, o)
	var res struct {
		Clusters []map[string]any `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Clusters) != 1 || res.Clusters[0]["name"] != "pg1" || res.Clusters[0]["primary"] != "ready" {
		t.Errorf("json: %s", out)
	}

	o = newOptions()
	o.Output = "json"
	if out = run(t, o); !strings.Contains(out, `"clusters": []`) {
		t.Errorf("empty json: %s", out)
	}
}

func TestValidateOutput(t *testing.T) {
	for _, ok := range []string{"", "wide", "json", "yaml"} {
		if err := (&Options{Output: ok}).Validate(); err != nil {
			t.Errorf("-o %q: %v", ok, err)
		}
	}
	err := (&Options{Output: "name"}).Validate()
	if err == nil || !strings.Contains(err.Error(), "-o/--output") {
		t.Errorf("-o name: %v", err)
	}
}

// tlsSecret is cluster name's TLS Secret with certificates valid for validity from t0.
func tlsSecret(t *testing.T, ns, name string, validity time.Duration) *corev1.Secret {
	t.Helper()
	spec := create.NewSpec(create.Config{Name: name, Namespace: ns, Storages: []pgbackrest.Storage{pgbackrest.Local}}, cluster.S3{})
	tls, err := create.GenerateCerts(spec, t0)
	if err != nil {
		t.Fatal(err)
	}
	if validity != certs.DefaultValidity {
		b, err := certs.Generate([]string{name}, certs.ClientCN, t0, validity)
		if err != nil {
			t.Fatal(err)
		}
		tls = b.SecretData()
	}
	return manifest.TLSSecret(spec, tls)
}

func TestListCertificates(t *testing.T) {
	objs := append(clusterObjects(t, "a", "pg1", true, true, pgbackrest.Local), tlsSecret(t, "a", "pg1", 10*24*time.Hour))
	objs = append(objs, clusterObjects(t, "a", "pg2", true, true, pgbackrest.Local)...)
	objs = append(objs, tlsSecret(t, "a", "pg2", certs.DefaultValidity))
	o := newOptions(objs...)
	o.Output = "json"
	out := run(t, o)
	var res struct {
		Clusters []struct {
			Name                 string     `json:"name"`
			CertificatesNotAfter *time.Time `json:"certificatesNotAfter"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Clusters) != 2 || res.Clusters[0].CertificatesNotAfter == nil ||
		!res.Clusters[0].CertificatesNotAfter.Equal(t0.Add(10*24*time.Hour)) {
		t.Fatalf("json: %s", out)
	}
	stderr := o.ErrOut.(interface{ String() string }).String()
	if !strings.Contains(stderr, "warning: the pgBackRest TLS certificates of cluster pg1 expire") ||
		!strings.Contains(stderr, "in 10 day(s)") || !strings.Contains(stderr, "rotate-certs pg1") {
		t.Errorf("no expiry warning for pg1 on stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "pg2") {
		t.Errorf("a warning for pg2, valid a year:\n%s", stderr)
	}

	// Without permission to list Secrets: no column, no error.
	o = newOptions(objs...)
	o.Output = "json"
	o.Client.(*fake.Clientset).PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("no"))
	})
	if out := run(t, o); !strings.Contains(out, `"certificatesNotAfter": null`) {
		t.Errorf("json without Secrets: %s", out)
	}
}

// A pinned cluster shows the digest its pods run: the start in the wide table, all of it in json.
func TestListShowsThePin(t *testing.T) {
	objs := clusterObjects(t, "a", "pg1", true, true, pgbackrest.Local)
	cm := objs[0].(*corev1.ConfigMap)
	spec, err := cluster.Parse(cm.Data[cluster.SpecKey], "a")
	if err != nil {
		t.Fatal(err)
	}
	spec.ImageDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if cm.Data[cluster.SpecKey], err = spec.JSON(); err != nil {
		t.Fatal(err)
	}
	o := newOptions(objs...)
	o.Output = "wide"
	if out := run(t, o); !strings.Contains(out, "DIGEST") || !strings.Contains(out, "sha256:0123456789ab ") {
		t.Errorf("wide table lacks the digest:\n%s", out)
	}
	o = newOptions(objs...)
	o.Output = "json"
	if out := run(t, o); !strings.Contains(out, `"pinnedImage": "img@`+spec.ImageDigest+`"`) {
		t.Errorf("json lacks pinnedImage:\n%s", out)
	}
}
