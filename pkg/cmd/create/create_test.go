package create

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

func valid() *Options {
	o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name = "pg1"
	return o
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Options)
		want []string // substrings of the error; none means valid
	}{
		{"defaults", func(*Options) {}, nil},
		{"local,s3 and every flag", func(o *Options) {
			o.Storage, o.StorageClass, o.NodeLabels, o.DryRun, o.Output = "s3,local", "fast", []string{"disk=ssd"}, "client", "yaml"
		}, nil},
		{"name not DNS-1123", func(o *Options) { o.Name = "PG_1" }, []string{"invalid cluster NAME", "lowercase"}},
		{"name too long", func(o *Options) { o.Name = strings.Repeat("a", 41) }, []string{"41 characters", "at most 40"}},
		{"missing name", func(o *Options) { o.Name = "" }, []string{"missing cluster NAME"}},
		{"unknown storage", func(o *Options) { o.Storage = "gcs" }, []string{"--storage", "local, s3 or local,s3"}},
		{"empty storage", func(o *Options) { o.Storage = "" }, []string{"--storage"}},
		{"malformed node label", func(o *Options) { o.NodeLabels = []string{"disk"} }, []string{"--node-label", "key=value"}},
		{"bad node label key", func(o *Options) { o.NodeLabels = []string{"-x=y"} }, []string{"--node-label"}},
		{"node label key twice", func(o *Options) { o.NodeLabels = []string{"a=1", "a=2"} }, []string{`--node-label "a=2"`, "give the key once"}},
		{"malformed pgdata size", func(o *Options) { o.PGDataSize = "10GB" }, []string{"--pgdata-size", "10Gi"}},
		{"negative repo size", func(o *Options) { o.RepoSize = "-1Gi" }, []string{"--repo-size", "positive"}},
		{"bad output", func(o *Options) { o.Output = "wide" }, []string{"-o/--output", "yaml or json"}},
		{"bad dry-run", func(o *Options) { o.DryRun = "yes" }, []string{"--dry-run", "none, client or server"}},
		{"bad s3 secret", func(o *Options) { o.Storage, o.S3Secret = "s3", "Bad_Name" }, []string{"--s3-secret"}},
		{"no image: the default", func(o *Options) { o.Image = "" }, nil},
		{"empty --image", func(o *Options) { o.Image, o.Changed = "", func(f string) bool { return f == "image" } },
			[]string{`invalid --image ""`, "ghcr.io/kubectl-pgbackrest/postgres:17-dev", "leave --image out"}},
		{"image with a space", func(o *Options) { o.Image = "a b" }, []string{`invalid --image "a b"`}},
		{"schedules", func(o *Options) { o.ScheduleFull, o.ScheduleIncr = "0 1 * * 0", "@daily" }, nil},
		{"bad --schedule-diff", func(o *Options) { o.ScheduleDiff = "0 1 * *" }, []string{"invalid --schedule-diff", "want 5 fields"}},
		{"pg 15", func(o *Options) { o.PGVersion = 15 }, nil},
		{"pg 17", func(o *Options) { o.PGVersion = 17 }, nil},
		{"pg 16 has no image", func(o *Options) { o.PGVersion = 16 }, []string{"invalid --pg-version 16", "use 15 or 17"}},
		{"pg 13", func(o *Options) { o.PGVersion = 13 }, []string{"invalid --pg-version 13", "use 15 or 17"}},
		{"pg 18", func(o *Options) { o.PGVersion = 18 }, []string{"invalid --pg-version 18", "use 15 or 17"}},
		{"pg 0", func(o *Options) { o.PGVersion = 0 }, []string{"invalid --pg-version 0", "use 15 or 17"}},
		{"zero timeout", func(o *Options) { o.Timeout = 0 }, []string{"--timeout"}},
		{"cpu and memory", func(o *Options) { o.CPU, o.Memory = "500m:2", "1Gi" }, nil},
		{"memory 1x", func(o *Options) { o.Memory = "1x" }, []string{`invalid --memory "1x"`, "REQUEST[:LIMIT]", "1Gi:2Gi"}},
		{"cpu limit below request", func(o *Options) { o.CPU = "2:1" }, []string{"invalid --cpu", "below the request"}},
		{"storage class", func(o *Options) { o.StorageClass = "Fast Disks" }, []string{"--storage-class"}},
		{"archive backlog", func(o *Options) { o.PGDataSize, o.ArchiveBacklogMax = "1Gi", "512Mi" }, nil},
		{"archive backlog over half the volume", func(o *Options) { o.PGDataSize, o.ArchiveBacklogMax = "1Gi", "600Mi" },
			[]string{"--archive-backlog-max", "at most half of --pgdata-size 1Gi (512Mi)"}},
		{"archive backlog under two segments", func(o *Options) { o.ArchiveBacklogMax = "16Mi" }, []string{"--archive-backlog-max", "at least 32Mi"}},
		{"archive backlog malformed", func(o *Options) { o.ArchiveBacklogMax = "lots" }, []string{"--archive-backlog-max", "10Gi"}},
		{"run as a uid", func(o *Options) { o.RunAsUser = "1000680000" }, nil},
		{"run as the largest uid", func(o *Options) { o.RunAsUser = "2147483647" }, nil},
		{"run as root", func(o *Options) { o.RunAsUser = "0" }, []string{"--run-as-user", "auto", "1 to 2147483647", "root"}},
		{"run as a negative uid", func(o *Options) { o.RunAsUser = "-5" }, []string{"--run-as-user"}},
		{"run as a uid past int32", func(o *Options) { o.RunAsUser = "2147483648" }, []string{"--run-as-user", "1 to 2147483647"}},
		{"run as a name", func(o *Options) { o.RunAsUser = "postgres" }, []string{`--run-as-user "postgres"`, "auto"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := valid()
			c.edit(o)
			err := o.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", o)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidateParses(t *testing.T) {
	o := valid()
	o.Storage, o.NodeLabels = "s3, local", []string{"a=1", "b=2"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(o.storages) != 2 || o.storages[0] != "local" || o.storages[1] != "s3" {
		t.Errorf("storages = %v", o.storages)
	}
	if o.nodeSelector["a"] != "1" || o.nodeSelector["b"] != "2" {
		t.Errorf("nodeSelector = %v", o.nodeSelector)
	}
}

func dryRunOptions(t *testing.T, storage, out string) (*Options, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	streams, _, stdout, stderr := genericiooptions.NewTestIOStreams()
	o := NewOptions(streams)
	o.Name, o.Storage, o.DryRun, o.Output, o.Namespace = "pg1", storage, DryRunClient, out, "ns1"
	o.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o, stdout, stderr
}

func TestClientDryRunYAMLTouchesNothing(t *testing.T) {
	o, stdout, stderr := dryRunOptions(t, "local", "yaml")
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(stdout.String(), "---\n")
	var kinds []string
	for _, d := range docs {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name, Namespace string
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.APIVersion == "" || obj.Metadata.Namespace != "ns1" {
			t.Errorf("incomplete object: %+v", obj)
		}
		kinds = append(kinds, obj.Kind+"/"+obj.Metadata.Name)
	}
	want := "ConfigMap/pg1-pgbackrest Secret/pg1-pgbackrest-tls PersistentVolumeClaim/pg1 PersistentVolumeClaim/pg1-pgbr-repo " +
		"Service/pg1 Service/pg1-backrest-shared-repo NetworkPolicy/pg1-backrest-shared-repo NetworkPolicy/pg1 " +
		"Deployment/pg1-backrest-shared-repo Deployment/pg1"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("objects:\n got %s\nwant %s", got, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestClientDryRunS3Placeholders(t *testing.T) {
	o, stdout, stderr := dryRunOptions(t, "s3", "json")
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 9 {
		t.Errorf("kind %s with %d items, want a List of 9", list.Kind, len(list.Items))
	}
	if !strings.Contains(stdout.String(), "repo2-s3-bucket=placeholder-bucket") || !strings.Contains(stderr.String(), "placeholders") {
		t.Errorf("placeholders not used or not announced:\nstderr: %s", stderr)
	}
}

func TestClientDryRunS3ReadsSecret(t *testing.T) {
	o, stdout, stderr := dryRunOptions(t, "s3", "yaml")
	cs := fake.NewClientset()
	o.Client = cs
	_ = o.Run(context.Background())
	// The Secret is missing: placeholders, and only a get was sent.
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("dry run sent %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if !strings.Contains(stderr.String(), "kubectl pgbackrest s3 configure") || stdout.Len() == 0 {
		t.Errorf("stderr: %s", stderr)
	}
}

// -o never prints the TLS Secret's private keys unless --show-secrets, and a dry run (whose keys
// are freshly generated, real ones) prints placeholders even then.
func TestPrintedObjectsHoldNoPrivateKey(t *testing.T) {
	pem := base64.StdEncoding.EncodeToString([]byte("-----BEGIN"))[:12]
	for _, show := range []bool{false, true} {
		o, stdout, _ := dryRunOptions(t, "local", "yaml")
		o.ShowSecrets = show
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if strings.Contains(out, pem) || strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("show-secrets %v: the dry run printed key material:\n%s", show, out)
		}
		want := "REDACTED ("
		if show {
			want = "PLACEHOLDER ("
		}
		if !strings.Contains(out, "server.key: "+want) {
			t.Errorf("show-secrets %v: server.key is not %q:\n%s", show, want, out)
		}
	}
}

// In an OpenShift project the dry run shows the pods as create would make them; a uid outside
// the project's range is refused there too, before anything is printed.
func TestClientDryRunOpenShiftNamespace(t *testing.T) {
	project := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1", Annotations: map[string]string{
		cluster.AnnotationUIDRange: "1000680000/10000", cluster.AnnotationSupplementalGroups: "1000690000/10000"}}}
	o, stdout, stderr := dryRunOptions(t, "local", "yaml")
	o.Client = fake.NewClientset(project)
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if strings.Count(out, "runAsUser: 1000680000") != 2 || strings.Count(out, "fsGroup: 1000690000") != 2 ||
		strings.Contains(out, "runAsUser: 999") || strings.Contains(out, "runAsGroup") || !strings.Contains(out, "LD_PRELOAD") {
		t.Errorf("the Deployments do not run as the project's uid:\n%s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr)
	}

	o, stdout, _ = dryRunOptions(t, "local", "yaml")
	o.Client = fake.NewClientset(project)
	o.RunAsUser = "999"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err := o.Run(context.Background())
	if !errors.Is(err, exitcode.ErrUsage) || !strings.Contains(err.Error(), "--run-as-user 999 is outside the uid range 1000680000-1000689999") {
		t.Errorf("err = %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed objects for a refused uid:\n%s", stdout)
	}
}
