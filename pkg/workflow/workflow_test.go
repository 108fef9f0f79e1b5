package workflow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// world is a fake cluster: a set of things that exist. Steps create one thing each.
type world struct {
	has     map[string]bool
	applied []string
	failAt  string // Apply of this step fails once
}

func (w *world) steps(names ...string) []Step {
	var steps []Step
	for _, n := range names {
		steps = append(steps, Step{
			Name: "create " + n,
			Done: func(context.Context) (bool, error) { return w.has[n], nil },
			Apply: func(context.Context) error {
				if w.failAt == n {
					w.failAt = ""
					return errors.New("api unavailable")
				}
				w.has[n] = true
				w.applied = append(w.applied, n)
				return nil
			},
		})
	}
	return steps
}

// recorder is a Reporter that records lines.
type recorder struct{ lines []string }

func (r *recorder) Start(n string)   { r.lines = append(r.lines, "… "+n) }
func (r *recorder) Skipped(n string) { r.lines = append(r.lines, "✓ "+n+" (already done)") }
func (r *recorder) Done(n string, d time.Duration) {
	r.lines = append(r.lines, fmt.Sprintf("✓ %s (%s)", n, d))
}
func (r *recorder) Failed(n string, err error) {
	r.lines = append(r.lines, fmt.Sprintf("✗ %s: %v", n, err))
}

var _ Reporter = (*recorder)(nil)

func fixedClock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestRunTwiceSecondRunChangesNothing(t *testing.T) {
	w := &world{has: map[string]bool{}}
	steps := w.steps("pvc", "config", "deployment")
	rn := Runner{Now: fixedClock()}

	r1 := &recorder{}
	if err := rn.Run(context.Background(), steps, r1); err != nil {
		t.Fatal(err)
	}
	want := []string{"… create pvc", "✓ create pvc (1s)", "… create config", "✓ create config (1s)", "… create deployment", "✓ create deployment (1s)"}
	if !reflect.DeepEqual(r1.lines, want) {
		t.Errorf("first run:\n%q\nwant\n%q", r1.lines, want)
	}

	w.applied = nil
	r2 := &recorder{}
	if err := rn.Run(context.Background(), steps, r2); err != nil {
		t.Fatal(err)
	}
	if len(w.applied) != 0 {
		t.Errorf("second run applied %v, want nothing", w.applied)
	}
	for _, l := range r2.lines {
		if !strings.HasSuffix(l, "(already done)") {
			t.Errorf("second run reported %q", l)
		}
	}
}

func TestFailAtStepNThenRerunConverges(t *testing.T) {
	names := []string{"pvc", "config", "job", "deployment"}
	for i, failing := range names {
		t.Run(failing, func(t *testing.T) {
			w := &world{has: map[string]bool{}, failAt: failing}
			steps := w.steps(names...)
			r := &recorder{}
			err := Run(context.Background(), steps, r)
			var se *StepError
			if !errors.As(err, &se) || se.Step != "create "+failing {
				t.Fatalf("err = %v, want a StepError for %q", err, failing)
			}
			if !strings.Contains(err.Error(), "re-run the same command to resume") {
				t.Errorf("error does not say how to resume: %v", err)
			}
			if len(w.applied) != i {
				t.Errorf("applied %v before failing, want the %d steps before it", w.applied, i)
			}
			if last := r.lines[len(r.lines)-1]; last != "✗ create "+failing+": api unavailable" {
				t.Errorf("last line = %q", last)
			}

			w.applied = nil
			if err := Run(context.Background(), steps, &recorder{}); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			if !reflect.DeepEqual(w.applied, names[i:]) {
				t.Errorf("re-run applied %v, want %v", w.applied, names[i:])
			}
			for _, n := range names {
				if !w.has[n] {
					t.Errorf("%s missing after re-run", n)
				}
			}
		})
	}
}

func TestDoneErrorStops(t *testing.T) {
	applied := false
	steps := []Step{{
		Name:  "check",
		Done:  func(context.Context) (bool, error) { return false, errors.New("forbidden") },
		Apply: func(context.Context) error { applied = true; return nil },
	}}
	err := Run(context.Background(), steps, &recorder{})
	if err == nil || applied {
		t.Fatalf("err = %v, applied = %v", err, applied)
	}
}

func TestCancelledContextStopsBeforeNextStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{has: map[string]bool{}}
	steps := w.steps("a", "b")
	steps[0].Apply = func(context.Context) error { cancel(); w.has["a"] = true; return nil }
	err := Run(ctx, steps, &recorder{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if w.has["b"] {
		t.Error("step b ran after cancellation")
	}
}

func TestStepErrorKeepsExitCode(t *testing.T) {
	steps := []Step{{Name: "wait", Apply: func(context.Context) error { return exitcode.Timeout(errors.New("slow")) }}}
	err := Run(context.Background(), steps, &recorder{})
	if got := exitcode.For(err); got != exitcode.TimedOut {
		t.Errorf("exit code = %d, want %d", got, exitcode.TimedOut)
	}
}

func TestPlan(t *testing.T) {
	w := &world{has: map[string]bool{}}
	got := Plan(w.steps("a", "b"))
	if want := []string{"create a", "create b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Plan = %v, want %v", got, want)
	}
}

// TestFenceStopsBeforeNextStep: a run that may no longer act (it lost its Lease) stops between
// steps, naming the step it did not run, and says a re-run resumes.
func TestFenceStopsBeforeNextStep(t *testing.T) {
	w := &world{has: map[string]bool{}}
	lost := false
	steps := w.steps("a", "b", "c")
	steps[0].Apply = func(context.Context) error { w.has["a"] = true; lost = true; return nil }
	fence := func(context.Context) error {
		if lost {
			return errors.New("lease ns/l was deleted while this restore held it")
		}
		return nil
	}
	r := &recorder{}
	err := Runner{Now: fixedClock(), Fence: fence}.Run(context.Background(), steps, r)
	var se *StepError
	if !errors.As(err, &se) || !se.Fenced || se.Step != "create b" {
		t.Fatalf("err = %v, want a fenced StepError before %q", err, "create b")
	}
	if want := `stopped before step "create b": lease ns/l was deleted while this restore held it; re-run the same command to resume`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if w.has["b"] || w.has["c"] {
		t.Errorf("steps ran after the fence: %v", w.has)
	}
	if last := r.lines[len(r.lines)-1]; last != "✗ create b: lease ns/l was deleted while this restore held it" {
		t.Errorf("last line = %q", last)
	}
}
