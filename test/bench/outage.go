package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// The outage phase: what an S3 outage costs the local archive and pg_wal, and how long S3 takes
// to be whole again (issue 11). A local,s3 cluster of its own archives to an S3 server of its own
// (the cluster's versitygw binary on another port, as test/e2e/outage_test.go does), a writer
// completes a segment every second or so, and the server is frozen (SIGSTOP: a hang, as in a
// network partition) for BENCH_OUTAGE seconds.

const (
	outageNamespace = "pgbr-bench-outage"
	outageCluster   = "bench-outage"
	// outageSample is how often the local archive directory is read and the primary reports.
	outageSample = 250 * time.Millisecond
	// outageBaseline is sampled before each freeze: the lag of normal archiving, to compare with.
	outageBaseline = 15 * time.Second
	// outageCheckBound bounds the wait for `check` to pass after the thaw.
	outageCheckBound = 10 * time.Minute
)

// OutageRow is BENCH_RUNS outages of the S3 repository of a local,s3 cluster with a steady writer.
type OutageRow struct {
	OutageSeconds int `json:"outageSeconds"`
	// WriterSegmentsPerSecond is the segments PostgreSQL completed per second during the outage.
	WriterSegmentsPerSecond Summary `json:"writerSegmentsPerSecond"`
	// BaselineWorstLagSeconds and BaselineWorstLagSegments are the longest stretch with the local
	// archive behind and the most segments it lacked, in the outageBaseline before the freeze.
	BaselineWorstLagSeconds  Summary `json:"baselineWorstLagSeconds"`
	BaselineWorstLagSegments Summary `json:"baselineWorstLagSegments"`
	// BaselinePGWalMaxMB and BaselineReadyMax are pg_wal and the .ready files at most before it.
	BaselinePGWalMaxMB Summary `json:"baselinePgWalMaxMB"`
	BaselineReadyMax   Summary `json:"baselineReadyMax"`
	// CurrentAgainSeconds is from the freeze to the end of the outage's longest stretch with the
	// local archive behind: S3 unreachable → the local archive holds the segment before the one
	// PostgreSQL writes again. WorstLagSeconds is that stretch, WorstLagSegments the most
	// completed segments the local archive lacked at once during the outage.
	CurrentAgainSeconds Summary `json:"currentAgainSeconds"`
	WorstLagSeconds     Summary `json:"worstLagSeconds"`
	WorstLagSegments    Summary `json:"worstLagSegments"`
	// pg_wal (sum of pg_ls_waldir) and the .ready files over the outage: the most and at its end.
	PGWalMaxMB Summary `json:"pgWalMaxMB"`
	PGWalEndMB Summary `json:"pgWalEndMB"`
	ReadyMax   Summary `json:"readyMax"`
	ReadyEnd   Summary `json:"readyEnd"`
	// GapAtThawSegments is the S3 gap list's length just before the thaw.
	GapAtThawSegments Summary `json:"gapAtThawSegments"`
	// CheckOKSeconds is from the thaw until `kubectl pgbackrest check` exits 0 (the gap filled),
	// after CheckAttempts runs of it; S3SegmentsAdded is the segments S3's archive gained in
	// that time (the gap copied, and what the writer added).
	CheckOKSeconds  Summary `json:"checkOKSeconds"`
	CheckAttempts   Summary `json:"checkAttempts"`
	S3SegmentsAdded Summary `json:"s3SegmentsAdded"`
}

// outageEnv is what the phase needs beyond Config: the S3 server's binary, certificate and key.
type outageEnv struct {
	serverBin, cert, certKey string
	seconds                  int
}

func outageEnvFromEnv() (outageEnv, error) {
	e := outageEnv{serverBin: os.Getenv("PGBR_S3_SERVER_BIN"), cert: os.Getenv("PGBR_S3_CERT"), certKey: os.Getenv("PGBR_S3_CERT_KEY")}
	if e.serverBin == "" || e.cert == "" || e.certKey == "" {
		return e, errors.New("PGBR_S3_SERVER_BIN, PGBR_S3_CERT and PGBR_S3_CERT_KEY must be set for the outage phase: run through `make bench` (the local cluster's env file has them)")
	}
	var err error
	e.seconds, err = intEnv("BENCH_OUTAGE", 60, 10)
	return e, err
}

// s3Server is the phase's own S3 server: freezing it is an outage of the phase's cluster only.
type s3Server struct {
	endpoint string // node-ip:port
	cmd      *exec.Cmd
}

