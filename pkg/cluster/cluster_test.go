package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func validSpec(storages ...pgbackrest.Storage) *Spec {
	s := New("pg1", "ns")
	s.Storages = storages
	s.Image = "pgbackrest-pg17:test"
	s.S3 = S3{Bucket: "bkt", Endpoint: "s3.example", Region: "us-east-1", URIStyle: "path", VerifyTLS: true, HasCA: true}
	return s
}

func TestNames(t *testing.T) {
	n := Names{Cluster: "c"}
	got := map[string]string{
		"ConfigMap":       n.ConfigMap(),
		"TLSSecret":       n.TLSSecret(),
		"DataPVC":         n.DataPVC(),
		"RestoredDataPVC": n.RestoredDataPVC("20250102030405"),
		"RepoPVC":         n.RepoPVC(),
		"Primary":         n.Primary(),
		"RepoHost":        n.RepoHost(),
		"RestoreJob":      n.RestoreJob("20250102030405"),
		"Lease":           n.Lease(),
		"Repo2Path":       n.Repo2Path(),
	}
	want := map[string]string{
		"ConfigMap":       "c-pgbackrest",
		"TLSSecret":       "c-pgbackrest-tls",
		"DataPVC":         "c",
		"RestoredDataPVC": "c-20250102030405",
		"RepoPVC":         "c-pgbr-repo",
		"Primary":         "c",
		"RepoHost":        "c-backrest-shared-repo",
		"RestoreJob":      "c-restore-20250102030405",
		"Lease":           "c-pgbackrest",
		"Repo2Path":       "/backrestrepo/c-backrest-shared-repo",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestLongestNameFits(t *testing.T) {
	n := Names{Cluster: strings.Repeat("a", MaxNameLength)}
	if err := ValidateName(n.Cluster); err != nil {
		t.Fatal(err)
	}
	id := RestoreID(time.Date(2025, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600)))
	if id != "20251231225959" {
		t.Errorf("RestoreID = %q", id)
	}
	for _, name := range []string{n.ConfigMap(), n.TLSSecret(), n.RepoPVC(), n.RepoHost(), n.RestoreJob(id), n.RestoredDataPVC(id), n.Lease()} {
		if len(name) > 63 {
			t.Errorf("%q is %d characters", name, len(name))
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, want string // want: "" for valid, else a substring of the error
	}{
		{"pg1", ""},
		{"a", ""},
		{strings.Repeat("a", 40), ""},
		{strings.Repeat("a", 41), "at most 40"},
		{"", "missing cluster NAME"},
		{"PG1", "invalid cluster NAME"},
		{"pg_1", "invalid cluster NAME"},
		{"-pg", "invalid cluster NAME"},
		{"pg.1", "invalid cluster NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseNodeLabel(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"disk=ssd", map[string]string{"disk": "ssd"}, false},
		{"kubernetes.io/hostname=node-1", map[string]string{"kubernetes.io/hostname": "node-1"}, false},
		{"zone=", map[string]string{"zone": ""}, false},
		{"a=b=c", nil, true},
		{"disk", nil, true},
		{"=ssd", nil, true},
		{"bad key=x", nil, true},
		{"k=" + strings.Repeat("v", 64), nil, true},
		{"k=-v", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNodeLabel(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "--node-label") {
					t.Errorf("error %v, want one naming --node-label", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseNodeLabels(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want map[string]string
		err  string
	}{
		{"none", nil, nil, ""},
		{"two keys", []string{"a=b", "c=d"}, map[string]string{"a": "b", "c": "d"}, ""},
		{"same twice", []string{"a=b", "a=b"}, map[string]string{"a": "b"}, ""},
		{"one key two values", []string{"a=b", "a=c"}, nil, `key "a" is already given as a=b`},
		{"one malformed", []string{"a=b", "c"}, nil, `invalid --node-label "c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNodeLabels(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"10Gi", "10Gi", false},
		{"500M", "500M", false},
		{"1.5Gi", "1536Mi", false},
		{"", "", true},
		{"ten", "", true},
		{"10GB", "", true},
		{"0", "", true},
		{"-1Gi", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseSize("--pgdata-size", tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "--pgdata-size") {
					t.Errorf("error %v, want one naming --pgdata-size", err)
				}
				return
			}
			if err != nil || q.String() != tt.want {
				t.Errorf("got %s, %v; want %s", q.String(), err, tt.want)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	l := Labels("c", RolePrimary)
	want := map[string]string{
		"app.kubernetes.io/managed-by": "kubectl-pgbackrest",
		"app.kubernetes.io/instance":   "c",
		"app.kubernetes.io/name":       "pgbackrest",
		"pgbackrest.dev/role":          "primary",
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("Labels = %v", l)
	}
	for k, v := range Selector("c", RolePrimary) {
		if l[k] != v {
			t.Errorf("selector %s=%s is not among the labels", k, v)
		}
	}
	if got := SelectorString("c", RoleRepo); got != "app.kubernetes.io/instance=c,pgbackrest.dev/role=repo" {
		t.Errorf("SelectorString = %q", got)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"valid local", func(s *Spec) { s.Storages = []pgbackrest.Storage{pgbackrest.Local} }, ""},
		{"valid s3", func(s *Spec) {}, ""},
		{"valid s3 without repo size", func(s *Spec) { s.RepoSize = "" }, ""},
		{"no storage", func(s *Spec) { s.Storages = nil }, "no storage"},
		{"unknown storage", func(s *Spec) { s.Storages = []pgbackrest.Storage{"gcs"} }, `unknown storage "gcs"`},
		{"bad name", func(s *Spec) { s.Name = "Bad" }, "invalid cluster NAME"},
		{"no image", func(s *Spec) { s.Image = "" }, "--image"},
		{"bad size", func(s *Spec) { s.PGDataSize = "x" }, "--pgdata-size"},
		{"bad repo size", func(s *Spec) { s.Storages = []pgbackrest.Storage{pgbackrest.Local}; s.RepoSize = "x" }, "--repo-size"},
		{"bad node selector", func(s *Spec) { s.NodeSelector = map[string]string{"a b": "c"} }, "--node-label"},
		{"s3 without bucket", func(s *Spec) { s.S3.Bucket = "" }, "bucket, endpoint and region"},
		{"relative repo2 path", func(s *Spec) { s.Repo2Path = "x" }, "must be absolute"},
		{"pg version 9", func(s *Spec) { s.PGVersion = 9 }, "--pg-version 9"},
		{"pg version 16: no image", func(s *Spec) { s.PGVersion = 16 }, "use 15 or 17"},
		{"pg version 15", func(s *Spec) { s.PGVersion = 15 }, ""},
		{"no data pvc", func(s *Spec) { s.DataPVC = "" }, "data PVC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec(pgbackrest.S3)
			tt.mutate(s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %v, want ErrInvalidSpec containing %q", err, tt.want)
			}
		})
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	s := validSpec(pgbackrest.Local, pgbackrest.S3)
	s.NodeSelector = map[string]string{"disk": "ssd", "a": "b"}
	s.CreatedBy = "v0.1.0"
	data, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"storage": [`, `"pgVersion": 17`, `"pgdataSize": "1Gi"`, `"s3Secret": "pgbackrest-s3"`,
		`"uriStyle": "path"`, `"hasCA": true`, `"repo2Path": "/backrestrepo/pg1-backrest-shared-repo"`, `"dataPVC": "pg1"`} {
		if !strings.Contains(data, key) {
			t.Errorf("spec.json lacks %s:\n%s", key, data)
		}
	}
	if strings.Contains(data, "ns") {
		t.Errorf("spec.json holds the namespace:\n%s", data)
	}
	got, err := Parse(data, "ns")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
	}
	again, _ := got.JSON()
	if again != data {
		t.Error("JSON is not deterministic")
	}

	local := validSpec(pgbackrest.Local)
	local.S3 = S3{}
	data, _ = local.JSON()
	if strings.Contains(data, `"s3"`) {
		t.Errorf("a local-only spec has s3 settings:\n%s", data)
	}
}

func TestConfigParams(t *testing.T) {
	s := validSpec(pgbackrest.Local, pgbackrest.S3)
	p := s.ConfigParams()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.RepoHost != "pg1-backrest-shared-repo" || p.PGHost != "pg1" || p.PGPath != "/pgdata/pg17" {
		t.Errorf("hosts/paths: %+v", p)
	}
	if p.S3.CAFile != "/etc/pgbackrest/s3/aws-s3-ca.crt" || p.S3.Path != "/backrestrepo/pg1-backrest-shared-repo" || p.S3.Bucket != "bkt" {
		t.Errorf("S3: %+v", p.S3)
	}
	s.S3.HasCA = false
	if p := s.ConfigParams(); p.S3.CAFile != "" {
		t.Errorf("CAFile without a CA: %q", p.S3.CAFile)
	}
	local := validSpec(pgbackrest.Local)
	if p := local.ConfigParams(); p.S3 != (pgbackrest.S3Settings{}) {
		t.Errorf("local-only cluster has S3 settings: %+v", p.S3)
	}
}

// The WAL bounds follow the data volume: max_wal_size is PostgreSQL's 1 GB or an eighth of the
// volume, and the backlog kept for a repository that is down defaults to a quarter.
func TestWALBoundsFollowTheDataVolume(t *testing.T) {
	for _, c := range []struct {
		size, backlog             string
		wantMaxWAL, wantBacklogMB int64
	}{
		{"1Gi", "", 128, 256},
		{"10Gi", "", 1024, 2560},
		{"100Mi", "", 32, 32},
		{"4Gi", "1Gi", 512, 1024},
	} {
		s := &Spec{PGDataSize: c.size, ArchiveBacklogMax: c.backlog}
		if got := s.MaxWALSizeMB(); got != c.wantMaxWAL {
			t.Errorf("%s: max_wal_size %dMB, want %d", c.size, got, c.wantMaxWAL)
		}
		if got := s.ArchiveBacklogMB(); got != c.wantBacklogMB {
			t.Errorf("%s/%s: backlog %dMB, want %d", c.size, c.backlog, got, c.wantBacklogMB)
		}
	}
}
