package check

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{"defaults", Options{Timeout: 5 * time.Minute}, ""},
		{"one storage", Options{Storage: "s3", Timeout: time.Minute}, ""},
		{"bad storage", Options{Storage: "tape", Timeout: time.Minute}, "--storage"},
		{"bad timeout", Options{}, "--timeout"},
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
