package update

import (
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/update"
)

// Bad flags are usage errors (exit 2) naming the flag, found without a cluster.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"ok", func(o *Options) {}, ""},
		{"no change", func(o *Options) { o.Image = "" }, "nothing to change: give --image REF, --retention-full N"},
		{"bad image", func(o *Options) { o.Image = "a b" }, "invalid --image"},
		{"flag as image", func(o *Options) { o.Image = "--dry-run" }, "invalid --image"},
		{"dry-run", func(o *Options) { o.DryRun = "server" }, "invalid --dry-run"},
		{"output", func(o *Options) { o.Output = "table" }, "invalid -o/--output"},
		{"timeout", func(o *Options) { o.Timeout = 0 }, "invalid --timeout"},
		{"probe timeout", func(o *Options) { o.ProbeTimeout = -time.Second }, "invalid --probe-timeout"},
		{"retention alone", func(o *Options) { o.Image, o.Retention.Full = "", "2" }, ""},
		{"retention per repository", func(o *Options) { o.Image, o.Retention.Full = "", "local=2,s3=14" }, ""},
		{"image and retention", func(o *Options) { o.Retention.Full = "3" }, ""},
		{"retention 0", func(o *Options) { o.Image, o.Retention.Full = "", "0" }, "invalid --retention-full \"0\""},
		{"retention negative", func(o *Options) { o.Image, o.Retention.Diff = "", "s3=-1" }, "invalid --retention-diff \"-1\""},
		{"retention unknown storage", func(o *Options) { o.Image, o.Retention.Full = "", "gcs=2" }, "unknown storage"},
		{"retention type", func(o *Options) { o.Image, o.Retention.FullType = "", "days" }, "--retention-full-type"},
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

// The retention summary names every repository's change and what its next expire removes.
func TestRetentionText(t *testing.T) {
	from := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	got := RetentionText("mydb", map[pgbackrest.Storage]update.RetentionChange{
		pgbackrest.Local: {From: pgbackrest.Retention{Full: 3}, To: pgbackrest.Retention{Full: 2}},
		pgbackrest.S3:    {From: pgbackrest.Retention{Full: 2}, To: pgbackrest.Retention{Full: 2}},
	}, []pgbackrest.ExpirePlan{
		{Storage: pgbackrest.Local, Expire: []string{"20261130-101010F", "20261130-101010F_20261130-111111I", "20261130-101010F_20261130-121212D"},
			WindowAfter: &pgbackrest.RecoveryWindow{From: from, ToWAL: "000000010000000000000009", AtLeastUntil: from.Add(time.Hour)}},
		{Storage: pgbackrest.S3, Expire: []string{}},
	})
	want := "local: retention full=3 → full=2\n" +
		"s3: retention full=2 (unchanged)\n" +
		"local: the next expire (after the next backup to local, or `kubectl pgbackrest expire mydb`) removes 20261130-101010F (and 2 diff/incr sets); " +
		"the recoverable window becomes 2026-12-01T10:00:00Z → WAL 000000010000000000000009 (at least 2026-12-01T11:00:00Z)\n" +
		"s3: the next expire (after the next backup to s3, or `kubectl pgbackrest expire mydb`) removes nothing\n"
	if got != want {
		t.Errorf("RetentionText =\n%s\nwant\n%s", got, want)
	}
}
