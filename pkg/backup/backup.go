package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Purpose is written to the Lease while a backup holds it.
const Purpose = "backup"

// Config is one `kubectl pgbackrest backup` run, validated by the caller.
type Config struct {
	Namespace, Cluster string
	// Storages are the repositories to back up to, one backup each, in order; nil takes the
	// cluster's storage when it has one, else local.
	Storages []pgbackrest.Storage
	// Type is full, diff or incr (pgBackRest makes a full one when none exists).
	Type string
	// Options are extra pgBackRest options from pgbackrest.ParseOptions(pgbackrest.Backup, ...).
	Options []string
	// Verbose shows pgBackRest's detail lines instead of hiding them behind the progress display.
	Verbose bool
	// Holder identifies this run in the Lease (kube.Holder()).
	Holder string
	// Timeout bounds the whole run; 0 means none.
	Timeout time.Duration
}

// Result is what a backup run made: one set per repository. It is what `backup -o json` prints.
type Result struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Backups are in the order they were taken.
	Backups []Set `json:"backups"`
}

// Set is one backup set just taken, as `pgbackrest info --set` describes it.
type Set struct {
	Storage pgbackrest.Storage `json:"storage"`
	Repo    int                `json:"repo"`
	Label   string             `json:"label"`
	Type    string             `json:"type"`
	Start   time.Time          `json:"start"`
	Stop    time.Time          `json:"stop"`
	// Size is the database size; Delta the part of it this set copied.
	Size  uint64 `json:"size"`
	Delta uint64 `json:"delta"`
	// RepoSize and RepoDelta are the same as stored in the repository (compressed).
	RepoSize  uint64 `json:"repoSize"`
	RepoDelta uint64 `json:"repoDelta"`
	WALStart  string `json:"walStart"`
	WALStop   string `json:"walStop"`
	// DurationSeconds is stop minus start as pgBackRest records them (whole seconds), or the exec's
	// own duration when that is shorter than a second.
	DurationSeconds float64 `json:"durationSeconds"`
	// ThroughputMBps is Size per second, in MB (2^20 bytes, as pgBackRest counts) per second.
	ThroughputMBps float64 `json:"throughputMBps"`
}

// Table implements output.Tabler.
func (r *Result) Table() ([]string, [][]string) {
	headers := []string{"storage", "label", "type", "size", "repo size", "duration", "throughput"}
	rows := make([][]string, 0, len(r.Backups))
	for _, s := range r.Backups {
		rows = append(rows, []string{RepoName(s.Storage), s.Label, s.Type, FormatBytes(s.Size), FormatBytes(s.RepoSize),
			output.FormatDuration(time.Duration(s.DurationSeconds * float64(time.Second))),
			fmt.Sprintf("%.1fMB/s", s.ThroughputMBps)})
	}
	return headers, rows
}

// Run takes one backup per storage, one after the other, holding the cluster's Lease throughout.
// It never retries a backup. On error the result holds the sets already taken.
func Run(ctx context.Context, d Deps, cfg Config) (*Result, error) {
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	spec, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	// A restore half done has stopped (or replaced) the primary: a backup now would back up
	// the wrong data or fail half way, and its expire could remove the set being restored.
	if err := cluster.RefuseMidRestore(ctx, d.Client, cfg.Namespace, cfg.Cluster, "backup"); err != nil {
		return nil, refused(err)
	}
	storages, err := BackupStorages(spec, cfg.Storages)
	if err != nil {
		return nil, err
	}
	lease, err := kube.AcquireLease(ctx, d.Client, spec.LeaseConfig(cfg.Holder, Purpose, cluster.RoleBackup, d.now, d.LeaseRecheck, d.errOut()))
	if err != nil {
		return nil, fmt.Errorf("backup of cluster %s refused: %w", cfg.Cluster, err)
	}
	defer func() {
		// Ctrl-C or --timeout must still free the Lease (Release is bounded by itself).
		if err := lease.Release(ctx); err != nil {
			output.Warn(d.errOut(), nil, "%v", err)
		}
	}()

	res := &Result{Cluster: cfg.Cluster, Namespace: cfg.Namespace}
	for i, s := range storages {
		if err := lease.Check(ctx); err != nil {
			return res, fenced(err, cfg, storages[i:])
		}
		if len(storages) > 1 {
			fmt.Fprintf(d.errOut(), "backup %d of %d: %s\n", i+1, len(storages), RepoName(s))
		}
		set, err := runOne(ctx, d, cfg, pod, s)
		if err != nil {
			return res, err
		}
		res.Backups = append(res.Backups, *set)
		fmt.Fprintf(d.errOut(), "✓ %s backup %s to %s: %s (%s in the repository) in %s, %.1fMB/s\n",
			set.Type, set.Label, RepoName(s), FormatBytes(set.Size), FormatBytes(set.RepoSize),
			output.FormatDuration(time.Duration(set.DurationSeconds*float64(time.Second))), set.ThroughputMBps)
	}
	// The sets are taken; a Lease lost during the last one is told, not an error.
	if err := lease.Check(ctx); err != nil {
		output.Warn(d.errOut(), nil, "%v: another backup or restore may have run beside this one; see `kubectl pgbackrest info %s`", err, cfg.Cluster)
	}
	return res, nil
}

