package update

import (
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// Bad flags are usage errors (exit 2) naming the flag, found without a cluster.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"ok", func(o *Options) {}, ""},
		{"no change", func(o *Options) { o.Image = "" }, "nothing to change: give --image"},
		{"bad image", func(o *Options) { o.Image = "a b" }, "invalid --image"},
		{"flag as image", func(o *Options) { o.Image = "--dry-run" }, "invalid --image"},
		{"dry-run", func(o *Options) { o.DryRun = "server" }, "invalid --dry-run"},
		{"output", func(o *Options) { o.Output = "table" }, "invalid -o/--output"},
		{"timeout", func(o *Options) { o.Timeout = 0 }, "invalid --timeout"},
		{"probe timeout", func(o *Options) { o.ProbeTimeout = -time.Second }, "invalid --probe-timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
			o.Image = "reg/pg:17-a"
			c.set(o)
			err := o.Validate()
			if c.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || exitcode.For(err) != exitcode.UsageError {
				t.Errorf("Validate = %v (exit %d), want exit 2 saying %q", err, exitcode.For(err), c.want)
			}
		})
	}
}
