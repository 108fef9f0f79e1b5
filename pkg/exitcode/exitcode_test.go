package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestFor(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("boom"), Failure},
		{"usage", Usage(errors.New("bad flag")), UsageError},
		{"wrapped usage", fmt.Errorf("validating: %w", Usage(errors.New("bad"))), UsageError},
		{"timeout", Timeout(errors.New("slow")), TimedOut},
		{"wrapped timeout", fmt.Errorf("step x: %w", Timeout(errors.New("slow"))), TimedOut},
		{"sentinel", fmt.Errorf("waiting: %w", ErrTimeout), TimedOut},
		{"deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), TimedOut},
		{"canceled", fmt.Errorf("waiting: %w", context.Canceled), Failure},
		{"status", WithStatus(errors.New("psql exited"), 3), 3},
		{"wrapped status", fmt.Errorf("psql: %w", WithStatus(errors.New("psql exited"), 3)), 3},
		{"status out of range", WithStatus(errors.New("odd"), 300), Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := For(tt.err); got != tt.want {
				t.Errorf("For(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestMarksKeepMessageAndChain(t *testing.T) {
	inner := errors.New("--bucket is required")
	err := Usage(inner)
	if err.Error() != inner.Error() {
		t.Errorf("message = %q, want %q", err.Error(), inner.Error())
	}
	if !errors.Is(err, inner) {
		t.Error("Usage lost the wrapped error")
	}
	if Usage(nil) != nil || Timeout(nil) != nil {
		t.Error("marking nil must stay nil")
	}
}
