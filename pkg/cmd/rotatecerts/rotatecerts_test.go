package rotatecerts

import (
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		dryRun  string
		timeout time.Duration
		ok      bool
	}{
		{"defaults", "none", 20 * time.Minute, true},
		{"dry run", "client", time.Minute, true},
		{"server dry run", "server", time.Minute, false},
		{"zero timeout", "none", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions(genericiooptions.NewTestIOStreamsDiscard())
			o.DryRun, o.Timeout = tt.dryRun, tt.timeout
			err := o.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && exitcode.For(err) != exitcode.UsageError {
				t.Errorf("exit code %d, want %d", exitcode.For(err), exitcode.UsageError)
			}
		})
	}
}
