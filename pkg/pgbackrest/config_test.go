package pgbackrest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func testParams(storages ...Storage) ConfigParams {
	p := DefaultConfigParams()
	p.Storages = storages
	p.RepoHost = "c-backrest-shared-repo"
	p.PGHost = "c"
	p.PGPath = "/pgdata/pg17"
	p.S3 = S3Settings{
		Bucket:    "backups",
		Endpoint:  "s3.pgbackrest-test.svc",
		Region:    "us-east-1",
		URIStyle:  "path",
		VerifyTLS: true,
		CAFile:    "/etc/pgbackrest/s3/aws-s3-ca.crt",
		Path:      "/backrestrepo/c-backrest-shared-repo",
	}
	return p
}

func TestRenderGolden(t *testing.T) {
	cases := map[string][]Storage{
		"local":    {Local},
		"s3":       {S3},
		"local-s3": {Local, S3},
	}
	for name, storages := range cases {
		t.Run(name, func(t *testing.T) {
			p := testParams(storages...)
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			assertGolden(t, "db-"+name+".conf", []byte(mustDB(t, p)))
			assertGolden(t, "repo-"+name+".conf", []byte(mustRepo(t, p)))
		})
	}
}

func TestRenderS3Options(t *testing.T) {
	p := testParams(S3)
	p.S3.CAFile = ""
	p.S3.VerifyTLS = false
	p.S3.URIStyle = ""
	conf := mustRepo(t, p)
	if strings.Contains(conf, "ca-file=/etc/pgbackrest/s3") {
		t.Errorf("CA file written although none was set:\n%s", conf)
	}
	if !strings.Contains(conf, "repo2-storage-verify-tls=n\n") {
		t.Errorf("verify-tls=n missing:\n%s", conf)
	}
	if strings.Contains(conf, "uri-style") {
		t.Errorf("uri-style written although empty:\n%s", conf)
	}
	for _, conf := range []string{mustDB(t, p), conf} {
		if strings.Contains(conf, "repo1-") {
			t.Errorf("repo1 option in an s3-only config:\n%s", conf)
		}
		if strings.Contains(strings.ToLower(conf), "s3-key") {
			t.Errorf("S3 credentials option in a config file:\n%s", conf)
		}
	}
}

// Each repository's own file on the repository host locks apart from pgbackrest.conf, which the
// local repository's remote loads.
func TestCheckConfigLockPaths(t *testing.T) {
	p := testParams(Local, S3)
	if !strings.Contains(mustRepo(t, p), "\nlock-path="+LockPath+"\n") {
		t.Errorf("repo.conf lock-path is not %s", LockPath)
	}
	for _, s := range []Storage{Local, S3} {
		conf := must(t)(RenderCheckConfig(p, s))
		if want := "\nlock-path=" + LockPath + "/" + string(s) + "\n"; !strings.Contains(conf, want) {
			t.Errorf("%s lacks %q:\n%s", CheckConfigFile(s), strings.TrimSpace(want), conf)
		}
	}
}

// The primary and restore Jobs reach S3 through the repository host: their configuration has no
// S3 setting at all, so pgBackRest there never looks for S3 credentials.
func TestRenderDBReachesS3ThroughRepoHost(t *testing.T) {
	for _, storages := range [][]Storage{{S3}, {Local, S3}} {
		p := testParams(storages...)
		for name, conf := range map[string]string{"db": mustDB(t, p), "archive": must(t)(RenderArchiveConfig(p, S3))} {
			for _, want := range []string{"\nrepo2-host=" + p.RepoHost + "\n", "\nrepo2-host-type=tls\n",
				"\nrepo2-host-cert-file=" + p.TLSDir + "/client.crt\n", "\nrepo2-path=" + p.S3.Path + "\n"} {
				if !strings.Contains(conf, want) {
					t.Errorf("%s %v lacks %q:\n%s", name, storages, strings.TrimSpace(want), conf)
				}
			}
			// The remote serving repo2 loads S3's own file, whose lock is apart from the local
			// repository's remote (pgbackrest.conf's).
			if !strings.Contains(conf, "\nrepo2-host-config="+p.ConfigDir+"/"+RemoteConfigFile+"\n") {
				t.Errorf("%s %v does not point the S3 remote at %s:\n%s", name, storages, RemoteConfigFile, conf)
			}
			for _, not := range []string{"repo2-type", "repo2-s3-", "repo2-storage-"} {
				if strings.Contains(conf, not) {
					t.Errorf("%s %v has %s: the primary must not reach S3 itself:\n%s", name, storages, not, conf)
				}
			}
		}
	}
}

func TestRenderDeterministic(t *testing.T) {
	p := testParams(Local, S3)
	if mustDB(t, p) != mustDB(t, p) || mustRepo(t, p) != mustRepo(t, p) {
		t.Fatal("rendering is not deterministic")
	}
}

