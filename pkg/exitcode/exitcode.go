// Package exitcode maps errors to the process exit status. Only main calls For; everything else
// returns errors that wrap ErrUsage or ErrTimeout (directly or through Usage and Timeout).
package exitcode

import (
	"context"
	"errors"
)

// Exit statuses of kubectl-pgbackrest.
const (
	OK         = 0 // success
	Failure    = 1 // the command failed
	UsageError = 2 // usage or validation error: nothing was changed
	TimedOut   = 3 // timed out while work still runs in the cluster: re-run to resume
	Unhealthy  = 4 // status read the cluster and found problems (it lists them)
)

var (
	// ErrUsage marks usage and validation errors (exit status 2).
	ErrUsage = errors.New("usage error")
	// ErrTimeout marks timeouts after which work goes on in the cluster (exit status 3).
	ErrTimeout = errors.New("timed out")
	// ErrUnhealthy marks a status that was read and found problems (exit status 4).
	ErrUnhealthy = errors.New("unhealthy")
)

type markedError struct {
	err  error
	mark error
}

func (e *markedError) Error() string   { return e.err.Error() }
func (e *markedError) Unwrap() []error { return []error{e.err, e.mark} }

// Usage marks err as a usage or validation error. The message is unchanged. Usage(nil) is nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrUsage}
}

// Timeout marks err as a timeout while work still runs in the cluster. Timeout(nil) is nil.
func Timeout(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrTimeout}
}

// MarkUnhealthy marks err as a cluster found unhealthy by status. MarkUnhealthy(nil) is nil.
func MarkUnhealthy(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, mark: ErrUnhealthy}
}

// statusError carries a status of its own: a program the plugin runs for the user (psql) whose
// exit status scripts read as if they had run it themselves.
type statusError struct {
	err    error
	status int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// WithStatus makes status (1-255) the exit status for err. WithStatus(nil, n) is nil.
func WithStatus(err error, status int) error {
	if err == nil {
		return nil
	}
	return &statusError{err: err, status: status}
}

// For returns the exit status for err. A bare context.DeadlineExceeded counts as a timeout too:
// it comes from --timeout elapsing while the cluster goes on working. Cancellation (Ctrl-C) is 1.
func For(err error) int {
	var se *statusError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &se) && se.status > 0 && se.status < 256:
		return se.status
	case errors.Is(err, ErrUsage):
		return UsageError
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return TimedOut
	case errors.Is(err, ErrUnhealthy):
		return Unhealthy
	default:
		return Failure
	}
}