func startS3Server(cfg Config, e outageEnv) (*s3Server, error) {
	host, _, err := net.SplitHostPort(cfg.S3.HostEndpoint)
	if err != nil {
		return nil, fmt.Errorf("PGBR_S3_HOST_ENDPOINT %q: %w", cfg.S3.HostEndpoint, err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &s3Server{endpoint: net.JoinHostPort(host, strconv.Itoa(port))}
	s.cmd = exec.Command(e.serverBin, "--port", s.endpoint, "--cert", e.cert, "--key", e.certKey, "posix", cfg.S3.DataDir)
	// Credentials through the environment, never argv.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+cfg.S3.Key, "ROOT_SECRET_KEY="+cfg.S3.KeySecret)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the outage's S3 server: %w", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.endpoint, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("the outage's S3 server does not listen on %s: %w", s.endpoint, err)
		}
	}
}

func (s *s3Server) freeze() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *s3Server) thaw() error   { return s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *s3Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// outageRun is one outage's figures.
type outageRun struct {
	baseline, outage lagStats
	currentAgain     time.Duration
	gapAtThaw        int
	checkOK          time.Duration
	checkAttempts    int
	s3Added          int
}

func (b *bench) measureOutage(ctx context.Context, res *Results) error {
	e, err := outageEnvFromEnv()
	if err != nil {
		return err
	}
	// Bounded: the cluster's creation, then each run's baseline, outage and wait for check.
	perRun := outageBaseline + time.Duration(e.seconds)*time.Second + outageCheckBound + time.Minute
	bound := 15*time.Minute + time.Duration(b.cfg.Runs)*perRun
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()

	ns, c := outageNamespace, outageCluster
	names := cluster.Names{Cluster: c}
	s3Repo := filepath.Join(b.cfg.S3.DataDir, b.cfg.S3.Bucket, "backrestrepo", names.RepoHost())
	if err := os.RemoveAll(s3Repo); err != nil {
		return err
	}
	if err := b.freshNamespace(ctx, ns); err != nil {
		return err
	}
	srv, err := startS3Server(b.cfg, e)
	if err != nil {
		return err
	}
	defer func() {
		srv.stop()
		if os.Getenv("BENCH_KEEP") != "" {
			logf("BENCH_KEEP is set: namespace %s and %s are kept", ns, s3Repo)
			return
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		_ = b.client.CoreV1().Namespaces().Delete(cctx, ns, metav1.DeleteOptions{})
		b.forceDeletePods(cctx, ns)
		_ = os.RemoveAll(s3Repo)
	}()
	logf("S3 server of the outage on %s", srv.endpoint)

	s3 := b.plugin
	s3.Env = append(s3.Env, "AWS_ACCESS_KEY_ID="+b.cfg.S3.Key, "AWS_SECRET_ACCESS_KEY="+b.cfg.S3.KeySecret)
	if _, err := s3.Run(ctx, "kubectl", "pgbackrest", "-n", ns, "s3", "configure", "--bucket", b.cfg.S3.Bucket,
		"--endpoint", srv.endpoint, "--region", b.cfg.S3.Region, "--uri-style", "path",
		"--ca-bundle", b.cfg.S3.CA, "--key-from-env"); err != nil {
		return err
	}
	logf("creating cluster %s/%s (local,s3; S3 at %s)", ns, c, srv.endpoint)
	kpg := func(ctx context.Context, args ...string) (Output, error) {
		return b.plugin.Run(ctx, "kubectl", append([]string{"pgbackrest", "-n", ns}, args...)...)
	}
	if _, err := kpg(ctx, "create", c, "--storage=local,s3", "--image", b.cfg.Image, "--pg-version", b.cfg.PGVersion,
		"--pgdata-size", "2Gi", "--repo-size", "2Gi", "--timeout", "8m"); err != nil {
		return err
	}
	b.recordPodVersions(ctx, res, ns, c)
	localArchive, err := b.localArchiveDir(ctx, ns, names)
	if err != nil {
		return err
	}
	s3Archive := filepath.Join(s3Repo, "archive", pgbackrest.DefaultStanza)
	if _, err := b.psqlIn(ctx, ns, c, "create table bench_outage (id bigserial primary key, pad text)"); err != nil {
		return err
	}

	// The writer and the primary's watch run for the whole phase, each bounded inside the pod
	// too (timeout, and the server drops the writer's session once the client is gone).
	boundSeconds := strconv.Itoa(int(bound.Seconds()))
	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	writer := exec.CommandContext(wctx, "kubectl", "-n", ns, "exec", "deploy/"+c, "-c", manifest.ContainerPostgres, "--",
		"timeout", boundSeconds, "psql", "-h", "/var/run/postgresql", "-U", "postgres", "-X", "-v", "ON_ERROR_STOP=1", "-q",
		"-c", "set client_connection_check_interval = '1s'",
		"-c", `do $$ begin for i in 1..`+boundSeconds+` loop
		   insert into bench_outage (pad) select repeat(md5(g::text), 8) from generate_series(1, 2000) g;
		   commit; perform pg_switch_wal(); perform pg_sleep(1);
		 end loop; end $$`)
	if err := writer.Start(); err != nil {
		return fmt.Errorf("starting the writer: %w", err)
	}
	defer func() { stopWriter(); _ = writer.Wait() }()
	w, err := b.watchPrimary(wctx, ns, c, boundSeconds, localArchive)
	if err != nil {
		return err
	}
	defer w.stop()

	logf("check before the first outage")
	if _, err := kpg(ctx, "check", c, "--timeout", "4m"); err != nil {
		return fmt.Errorf("archiving does not work before the outage: %w", err)
	}
	var runs []outageRun
	for run := 1; run <= b.cfg.Runs; run++ {
		r, err := b.outageOnce(ctx, kpg, srv, w, e, ns, c, s3Archive)
		if err != nil {
			return fmt.Errorf("outage %d: %w", run, err)
		}
		logf("outage %d/%d: local current again %.1fs after the freeze (worst stretch %.1fs, %d segments); pg_wal max %.0f MB, .ready max %d; check passed %.1fs after the thaw (%d attempts, gap %d, S3 +%d segments)",
			run, b.cfg.Runs, r.currentAgain.Seconds(), r.outage.WorstLag.Seconds(), r.outage.WorstSegments,
			float64(r.outage.MaxWALBytes)/mb, r.outage.MaxReady, r.checkOK.Seconds(), r.checkAttempts, r.gapAtThaw, r.s3Added)
		runs = append(runs, r)
	}
	res.Outage = outageRow(e.seconds, runs)
	return nil
}

// outageOnce measures a baseline, freezes S3 for the outage, thaws it and runs check until it
// passes.
func (b *bench) outageOnce(ctx context.Context, kpg func(context.Context, ...string) (Output, error),
	srv *s3Server, w *primaryWatch, e outageEnv, ns, c, s3Archive string) (outageRun, error) {
	var r outageRun
	start := time.Now()
	if err := sleep(ctx, outageBaseline); err != nil {
		return r, err
	}
	if err := w.err(); err != nil {
		return r, err
	}
	freeze := time.Now()
	if err := srv.freeze(); err != nil {
		return r, fmt.Errorf("freezing the S3 server: %w", err)
	}
	logf("S3 frozen for %ds", e.seconds)
	thawed := false
	defer func() {
		if !thawed {
			_ = srv.thaw()
		}
	}()
	if err := sleep(ctx, time.Duration(e.seconds)*time.Second); err != nil {
		return r, err
	}
	if out, err := b.plugin.Run(ctx, "kubectl", append([]string{"-n", ns, "exec", "deploy/" + c, "-c", manifest.ContainerPostgres, "--"},
		pgbackrest.ArchiveStatusArgs(cluster.ConfigDir)...)...); err == nil {
		for _, g := range pgbackrest.ParseArchiveStatus(out.Stdout) {
			if g.Storage == pgbackrest.S3 && !g.Lost {
				r.gapAtThaw = g.Segments
			}
		}
	} else {
		logf("warning: reading the gap before the thaw: %v", err)
	}
	s3Before := archivedSet(s3Archive)
	thaw := time.Now()
	if err := srv.thaw(); err != nil {
		return r, fmt.Errorf("thawing the S3 server: %w", err)
	}
	thawed = true
	if err := w.err(); err != nil {
		return r, err
	}
	samples := w.samples()
	r.baseline = analyzeLag(between(samples, start, freeze))
	r.outage = analyzeLag(between(samples, freeze, thaw))
	if r.outage.Samples == 0 {
		return r, errors.New("no sample of the primary during the outage")
	}
	if !r.outage.WorstEnd.IsZero() && r.outage.WorstLag > 0 {
		r.currentAgain = r.outage.WorstEnd.Sub(freeze)
	}
	logf("S3 thawed; running check until it passes")
	for deadline := thaw.Add(outageCheckBound); ; {
		r.checkAttempts++
		out, err := kpg(ctx, "check", c, "--timeout", "4m")
		if err == nil {
			r.checkOK = time.Since(thaw)
			break
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("check still fails %s after the thaw: %w", outageCheckBound, err)
		}
		logf("check %d after the thaw: %s", r.checkAttempts, tail(out.Stdout, 3))
	}
	for s := range archivedSet(s3Archive) {
		if !s3Before[s] {
			r.s3Added++
		}
	}
	return r, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// localArchiveDir is the local repository's archive directory on this node: the hostPath of the
// repository PVC's volume (the local cluster's provisioner).
func (b *bench) localArchiveDir(ctx context.Context, ns string, names cluster.Names) (string, error) {
	pvc, err := b.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, names.RepoPVC(), metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	pv, err := b.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pv.Spec.HostPath == nil {
		return "", fmt.Errorf("PV %s of %s/%s is not a hostPath volume: the outage phase reads the local repository on this node", pv.Name, ns, pvc.Name)
	}
	return filepath.Join(pv.Spec.HostPath.Path, "repo1", "archive", pgbackrest.DefaultStanza), nil
}

// primaryWatch streams the primary's watch query (psql \watch every outageSample) and samples it
// with the local archive directory at the same rate.
type primaryWatch struct {
	mu      sync.Mutex
	latest  primaryView
	seen    time.Time
	list    []walSample
	failure error
	bad     error // the last line that was not a view
	stop    func()
}

func (b *bench) watchPrimary(ctx context.Context, ns, c, boundSeconds, localArchive string) (*primaryWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	interval := strconv.FormatFloat(outageSample.Seconds(), 'f', -1, 64)
	// \watch needs the query in psql's buffer, which -c does not keep: the script comes on stdin,
	// piped inside the pod.
	cmd := exec.CommandContext(ctx, "kubectl", "-n", ns, "exec", "deploy/"+c, "-c", manifest.ContainerPostgres, "--",
		"sh", "-c", `printf '%s\n\\watch %s\n' "$0" "$1" | timeout "$2" psql -h /var/run/postgresql -U postgres -X -At`,
		watchQuery, interval, boundSeconds)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting the primary's watch: %w", err)
	}
	w := &primaryWatch{}
	var wg sync.WaitGroup
	wg.Add(2)
	w.stop = func() { cancel(); wg.Wait() }
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "" {
				continue
			}
			v, err := parseWatchLine(sc.Text())
			w.mu.Lock()
			if err == nil {
				w.latest, w.seen = v, time.Now()
			} else {
				w.bad = err
			}
			w.mu.Unlock()
		}
		err := cmd.Wait()
		w.mu.Lock()
		if ctx.Err() == nil {
			w.failure = fmt.Errorf("the primary's watch ended: %v (last unreadable line: %v)\n%s", err, w.bad, tail(stderr.String(), 10))
		}
		w.mu.Unlock()
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(outageSample)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				local := newestArchived(localArchive)
				w.mu.Lock()
				// A view older than two intervals is not this moment's: skip it.
				if !w.seen.IsZero() && now.Sub(w.seen) <= 2*outageSample {
					w.list = append(w.list, walSample{At: now, primaryView: w.latest, Local: local})
				}
				w.mu.Unlock()
			}
		}
	}()
	return w, nil
}

