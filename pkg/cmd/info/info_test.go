package info

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/timeline"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{"defaults", Options{Output: "table"}, ""},
		{"json, s3", Options{Output: "json", Storage: "s3"}, ""},
		{"bad storage", Options{Output: "table", Storage: "local,nfs"}, "--storage"},
		{"bad output", Options{Output: "wide"}, "-o/--output"},
		{"timeline", Options{Output: "table", Timeline: true, ASCII: true, Width: 132}, ""},
		{"timeline and json", Options{Output: "json", Timeline: true}, "--timeline"},
		{"width without timeline", Options{Output: "table", Width: 100}, "add --timeline"},
		{"ascii without timeline", Options{Output: "table", ASCII: true}, "add --timeline"},
		{"narrow", Options{Output: "table", Timeline: true, Width: 20}, "--width must be at least 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, exitcode.ErrUsage) {
				t.Fatalf("err = %v, want usage error %q", err, tt.err)
			}
		})
	}
}

func TestRenderGolden(t *testing.T) {
	data, err := os.ReadFile("../../pgbackrest/testdata/pgbackrest-2.45-info-two-repos.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		storages []pgbackrest.Storage
		set      string
	}{
		{"all", nil, ""},
		{"s3", []pgbackrest.Storage{pgbackrest.S3}, ""},
		{"set", nil, "20261125-002616F_20261125-002641I"},
		{"encrypted", []pgbackrest.Storage{pgbackrest.S3}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := data
			if tt.name == "encrypted" {
				data = bytes.ReplaceAll(data, []byte(`"cipher":"none"`), []byte(`"cipher":"aes-256-cbc"`))
			}
			sum, err := backup.Summarize(data, tt.storages, tt.set)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Render(&b, sum); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", b.Bytes())
			b.Reset()
			if err := output.Print(&b, output.JSON, sum); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".json", b.Bytes())
		})
	}
}

// TestTimelineFlags checks the wiring: the flags reach the options, and the style follows the
// terminal, --ascii, NO_COLOR, TERM and --color.
func TestTimelineFlags(t *testing.T) {
	cmd := NewCmd(&cmdutil.Deps{IOStreams: genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}})
	if err := cmd.ParseFlags([]string{"--timeline", "--ascii", "--width=100"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"timeline", "ascii", "width"} {
		if !cmd.Flags().Changed(name) {
			t.Errorf("--%s not parsed", name)
		}
	}

	data, err := os.ReadFile("../../pgbackrest/testdata/pgbackrest-2.45-info-two-repos.json")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Summarize(data, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	now := sum.Repositories[0].Backups[0].Stop.Add(48 * time.Hour)
	yes, no := true, false
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	tests := []struct {
		name           string
		o              Options
		unicode, color bool
		width          int
	}{
		{"terminal", Options{Timeline: true, tty: &yes, color: output.NewColor(true), lookupEnv: env("COLUMNS", "100")}, true, true, 100},
		{"terminal, --color=never", Options{Timeline: true, tty: &yes, color: output.NewColor(false), lookupEnv: env()}, true, false, output.DefaultWidth},
		{"terminal, --ascii", Options{Timeline: true, ASCII: true, tty: &yes, color: output.NewColor(true), lookupEnv: env()}, false, false, output.DefaultWidth},
		{"terminal, NO_COLOR", Options{Timeline: true, tty: &yes, color: output.NewColor(true), lookupEnv: env("NO_COLOR", "")}, false, false, output.DefaultWidth},
		{"terminal, TERM=dumb", Options{Timeline: true, tty: &yes, color: output.NewColor(true), lookupEnv: env("TERM", "dumb")}, false, false, output.DefaultWidth},
		{"pipe, --width", Options{Timeline: true, Width: 132, tty: &no, color: output.NewColor(true), lookupEnv: env("COLUMNS", "100")}, false, false, 132},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.o.picture(sum, nil, now)
			if in.Style.Unicode != tt.unicode || in.Style.Color.Enabled() != tt.color || in.Width != tt.width {
				t.Errorf("unicode %v color %v width %d; want %v %v %d", in.Style.Unicode, in.Style.Color.Enabled(), in.Width, tt.unicode, tt.color, tt.width)
			}
			if !in.Now.Equal(now) || len(in.Repos) != len(sum.Repositories) {
				t.Errorf("now %v, %d repos", in.Now, len(in.Repos))
			}
			pic := timeline.Render(in)
			if strings.Contains(pic, `\x1b`) || tt.color != strings.Contains(pic, "\x1b[") {
				t.Errorf("colour %v, but the picture's escapes disagree (or are Cleaned):\n%s", tt.color, pic)
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