// TakeOne takes one backup to storage s for a caller that already holds the cluster's Lease and
// has checked the cluster itself (restore --backup-after): the same detached run as Run's, with
// --start-fast unless cfg.Options choose otherwise.
func TakeOne(ctx context.Context, d Deps, cfg Config, s pgbackrest.Storage) (*Set, error) {
	_, pod, err := target(ctx, d, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	return runOne(ctx, d, cfg, pod, s)
}

// fenced explains a backup stopped because it lost its Lease, before the backups in left.
func fenced(err error, cfg Config, left []pgbackrest.Storage) error {
	names := make([]string, len(left))
	for i, s := range left {
		names[i] = string(s)
	}
	typ := ""
	if cfg.Type != "" {
		typ = " --type=" + cfg.Type
	}
	return fmt.Errorf("%w; stopped before the backup to %s so that two runs never act on cluster %s at once; "+
		"take what is left with: kubectl pgbackrest backup %s -n %s --storage=%s%s",
		err, RepoName(left[0]), cfg.Cluster, cfg.Cluster, cfg.Namespace, strings.Join(names, ","), typ)
}

// runOne takes one backup to storage s and describes it.
func runOne(ctx context.Context, d Deps, cfg Config, pod string, s pgbackrest.Storage) (*Set, error) {
	repo := pgbackrest.RepoKey(s)
	cmd := pgbackrest.BackupArgs(Stanza, repo, cfg.Type, withStartFast(cfg.Options))
	st := newStream(d, cfg.Verbose, RepoName(s))
	split := &lineSplitter{fn: st.line}
	stdout, stderr := split.writer(false), split.writer(true)
	start := d.now()
	err := d.Exec.Exec(ctx, cfg.Namespace, pod, Container, detached(cmd), nil, stdout, stderr)
	stdout.flush()
	stderr.flush()
	st.finish()
	elapsed := d.now().Sub(start)
	if err != nil {
		var ee *kube.ExitError
		switch {
		case ctx.Err() != nil:
			return nil, interrupted(ctx, d, cfg, pod, s)
		case errors.As(err, &ee):
			msg := st.lastError
			if msg == "" {
				msg = "pgBackRest printed no error line; re-run with --verbose to see its whole output"
			}
			return nil, fmt.Errorf("backup to %s failed (pgbackrest exit code %d): %s", RepoName(s), ee.Code, msg)
		default:
			// The exec stream broke, not pgBackRest: it may still be running. Never retry.
			running := stillRunningNote(ctx, d, cfg, pod)
			return nil, fmt.Errorf("backup to %s: %w; %s", RepoName(s), kube.Explain(err, "create", "pods/exec", cfg.Namespace), running)
		}
	}
	if st.label == "" {
		return nil, fmt.Errorf("backup to %s finished but pgBackRest printed no backup label; see `kubectl pgbackrest info %s`", RepoName(s), cfg.Cluster)
	}
	out, err := execRead(ctx, d, cfg.Namespace, pod, pgbackrest.InfoSetArgs(Stanza, repo, st.label))
	if err != nil {
		return nil, fmt.Errorf("backup %s to %s succeeded, but reading its details failed: %w", st.label, RepoName(s), err)
	}
	set, err := describeSet(out, s, st.label, elapsed)
	if err != nil {
		return nil, fmt.Errorf("backup %s to %s succeeded, but reading its details failed: %w", st.label, RepoName(s), err)
	}
	return set, nil
}

// detachScript runs a command with its output in a file and streams that file. pgBackRest must
// not write to the exec stream itself: once the stream is gone (Ctrl-C, --timeout, a broken
// connection) nobody reads that pipe, and pgBackRest blocks on its next log line forever (seen at
// 99.99 %: the backup never finishes and keeps its lock). A file never blocks; tail may, and is
// killed once the command has ended. The script exits with the command's status.
//
// tail checks for the command's end every 0.2 s (its default is 1 s), and the watchdog that kills
// a stuck tail holds none of the stream's descriptors and is itself killed: the exec ends as soon
// as the command does (a watchdog sharing the stream kept every backup open 5 s longer, found by
// make bench).
const detachScript = `log=$(mktemp /tmp/pgbackrest-backup.XXXXXX) || exit 1
"$@" >"$log" 2>&1 &
pid=$!
tail -s 0.2 -n +1 -f --pid="$pid" "$log" &
tailpid=$!
wait "$pid"
rc=$?
(sleep 5; kill "$tailpid" 2>/dev/null) </dev/null >/dev/null 2>&1 &
watchdog=$!
wait "$tailpid" 2>/dev/null
kill "$watchdog" 2>/dev/null
rm -f "$log"
exit "$rc"`

// detached wraps cmd in detachScript.
func detached(cmd []string) []string {
	return append([]string{"sh", "-c", detachScript, "sh"}, cmd...)
}

// runningPattern matches the command line of the main `pgbackrest ... backup` process only (not
// its backup:local workers, nor the shell around it).
const runningPattern = "^pgbackrest .* backup$"

// withStartFast adds --start-fast unless the user chose either way: pgBackRest's default waits
// for PostgreSQL's next scheduled checkpoint (up to checkpoint_timeout, 5 minutes by default),
// which someone running a backup from a terminal does not expect.
func withStartFast(opts []string) []string {
	for _, o := range opts {
		if o == "--start-fast" || o == "--no-start-fast" || strings.HasPrefix(o, "--start-fast=") {
			return opts
		}
	}
	return append(slices.Clone(opts), "--start-fast")
}

// describeSet reads `info --output=json --set=label` into a Set.
func describeSet(infoJSON []byte, s pgbackrest.Storage, label string, elapsed time.Duration) (*Set, error) {
	stanzas, err := pgbackrest.ParseInfo(infoJSON)
	if err != nil {
		return nil, err
	}
	stanza, err := pgbackrest.FindStanza(stanzas, Stanza)
	if err != nil {
		return nil, err
	}
	repo := pgbackrest.RepoKey(s)
	b, ok := stanza.FindBackup(repo, label)
	if !ok {
		return nil, fmt.Errorf("backup set %s is not in repo%d", label, repo)
	}
	set := &Set{
		Storage: s, Repo: repo, Label: b.Label, Type: b.Type,
		Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
		Size: b.Info.Size, Delta: b.Info.Delta, RepoSize: b.Info.Repository.Size, RepoDelta: b.Info.Repository.Delta,
		WALStart: b.Archive.Start, WALStop: b.Archive.Stop,
	}
	d := set.Stop.Sub(set.Start)
	if d < time.Second {
		d = elapsed
	}
	if d > 0 {
		set.DurationSeconds = d.Seconds()
		set.ThroughputMBps = float64(set.Size) / (1 << 20) / d.Seconds()
	}
	return set, nil
}

// interrupted explains a backup whose exec ended with the context: Ctrl-C or --timeout. pgBackRest
// may go on in the pod either way.
func interrupted(ctx context.Context, d Deps, cfg Config, pod string, s pgbackrest.Storage) error {
	note := stillRunningNote(ctx, d, cfg, pod)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitcode.Timeout(fmt.Errorf("backup to %s did not finish within --timeout %s; %s", RepoName(s), cfg.Timeout, note))
	}
	return fmt.Errorf("backup to %s interrupted (%w); %s", RepoName(s), ctx.Err(), note)
}

