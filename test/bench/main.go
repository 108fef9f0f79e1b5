// Command bench measures kubectl pgbackrest on the local cluster against pgBackRest run directly
// on this machine and against the physical limit (tar), and writes the results as markdown and
// JSON. `make bench` starts the cluster, builds the plugin and runs it; see test/bench/README.md.
//
// It is a program, not a timed test: it asserts nothing about speed, it reports.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is what one bench run measures and where; every field comes from the environment.
type Config struct {
	Scale           int      // pgbench scale of the database (BENCH_SCALE, default 50 ≈ 750 MB)
	Runs            int      // measurements per figure (BENCH_RUNS, at least 3 for a median)
	LatencyRuns     int      // runs of each latency figure (BENCH_LATENCY_RUNS)
	ListSizes       []int    // cluster counts for list (BENCH_LIST_SIZES)
	RestoreStorages []string // repositories to restore from (BENCH_RESTORE_STORAGE)
	Phases          []string // which parts to run (BENCH_ONLY; default all)

	OutDir    string // results directory (BENCH_OUT)
	WorkDir   string // host PostgreSQL, direct repository, tar target (BENCH_WORK)
	Namespace string // namespace of the measured cluster
	ListNS    string // namespace of the pod-less clusters counted by list
	Cluster   string

	Image string
	// PGVersion is Image's PostgreSQL major, passed to create --pg-version.
	PGVersion string
	S3        S3Env
}

// S3Env is the local cluster's S3 server as its env file describes it.
type S3Env struct {
	Endpoint, HostEndpoint, Bucket, Region, CA, Key, KeySecret, DataDir string
}

var allPhases = []string{"backup", "tar", "restore", "latency", "api", "outage"}

func (c Config) runs(phase string) bool { return slices.Contains(c.Phases, phase) }

func configFromEnv() (Config, error) {
	c := Config{
		Namespace: "pgbr-bench", ListNS: "pgbr-bench-list", Cluster: "bench",
		OutDir: env("BENCH_OUT", "test/bench/results"),
		// PostgreSQL 15, as the direct runs on this machine are (Debian 12's postgresql-15 and
		// pgBackRest 2.45): the lab's tag of the recipe's 15 image.
		Image:     env("PGBR_BENCH_IMAGE", os.Getenv("PGBR_IMAGE_15")),
		PGVersion: env("PGBR_BENCH_PG_VERSION", "15"),
		S3: S3Env{
			Endpoint: os.Getenv("PGBR_S3_ENDPOINT"), HostEndpoint: os.Getenv("PGBR_S3_HOST_ENDPOINT"),
			Bucket: os.Getenv("PGBR_S3_BUCKET"), Region: os.Getenv("PGBR_S3_REGION"), CA: os.Getenv("PGBR_S3_CA"),
			Key: os.Getenv("PGBR_S3_KEY"), KeySecret: os.Getenv("PGBR_S3_KEY_SECRET"), DataDir: os.Getenv("PGBR_S3_DATA_DIR"),
		},
	}
	// Not under $HOME: the host PostgreSQL runs as the postgres user, who cannot enter /root.
	c.WorkDir = env("BENCH_WORK", "/var/tmp/kubectl-pgbackrest-bench")
	var err error
	if c.Scale, err = intEnv("BENCH_SCALE", 50, 1); err != nil {
		return c, err
	}
	if c.Runs, err = intEnv("BENCH_RUNS", 3, 1); err != nil {
		return c, err
	}
	if c.LatencyRuns, err = intEnv("BENCH_LATENCY_RUNS", 10, 1); err != nil {
		return c, err
	}
	for _, s := range strings.Split(env("BENCH_LIST_SIZES", "1,50,500"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("BENCH_LIST_SIZES=%q: want positive cluster counts separated by commas, e.g. 1,50,500", os.Getenv("BENCH_LIST_SIZES"))
		}
		c.ListSizes = append(c.ListSizes, n)
	}
	slices.Sort(c.ListSizes)
	for _, s := range strings.Split(env("BENCH_RESTORE_STORAGE", "local,s3"), ",") {
		if s != "local" && s != "s3" {
			return c, fmt.Errorf("BENCH_RESTORE_STORAGE: %q is not local or s3", s)
		}
		c.RestoreStorages = append(c.RestoreStorages, s)
	}
	c.Phases = allPhases
	if only := os.Getenv("BENCH_ONLY"); only != "" {
		c.Phases = nil
		for _, p := range strings.Split(only, ",") {
			if !slices.Contains(allPhases, p) {
				return c, fmt.Errorf("BENCH_ONLY: %q is not one of %s", p, strings.Join(allPhases, ","))
			}
			c.Phases = append(c.Phases, p)
		}
	}
	var missing []string
	for _, v := range []string{"KUBECONFIG", "PGBR_IMAGE_15", "PGBR_S3_ENDPOINT", "PGBR_S3_HOST_ENDPOINT", "PGBR_S3_BUCKET",
		"PGBR_S3_REGION", "PGBR_S3_CA", "PGBR_S3_KEY", "PGBR_S3_KEY_SECRET", "PGBR_S3_DATA_DIR"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("%s not set: run through `make bench` (it sources the local cluster's env file)", strings.Join(missing, ", "))
	}
	bins := []string{"kubectl", "kubectl-pgbackrest"}
	if c.runs("backup") || c.runs("tar") { // the direct runs on this machine
		bins = append(bins, "pgbackrest", "runuser", "tar")
	}
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			return c, fmt.Errorf("%s not found on PATH: `make bench` builds the plugin and installs the host's PostgreSQL and pgBackRest", bin)
		}
	}
	return c, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func intEnv(name string, def, min int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, fmt.Errorf("%s=%q: want a whole number of at least %d", name, v, min)
	}
	return n, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config) error {
	start := time.Now()
	b, err := newBench(cfg)
	if err != nil {
		return err
	}
	defer b.cleanup()
	res := &Results{Date: start.UTC(), Scale: cfg.Scale, Runs: cfg.Runs, Machine: DescribeMachine(cfg.WorkDir)}
	if err := b.setup(ctx, res); err != nil {
		return err
	}
	phases := []struct {
		name string
		run  func(context.Context, *Results) error
	}{
		{"backup", b.measureBackups},
		{"tar", b.measureTar},
		{"restore", b.measureRestores},
		{"latency", b.measureLatency},
		{"api", b.measureAPI},
		{"outage", b.measureOutage},
	}
	for _, p := range phases {
		if !cfg.runs(p.name) {
			continue
		}
		logf("== %s", p.name)
		if err := p.run(ctx, res); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	res.Elapsed = time.Since(start).Round(time.Second).String()
	res.Notes = Notes(res)
	md, js, err := res.Write(cfg.OutDir)
	if err != nil {
		return err
	}
	fmt.Print(res.Markdown())
	logf("results written to %s and %s in %s", md, js, res.Elapsed)
	return nil
}
