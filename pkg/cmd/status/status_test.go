package status

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	st "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/status"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    func(*Options)
		args []string
		want string // "" valid; else a part of the error
	}{
		{"one cluster", func(*Options) {}, []string{"db"}, ""},
		{"all", func(o *Options) { o.All = true }, nil, ""},
		{"neither", func(*Options) {}, nil, "name a CLUSTER"},
		{"both", func(o *Options) { o.All = true }, []string{"db"}, "not both"},
		{"lag zero", func(o *Options) { o.MaxArchiveLag = 0 }, []string{"db"}, "--max-archive-lag"},
		{"age negative", func(o *Options) { o.MaxBackupAge = -time.Hour }, []string{"db"}, "--max-backup-age"},
		{"timeout", func(o *Options) { o.Timeout = time.Millisecond }, []string{"db"}, "--timeout"},
		{"output", func(o *Options) { o.Output = "xml" }, []string{"db"}, "xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions(genericiooptions.IOStreams{})
			tc.o(o)
			err := o.Validate(tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitcode.For(err) != exitcode.UsageError {
				t.Errorf("error %v (exit %d), want one naming %q, exit 2", err, exitcode.For(err), tc.want)
			}
		})
	}
}

func TestUnhealthy(t *testing.T) {
	if err := Unhealthy(&st.Status{Healthy: true}); err != nil {
		t.Fatal(err)
	}
	err := Unhealthy(&st.Status{Cluster: "db", Problems: []st.Problem{{Message: "repository s3 has no backup", Fix: "take one"}}})
	if !errors.Is(err, exitcode.ErrUnhealthy) || exitcode.For(err) != exitcode.Unhealthy || !strings.Contains(err.Error(), "repository s3 has no backup; take one") {
		t.Errorf("%v (exit %d)", err, exitcode.For(err))
	}
}
