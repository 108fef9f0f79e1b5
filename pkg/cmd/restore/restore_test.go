package restore

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestValidate(t *testing.T) {
	base := func() *Options {
		o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
		o.Cluster = "db"
		return o
	}
	tests := []struct {
		name   string
		edit   func(o *Options)
		want   string // "" means valid
		target pgbackrest.Target
	}{
		{name: "end of archive", edit: func(*Options) {}, target: pgbackrest.Target{}},
		{name: "time", edit: func(o *Options) { o.TargetTime = "2026-11-25 10:00:00+00" },
			target: pgbackrest.Target{Type: "time", Value: "2026-11-25 10:00:00+00", Action: "promote"}},
		{name: "time pause", edit: func(o *Options) {
			o.TargetTime = "2026-11-25T10:00:00Z"
			o.TargetAction, o.targetActionSet = "pause", true
		}, target: pgbackrest.Target{Type: "time", Value: "2026-11-25T10:00:00Z", Action: "pause"}},
		{name: "time without zone", edit: func(o *Options) { o.TargetTime = "2026-11-25 10:00:00" }, want: "--target-time \"2026-11-25 10:00:00\" has no time zone"},
		{name: "two targets", edit: func(o *Options) { o.TargetTime = "2026-11-25 10:00:00+00"; o.TargetLSN = "0/3000000" }, want: "--target-time, --target-lsn cannot be combined"},
		{name: "bad lsn", edit: func(o *Options) { o.TargetLSN = "nope" }, want: "--target-lsn \"nope\" is not an LSN"},
		{name: "action without target", edit: func(o *Options) { o.TargetAction, o.targetActionSet = "pause", true }, want: "needs a target"},
		{name: "both storages", edit: func(o *Options) { o.Storage = "local,s3" }, want: "pick --storage=local or --storage=s3"},
		{name: "bad storage", edit: func(o *Options) { o.Storage = "gcs" }, want: "--storage"},
		{name: "bad node label", edit: func(o *Options) { o.NodeLabels = []string{"nolabel"} }, want: "--node-label"},
		{name: "node label key twice", edit: func(o *Options) { o.NodeLabels = []string{"a=b", "a=c"} }, want: `--node-label "a=c": key "a" is already given`},
		{name: "owned option", edit: func(o *Options) { o.ExtraOptions = "--stanza=x" }, want: "--stanza"},
		{name: "ok option", edit: func(o *Options) { o.ExtraOptions = "--process-max=4" }},
		{name: "bad dry-run", edit: func(o *Options) { o.DryRun = "server" }, want: "--dry-run"},
		{name: "timeout", edit: func(o *Options) { o.Timeout = 0 }, want: "--timeout"},
		{name: "pause and backup-after", edit: func(o *Options) {
			o.TargetImmediate, o.BackupAfter = true, true
			o.TargetAction, o.targetActionSet = "pause", true
		}, want: "--backup-after cannot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(o)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.target != (pgbackrest.Target{}) && o.config.Target != tt.target {
					t.Errorf("target = %+v, want %+v", o.config.Target, tt.target)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if exitcode.For(err) != exitcode.UsageError {
				t.Errorf("exit code %d, want 2", exitcode.For(err))
			}
		})
	}
}

// TestNodeLabelRepeatable: like create's, restore's --node-label is given once per label, and all
// of them place the restore Job and the new primary.
func TestNodeLabelRepeatable(t *testing.T) {
	cmd := NewCmd(&cmdutil.Deps{IOStreams: genericiooptions.NewTestIOStreamsDiscard()})
	if err := cmd.ParseFlags([]string{"--node-label", "a=b", "--node-label", "c=d"}); err != nil {
		t.Fatal(err)
	}
	labels, err := cmd.Flags().GetStringArray("node-label")
	if err != nil {
		t.Fatal(err)
	}
	o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Cluster, o.NodeLabels = "db", labels
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "b", "c": "d"}; !maps.Equal(o.config.NodeSelector, want) {
		t.Errorf("node selector %v, want %v", o.config.NodeSelector, want)
	}
	o.NodeLabels = nil
	if err := o.Validate(); err != nil || o.config.NodeSelector != nil {
		t.Errorf("without --node-label: node selector %v (%v), want nil (the cluster's)", o.config.NodeSelector, err)
	}
}

func TestConfirm(t *testing.T) {
	o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Cluster = "db"
	if err := o.confirm(); exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "pass --yes") {
		t.Errorf("non-TTY without --yes: %v", err)
	}
	o.StdinTTY = true
	o.In = bytes.NewBufferString("other\n")
	if err := o.confirm(); err == nil {
		t.Error("wrong name accepted")
	}
	o.In = bytes.NewBufferString("db\n")
	if err := o.confirm(); err != nil {
		t.Errorf("right name refused: %v", err)
	}
	o.Yes, o.StdinTTY = true, false
	if err := o.confirm(); err != nil {
		t.Errorf("--yes: %v", err)
	}
}

func TestPlacement(t *testing.T) {
	for _, tt := range []struct {
		sel  map[string]string
		flag bool
		want string
	}{
		{nil, false, "on any node (the cluster has no node selector)"},
		{map[string]string{"zone": "b", "disk": "ssd"}, false, "on nodes labelled disk=ssd, zone=b (the cluster's node selector)"},
		{map[string]string{"disk": "ssd"}, true, "on nodes labelled disk=ssd (--node-label, kept for the cluster)"},
	} {
		if got := placement(tt.sel, tt.flag); got != tt.want {
			t.Errorf("placement(%v, %v) = %q, want %q", tt.sel, tt.flag, got, tt.want)
		}
	}
}