// stillRunningNote says whether `pgbackrest backup` still runs in the repository host pod, and how
// to follow it. It uses a fresh short context: the run's own is already done.
func stillRunningNote(ctx context.Context, d Deps, cfg Config, pod string) string {
	see := fmt.Sprintf("kubectl exec -n %s %s -c %s -- pgbackrest --stanza=%s info", cfg.Namespace, pod, Container, Stanza)
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := d.Exec.Exec(qctx, cfg.Namespace, pod, Container, []string{"pgrep", "-f", runningPattern}, nil, &out, io.Discard)
	var ee *kube.ExitError
	switch {
	case err == nil:
		pids := strings.Fields(out.String())
		return fmt.Sprintf("pgbackrest backup is still running in pod %s (pid %s) and finishes on its own; follow it with: %s",
			pod, strings.Join(pids, ", "), see)
	case errors.As(err, &ee) && ee.Code == 1:
		return fmt.Sprintf("pgbackrest backup is no longer running in pod %s; the next backup resumes or cleans up what it left; see: %s", pod, see)
	default:
		return fmt.Sprintf("could not tell whether pgbackrest backup still runs in pod %s (%v); see: %s", pod, err, see)
	}
}

// stream turns pgBackRest's console output into a progress display, keeping the label and the
// last error line.
type stream struct {
	d        Deps
	verbose  bool
	name     string
	progress *output.Progress
	start    time.Time

	label     string
	lastError string
	percent   float64
	bytes     int64
	files     int
}

