package version

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

func TestValidate(t *testing.T) {
	for out, ok := range map[string]bool{"": true, "json": true, "yaml": true, "table": false, "wide": false} {
		o := &Options{Output: out}
		if err := o.Validate(); (err == nil) != ok {
			t.Errorf("-o %q: %v", out, err)
		}
	}
}

func TestRun(t *testing.T) {
	info := version.Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-02", GoVersion: "go1.26", Platform: "linux/amd64"}
	for out, want := range map[string]string{
		"":     "kubectl-pgbackrest v1.2.3\n  commit:   abc\n",
		"yaml": "commit: abc\ndate: \"2026-01-02\"\n",
	} {
		var b bytes.Buffer
		o := &Options{IOStreams: genericiooptions.IOStreams{Out: &b}, Output: out, Info: info}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := o.Run(); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), want) {
			t.Errorf("-o %q:\n%s\nwant prefix\n%s", out, b.String(), want)
		}
	}
}