func (w *primaryWatch) samples() []walSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]walSample(nil), w.list...)
}

func (w *primaryWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failure
}

func outageRow(seconds int, runs []outageRun) *OutageRow {
	col := func(f func(outageRun) float64) Summary {
		var v []float64
		for _, r := range runs {
			v = append(v, f(r))
		}
		return Summarize(v)
	}
	return &OutageRow{
		OutageSeconds: seconds,
		WriterSegmentsPerSecond: col(func(r outageRun) float64 {
			if r.outage.Elapsed <= 0 {
				return 0
			}
			return float64(r.outage.Written) / r.outage.Elapsed.Seconds()
		}),
		BaselineWorstLagSeconds:  col(func(r outageRun) float64 { return r.baseline.WorstLag.Seconds() }),
		BaselineWorstLagSegments: col(func(r outageRun) float64 { return float64(r.baseline.WorstSegments) }),
		BaselinePGWalMaxMB:       col(func(r outageRun) float64 { return float64(r.baseline.MaxWALBytes) / mb }),
		BaselineReadyMax:         col(func(r outageRun) float64 { return float64(r.baseline.MaxReady) }),
		CurrentAgainSeconds:      col(func(r outageRun) float64 { return r.currentAgain.Seconds() }),
		WorstLagSeconds:          col(func(r outageRun) float64 { return r.outage.WorstLag.Seconds() }),
		WorstLagSegments:         col(func(r outageRun) float64 { return float64(r.outage.WorstSegments) }),
		PGWalMaxMB:               col(func(r outageRun) float64 { return float64(r.outage.MaxWALBytes) / mb }),
		PGWalEndMB:               col(func(r outageRun) float64 { return float64(r.outage.EndWALBytes) / mb }),
		ReadyMax:                 col(func(r outageRun) float64 { return float64(r.outage.MaxReady) }),
		ReadyEnd:                 col(func(r outageRun) float64 { return float64(r.outage.EndReady) }),
		GapAtThawSegments:        col(func(r outageRun) float64 { return float64(r.gapAtThaw) }),
		CheckOKSeconds:           col(func(r outageRun) float64 { return r.checkOK.Seconds() }),
		CheckAttempts:            col(func(r outageRun) float64 { return float64(r.checkAttempts) }),
		S3SegmentsAdded:          col(func(r outageRun) float64 { return float64(r.s3Added) }),
	}
}
