package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Deps are what backup, info and check need from the outside world.
type Deps struct {
	Client kubernetes.Interface
	Exec   kube.Executor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ErrOut receives progress, warnings and pgBackRest's own lines; nil discards them.
	ErrOut io.Writer
	// TTY says ErrOut is a terminal: progress is a bar rewritten in place, else periodic lines.
	TTY bool
	// ProgressInterval throttles plain progress lines; 0 means 10 s.
	ProgressInterval time.Duration
	// RetryWait is the pause before retrying a read-only exec; 0 means 1 s.
	RetryWait time.Duration
	// LeaseRecheck bounds each wait for a Lease held by another run (kube.LeaseConfig.Recheck).
	LeaseRecheck time.Duration
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d Deps) errOut() io.Writer {
	if d.ErrOut == nil {
		return io.Discard
	}
	return d.ErrOut
}

// Container is the repository host's container where pgBackRest commands are exec'd.
const Container = manifest.ContainerPGBackRest

// Stanza is the cluster's pgBackRest stanza.
const Stanza = pgbackrest.DefaultStanza

// target reads the cluster and finds its Ready repository host pod: both before anything runs.
func target(ctx context.Context, d Deps, ns, name string) (*cluster.Spec, string, error) {
	spec, _, err := cluster.Get(ctx, d.Client, ns, name)
	if err != nil {
		if errors.Is(err, cluster.ErrNotFound) {
			return nil, "", exitcode.Usage(err)
		}
		return nil, "", kube.Explain(err, "get", "configmaps", ns)
	}
	pod, err := cluster.FindRepoPod(ctx, d.Client, ns, name)
	if err != nil {
		return nil, "", kube.Explain(err, "list", "pods", ns)
	}
	return spec, pod.Name, nil
}

// execRead runs a read-only pgBackRest command and returns its stdout. A transient failure (the
// exec itself broke, not the command) is retried twice: never use it for backup.
func execRead(ctx context.Context, d Deps, ns, pod string, cmd []string) ([]byte, error) {
	return execReadIn(ctx, d, ns, pod, Container, cmd)
}

// execReadIn is execRead in another container of pod.
func execReadIn(ctx context.Context, d Deps, ns, pod, container string, cmd []string) ([]byte, error) {
	wait := d.RetryWait
	if wait == 0 {
		wait = time.Second
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(wait):
			}
		}
		var stdout, stderr bytes.Buffer
		err = d.Exec.Exec(ctx, ns, pod, container, cmd, nil, &stdout, &stderr)
		if err == nil {
			return stdout.Bytes(), nil
		}
		var ee *kube.ExitError
		if errors.As(err, &ee) {
			return nil, commandError(cmd, ee, stderr.String()+stdout.String())
		}
		if ctx.Err() != nil {
			return nil, err
		}
		err = kube.Explain(err, "create", "pods/exec", ns)
		var fe *kube.ForbiddenError
		if errors.As(err, &fe) {
			return nil, err
		}
	}
	return nil, err
}

// commandError explains a pgBackRest command's non-zero exit with its own error line.
func commandError(cmd []string, ee *kube.ExitError, out string) error {
	msg := lastErrorLine(out)
	if msg == "" {
		msg = strings.TrimSpace(lastLines(out, 3))
	}
	if msg == "" {
		return ee
	}
	return fmt.Errorf("%s (exit code %d): %s", strings.Join(cmd, " "), ee.Code, msg)
}

var errorLineRE = regexp.MustCompile(`(?:^|P[0-9]+ +)(ERROR|ASSERT|WARN): (.*)$`)

// levelOf returns "ERROR", "ASSERT" or "WARN" for such a pgBackRest log line, else "".
func levelOf(line string) string {
	m := errorLineRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
	if m == nil {
		return ""
	}
	return m[1]
}

// cleanLine strips the timestamp and process id pgBackRest puts before the level.
func cleanLine(line string) string {
	m := errorLineRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
	if m == nil {
		return strings.TrimSpace(line)
	}
	return m[1] + ": " + m[2]
}

func lastErrorLine(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := levelOf(lines[i]); l == "ERROR" || l == "ASSERT" {
			return cleanLine(lines[i])
		}
	}
	return ""
}

func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lineSplitter feeds complete lines written to its writers to fn, one at a time (stdout and stderr
// are written from different goroutines), Cleaned for the terminal.
type lineSplitter struct {
	mu sync.Mutex
	fn func(line string, stderr bool)
}

type lineWriter struct {
	s      *lineSplitter
	stderr bool
	buf    []byte
}

func (s *lineSplitter) writer(stderr bool) *lineWriter {
	return &lineWriter{s: s, stderr: stderr}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := output.Clean(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
		w.s.fn(line, w.stderr)
	}
	return len(p), nil
}

// flush passes on a last line without a newline.
func (w *lineWriter) flush() {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if len(w.buf) > 0 {
		w.s.fn(output.Clean(strings.TrimRight(string(w.buf), "\r")), w.stderr)
		w.buf = nil
	}
}