func newStream(d Deps, verbose bool, name string) *stream {
	interval := d.ProgressInterval
	if interval == 0 {
		interval = 10 * time.Second
	}
	return &stream{d: d, verbose: verbose, name: name, start: d.now(),
		progress: output.NewProgress(d.errOut(), d.TTY, interval, d.now)}
}

func (s *stream) line(l string, fromStderr bool) {
	if p, ok := pgbackrest.ParseProgress(l); ok {
		s.percent, s.files = p.Percent, s.files+1
		s.bytes += p.Bytes
		if s.verbose {
			s.print(l)
		}
		s.progress.Update(s.message())
		return
	}
	if label, ok := pgbackrest.ParseBackupLabel(l); ok {
		s.label = label
	}
	level := levelOf(l)
	if level == "ERROR" || level == "ASSERT" {
		s.lastError = cleanLine(l)
	}
	if s.verbose || fromStderr || level != "" {
		s.print(l)
	}
}

// print writes a line of pgBackRest's below the progress display.
func (s *stream) print(l string) {
	if s.d.TTY {
		s.progress.Finish() // clears the bar; the next Update draws it again
	}
	fmt.Fprintln(s.d.errOut(), l)
}

func (s *stream) finish() {
	s.progress.Finish()
}

// message is the progress line: a bar on a terminal, plain text otherwise.
func (s *stream) message() string {
	elapsed := s.d.now().Sub(s.start).Round(time.Second)
	text := fmt.Sprintf("%5.1f%%  %s in %d files  %s", s.percent, FormatBytes(uint64(s.bytes)), s.files, output.FormatDuration(elapsed))
	if !s.d.TTY {
		return fmt.Sprintf("backup to %s: %s", s.name, text)
	}
	const width = 30
	n := int(s.percent / 100 * width)
	n = max(0, min(width, n))
	return fmt.Sprintf("%s [%s%s] %s", s.name, strings.Repeat("#", n), strings.Repeat("-", width-n), text)
}

// FormatBytes renders a size the way pgBackRest does (1024-based, one decimal): 512B, 1.5KB, 97.3MB.
func FormatBytes(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	v := float64(b)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", b)
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

// refused marks a refusal to run beside a restore as a usage error (nothing was changed).
func refused(err error) error {
	if errors.Is(err, cluster.ErrRestoreInProgress) {
		return exitcode.Usage(err)
	}
	return err
}
