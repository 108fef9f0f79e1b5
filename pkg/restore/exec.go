package restore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// capture runs cmd in a pod's container and returns its stdout; a failure carries its stderr.
func capture(ctx context.Context, d Deps, ns, pod, container string, cmd []string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := d.Exec.Exec(ctx, ns, pod, container, cmd, nil, &stdout, &stderr)
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return stdout.String(), fmt.Errorf("%w: %s", err, lastLines(msg, 5))
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// psql runs one SQL statement as the postgres superuser over the primary pod's unix socket and
// returns its unaligned, tuples-only output.
func psql(ctx context.Context, d Deps, ns, pod, sql string) (string, error) {
	// Bounded three ways: connecting, the statement on the server, and the exec itself (a pod
	// whose container hangs, or a stream the network drops without a reset).
	cmd := []string{"env", "PGCONNECT_TIMEOUT=10", "PGOPTIONS=-c statement_timeout=60s",
		"psql", "-h", cluster.SocketDir, "-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-q",
		"-v", "ON_ERROR_STOP=1", "-c", sql}
	ctx, cancel := context.WithTimeout(ctx, psqlTimeout)
	defer cancel()
	out, err := capture(ctx, d, ns, pod, manifest.ContainerPostgres, cmd)
	if err != nil {
		return "", fmt.Errorf("running %q in pod %s/%s: %w", sql, ns, pod, err)
	}
	return strings.TrimSpace(out), nil
}

// psqlTimeout bounds one psql exec: connect (10 s) plus the statement (60 s) plus slack.
const psqlTimeout = 90 * time.Second

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RecoveryState is where a restored PostgreSQL stands.
type RecoveryState struct {
	Pod string `json:"pod"`
	// InRecovery is pg_is_in_recovery().
	InRecovery bool `json:"inRecovery"`
	// Paused is pg_get_wal_replay_pause_state() = 'paused'.
	Paused bool `json:"paused"`
	// ReplayTimestamp is pg_last_xact_replay_timestamp(): the last transaction replayed.
	ReplayTimestamp string `json:"replayTimestamp,omitempty"`
}

// recoveryState asks the primary where recovery stands.
func recoveryState(ctx context.Context, d Deps, spec *cluster.Spec) (*RecoveryState, error) {
	pod, err := cluster.FindPrimaryPod(ctx, d.Client, spec.Namespace, spec.Name)
	if err != nil {
		return nil, err
	}
	out, err := psql(ctx, d, pod.Namespace, pod.Name,
		"select pg_is_in_recovery(), case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() else '' end, "+
			"coalesce(to_char(pg_last_xact_replay_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00'), '')")
	if err != nil {
		return nil, err
	}
	f := strings.Split(out, "|")
	if len(f) != 3 {
		return nil, fmt.Errorf("unexpected answer %q from PostgreSQL in pod %s", out, pod.Name)
	}
	return &RecoveryState{Pod: pod.Name, InRecovery: f[0] == "t", Paused: f[1] == "paused", ReplayTimestamp: f[2]}, nil
}

// WaitRecovery polls the primary until it is out of recovery or recovery paused (at the target,
// or where PostgreSQL's defaults stop it), bounded by timeout. There is no watch for it: the
// state lives inside PostgreSQL.
func WaitRecovery(ctx context.Context, d Deps, spec *cluster.Spec, timeout time.Duration) (*RecoveryState, error) {
	d.defaults()
	deadline := d.Now().Add(timeout)
	var last error
	for {
		st, err := recoveryState(ctx, d, spec)
		if err == nil && (!st.InRecovery || st.Paused) {
			return st, nil
		}
		if err == nil {
			last = fmt.Errorf("still replaying WAL (last replayed transaction at %s)", orNone(st.ReplayTimestamp))
		} else {
			last = err
			// PostgreSQL accepts read-only connections once consistent, so the Deployment was
			// available; a recovery that then cannot reach its target ends the container.
			if pod, line, log, failed := checkRecoveryFailed(ctx, d, spec); failed {
				return nil, &RecoveryTargetError{Pod: pod, Line: line, Log: log, Namespace: spec.Namespace, Cluster: spec.Name}
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !d.Now().Before(deadline) {
			return nil, &kube.TimeoutError{Kind: "deployment", Namespace: spec.Namespace, Name: spec.Names().Primary(),
				What: "to leave recovery (pg_is_in_recovery() = false)", Timeout: timeout, Last: last.Error()}
		}
		if err := kube.Sleep(ctx, d.Poll); err != nil {
			return nil, err
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none yet"
	}
	return s
}

// Check runs `pgbackrest check` of each of storages, with that repository's own configuration, in
// the repository host pod. It is read-only (it switches and archives one WAL segment), so a
// failure is retried twice: right after a promotion the first segments of the new timeline may
// still be on their way. A restore checks only the repository it restored from, so that it
// completes while another repository is down (archiving isolates them).
func Check(ctx context.Context, d Deps, spec *cluster.Spec, storages ...pgbackrest.Storage) error {
	d.defaults()
	if len(storages) == 0 {
		storages = spec.Storages
	}
	var err error
	for _, s := range storages {
		for attempt := 0; attempt < 3; attempt++ {
			if attempt > 0 {
				if serr := kube.Sleep(ctx, 5*time.Second); serr != nil {
					return serr
				}
			}
			p, ferr := cluster.FindRepoPod(ctx, d.Client, spec.Namespace, spec.Name)
			if ferr != nil {
				err = ferr
				continue
			}
			_, err = capture(ctx, d, spec.Namespace, p.Name, manifest.ContainerPGBackRest, pgbackrest.CheckRepoArgs(pgbackrest.DefaultStanza, s, cluster.ConfigDir))
			if err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("pgbackrest check of %s (repo%d) on cluster %s: %w; archiving there does not work yet: see `kubectl pgbackrest check %s --storage=%s`",
				s, pgbackrest.RepoKey(s), spec.Name, err, spec.Name, s)
		}
	}
	return nil
}

// logWriter turns pgBackRest's streamed log into progress: file lines become one progress line,
// other lines are printed as they come, indented.
type logWriter struct {
	mu       sync.Mutex
	out      io.Writer
	progress *output.Progress
	buf      []byte
	tail     []string
}

func newLogWriter(w io.Writer, tty bool, now func() time.Time) *logWriter {
	return &logWriter{out: w, progress: output.NewProgress(w, tty, 5*time.Second, now)}
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *logWriter) line(s string) {
	s = output.Clean(strings.TrimRight(s, "\r"))
	l.tail = append(l.tail, s)
	if len(l.tail) > 30 {
		l.tail = l.tail[1:]
	}
	if pr, ok := pgbackrest.ParseProgress(s); ok {
		l.progress.Update(fmt.Sprintf("  %5.1f%% %s", pr.Percent, pr.File))
		return
	}
	// Detail lines (paths created and synced) stay in the tail for a failure report only.
	if strings.TrimSpace(s) == "" || strings.Contains(s, " DETAIL: ") || strings.Contains(s, " DEBUG: ") {
		return
	}
	fmt.Fprintf(l.out, "  | %s\n", s)
}

// Close flushes a last unterminated line and ends the progress display.
func (l *logWriter) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
	l.progress.Finish()
}

// copyLines streams r into w until r ends.
func copyLines(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if _, err := w.Write(append(sc.Bytes(), '\n')); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