func TestParseStorageList(t *testing.T) {
	tests := []struct {
		in      string
		want    []Storage
		wantErr bool
	}{
		{in: "local", want: []Storage{Local}},
		{in: "s3", want: []Storage{S3}},
		{in: "local,s3", want: []Storage{Local, S3}},
		{in: "s3,local", want: []Storage{Local, S3}},
		{in: " S3 , local,s3", want: []Storage{Local, S3}},
		{in: "", wantErr: true},
		{in: "gcs", wantErr: true},
		{in: "local,", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStorageList(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "--storage") || !strings.Contains(err.Error(), "local,s3") {
					t.Fatalf("want an error naming --storage and the valid values, got %v", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRepoKey(t *testing.T) {
	if RepoKey(Local) != 1 || RepoKey(S3) != 2 || RepoKey("x") != 0 {
		t.Fatal("repo keys must be local=1, s3=2")
	}
	for _, s := range allStorages {
		if StorageForRepoKey(RepoKey(s)) != s {
			t.Errorf("StorageForRepoKey(RepoKey(%s)) != %s", s, s)
		}
	}
	if StorageForRepoKey(3) != "" {
		t.Error("unknown key must map to no storage")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ConfigParams)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*ConfigParams) {}, ""},
		{"no storage", func(p *ConfigParams) { p.Storages = nil }, "no storage"},
		{"bad storage", func(p *ConfigParams) { p.Storages = []Storage{"nfs"} }, "unknown storage"},
		{"no bucket", func(p *ConfigParams) { p.S3.Bucket = "" }, "bucket"},
		{"relative s3 path", func(p *ConfigParams) { p.S3.Path = "repo" }, "must be absolute"},
		{"uri style", func(p *ConfigParams) { p.S3.URIStyle = "virtual" }, "URI style"},
		{"s3 ignored for local", func(p *ConfigParams) { p.Storages = []Storage{Local}; p.S3 = S3Settings{} }, ""},
		{"stanza", func(p *ConfigParams) { p.Stanza = "a b" }, "stanza"},
		{"repo host", func(p *ConfigParams) { p.RepoHost = "" }, "repository host"},
		{"port", func(p *ConfigParams) { p.Port = 0 }, "port"},
		{"compress", func(p *ConfigParams) { p.CompressType = "xz" }, "compress-type"},
		{"process-max", func(p *ConfigParams) { p.ProcessMax = 0 }, "process-max"},
		{"retention", func(p *ConfigParams) { p.Retention = map[Storage]Retention{S3: {Full: -1}} }, "--retention-full -1"},
		{"retention type", func(p *ConfigParams) { p.Retention = map[Storage]Retention{Local: {FullType: "days"}} }, "--retention-full-type"},
		{"archive type alone", func(p *ConfigParams) { p.Retention = map[Storage]Retention{Local: {ArchiveType: "diff"}} }, "needs --retention-archive"},
		{"io-timeout", func(p *ConfigParams) { p.IOTimeout = 0 }, "io-timeout"},
		{"archive-timeout", func(p *ConfigParams) { p.ArchiveTimeout = 90000 }, "archive-timeout"},
		{"client cn", func(p *ConfigParams) { p.ClientCN = "a=b" }, "CN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams(Local, S3)
			tt.mutate(&p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("want ErrInvalidConfig containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestRenderS3EndpointPort(t *testing.T) {
	cases := []struct {
		endpoint, host string
		port           int
	}{
		{"s3.example.com", "s3.example.com", 0},
		{"s3.example.com:9443", "s3.example.com", 9443},
		{"10.0.0.5:9000", "10.0.0.5", 9000},
		{"[fd00::1]:9000", "fd00::1", 9000},
	}
	for _, c := range cases {
		t.Run(c.endpoint, func(t *testing.T) {
			p := testParams(S3)
			p.S3.Endpoint = c.endpoint
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for _, conf := range []string{mustRepo(t, p), must(t)(RenderCheckConfig(p, S3))} {
				if !strings.Contains(conf, "\nrepo2-s3-endpoint="+c.host+"\n") {
					t.Errorf("want repo2-s3-endpoint=%s:\n%s", c.host, conf)
				}
				hasPort := strings.Contains(conf, "repo2-storage-port=")
				if c.port == 0 && hasPort {
					t.Errorf("repo2-storage-port written for %q:\n%s", c.endpoint, conf)
				}
				if c.port != 0 && !strings.Contains(conf, "\nrepo2-storage-port="+strconv.Itoa(c.port)+"\n") {
					t.Errorf("want repo2-storage-port=%d:\n%s", c.port, conf)
				}
			}
		})
	}
	for _, bad := range []string{"https://s3.example.com", "s3.example.com:http", "s3.example.com:0"} {
		p := testParams(S3)
		p.S3.Endpoint = bad
		if err := p.Validate(); err == nil {
			t.Errorf("Validate accepted endpoint %q", bad)
		}
	}
}

// mustDB and mustRepo render a configuration the test expects to be valid.
func mustDB(t *testing.T, p ConfigParams) string {
	t.Helper()
	return must(t)(RenderDBConfig(p))
}

func mustRepo(t *testing.T, p ConfigParams) string {
	t.Helper()
	return must(t)(RenderRepoConfig(p))
}

func must(t *testing.T) func(string, error) string {
	t.Helper()
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
