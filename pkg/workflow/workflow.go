// Package workflow runs a list of named, resumable steps. Each step can tell whether it is already
// done by reading the cluster, so a re-run after a failure or Ctrl-C skips finished work.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Step is one named unit of a workflow.
type Step struct {
	// Name says what the step does, for people: "create data PVC db-20240101".
	Name string
	// Done reports whether the step's effect is already in place. Nil means "never done".
	Done func(ctx context.Context) (bool, error)
	// Apply makes it so. It must be idempotent: a re-run after a partial Apply converges.
	Apply func(ctx context.Context) error
}

// Reporter receives progress. output.StepReporter implements it.
type Reporter interface {
	Start(name string)
	Skipped(name string)
	Done(name string, d time.Duration)
	Failed(name string, err error)
}

// StepError is returned by Run when a step fails. It wraps the cause, so exit-code mapping
// (timeouts, usage) still sees it.
type StepError struct {
	Step string
	Err  error
	// Fenced says the step did not run: the Runner's Fence stopped the run before it.
	Fenced bool
}

func (e *StepError) Error() string {
	if e.Fenced {
		return fmt.Sprintf("stopped before step %q: %v; re-run the same command to resume", e.Step, e.Err)
	}
	return fmt.Sprintf("step %q failed: %v; re-run the same command to resume", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Runner runs steps. The zero value uses time.Now as its clock.
type Runner struct {
	// Now is the clock used to time steps; nil means time.Now.
	Now func() time.Time
	// Fence, when set, is asked before each step whether the run may go on (it still holds its
	// Lease); an error stops the run before that step. Steps are not interrupted: each ends, or
	// fails, by itself.
	Fence func(ctx context.Context) error
}

// Run runs steps in order with the default clock. See Runner.Run.
func Run(ctx context.Context, steps []Step, r Reporter) error {
	return Runner{}.Run(ctx, steps, r)
}

// Run runs steps in order: a step found done is reported and skipped; otherwise it is applied.
// Run stops at the first failure (or cancellation) and returns a *StepError naming the step.
func (rn Runner) Run(ctx context.Context, steps []Step, r Reporter) error {
	now := rn.Now
	if now == nil {
		now = time.Now
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			r.Failed(s.Name, err)
			return &StepError{Step: s.Name, Err: err}
		}
		if rn.Fence != nil {
			if err := rn.Fence(ctx); err != nil {
				r.Failed(s.Name, err)
				return &StepError{Step: s.Name, Err: err, Fenced: true}
			}
		}
		if s.Done != nil {
			done, err := s.Done(ctx)
			if err != nil {
				err = fmt.Errorf("checking whether it is done: %w", err)
				r.Failed(s.Name, err)
				return &StepError{Step: s.Name, Err: err}
			}
			if done {
				r.Skipped(s.Name)
				continue
			}
		}
		if s.Apply == nil {
			err := errors.New("step has no Apply and is not done")
			r.Failed(s.Name, err)
			return &StepError{Step: s.Name, Err: err}
		}
		r.Start(s.Name)
		start := now()
		if err := s.Apply(ctx); err != nil {
			r.Failed(s.Name, err)
			return &StepError{Step: s.Name, Err: err}
		}
		r.Done(s.Name, now().Sub(start))
	}
	return nil
}

// Plan returns the step names in order, for --dry-run.
func Plan(steps []Step) []string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return names
}
