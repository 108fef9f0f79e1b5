package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Setting is a set of pgBackRest backup options compared across the plugin and the direct runs.
type Setting struct {
	Name string
	// Plugin is the plugin's --options value ("" keeps the cluster's config: the plugin's defaults).
	Plugin string
	// Direct are the options of the host's pgBackRest. --start-fast is in both: pgBackRest's default
	// spread checkpoint would measure checkpoint_timeout, not throughput (the plugin adds it too).
	Direct []string
}

var settings = []Setting{
	{Name: "plugin defaults (zst-3, process-max 2)", Plugin: "",
		Direct: []string{"--start-fast", "--compress-type=zst", "--compress-level=3", "--process-max=2"}},
	{Name: "pgBackRest defaults (gz-6, process-max 1)", Plugin: "--compress-type=gz --compress-level=6 --process-max=1",
		Direct: []string{"--start-fast"}},
}

// BackupRow is one way of taking a full backup, measured Runs times.
type BackupRow struct {
	Setting string `json:"setting"`
	Storage string `json:"storage"`
	// Path is "kubectl pgbackrest", "pgbackrest (direct)" or "pgbackrest (direct, via TLS server)".
	Path string `json:"path"`
	// MBps is the database size (MB = 2^20 bytes, as pgBackRest counts) over the wall time of the
	// whole command.
	MBps Summary `json:"mbps"`
	// WallSeconds is the whole command: for the plugin, process start to exit.
	WallSeconds Summary `json:"wallSeconds"`
	// PGBackRestSeconds is pgBackRest's own time for the backup command.
	PGBackRestSeconds Summary `json:"pgbackrestSeconds"`
	// SizeMB is the database size pgBackRest backed up; RepoMB what it stored.
	SizeMB Summary `json:"sizeMB"`
	RepoMB Summary `json:"repoMB"`
}

type backupSample struct{ wall, pgbr, size, repo float64 }

// pluginBackupResult is the part of `kubectl pgbackrest backup -o json` the bench reads.
type pluginBackupResult struct {
	Backups []struct {
		Storage         string  `json:"storage"`
		Label           string  `json:"label"`
		Size            uint64  `json:"size"`
		RepoSize        uint64  `json:"repoSize"`
		DurationSeconds float64 `json:"durationSeconds"`
	} `json:"backups"`
}

const mb = 1 << 20

func (b *bench) measureBackups(ctx context.Context, res *Results) error {
	samples := map[[3]string][]backupSample{}
	key := func(s Setting, storage, path string) [3]string { return [3]string{s.Name, storage, path} }
	for run := 1; run <= b.cfg.Runs; run++ {
		// Interleaved, so that a change in the machine's load touches every figure alike.
		for _, s := range settings {
			for repo, storage := range []string{"local", "s3"} {
				p, err := b.pluginBackup(ctx, storage, s.Plugin)
				if err != nil {
					return err
				}
				samples[key(s, storage, pathPlugin)] = append(samples[key(s, storage, pathPlugin)], p)
				logf("run %d/%d %s, %s, plugin: %.0f MB in %.1fs = %.1f MB/s (pgBackRest %.1fs)", run, b.cfg.Runs, s.Name, storage, p.size, p.wall, p.size/p.wall, p.pgbr)
				for _, path := range []string{pathDirect, pathDirectTLS} {
					d, err := b.directBackup(ctx, repo+1, path == pathDirectTLS, s.Direct)
					if err != nil {
						return err
					}
					samples[key(s, storage, path)] = append(samples[key(s, storage, path)], d)
					logf("run %d/%d %s, %s, %s: %.0f MB in %.1fs = %.1f MB/s", run, b.cfg.Runs, s.Name, storage, path, d.size, d.wall, d.size/d.wall)
				}
			}
		}
	}
	for _, s := range settings {
		for _, storage := range []string{"local", "s3"} {
			for _, path := range []string{pathPlugin, pathDirectTLS, pathDirect} {
				res.Backup = append(res.Backup, backupRow(s.Name, storage, path, samples[key(s, storage, path)]))
			}
		}
	}
	return nil
}

const (
	pathPlugin = "kubectl pgbackrest"
	pathDirect = "pgbackrest (direct)"
	// pathDirectTLS is the plugin's topology without Kubernetes: PostgreSQL reached through a
	// pgbackrest server over TLS.
	pathDirectTLS = "pgbackrest (direct, via TLS server)"
)

func backupRow(setting, storage, path string, ss []backupSample) BackupRow {
	var mbps, wall, pgbr, size, repo []float64
	for _, s := range ss {
		mbps = append(mbps, s.size/s.wall)
		wall = append(wall, s.wall)
		pgbr = append(pgbr, s.pgbr)
		size = append(size, s.size)
		repo = append(repo, s.repo)
	}
	return BackupRow{Setting: setting, Storage: storage, Path: path, MBps: Summarize(mbps), WallSeconds: Summarize(wall),
		PGBackRestSeconds: Summarize(pgbr), SizeMB: Summarize(size), RepoMB: Summarize(repo)}
}

// pluginBackup runs `kubectl pgbackrest backup --type=full` to one repository, the way a user does.
func (b *bench) pluginBackup(ctx context.Context, storage, options string) (backupSample, error) {
	args := []string{"backup", b.cfg.Cluster, "--storage=" + storage, "--type=full", "-o", "json", "--verbose"}
	if options != "" {
		args = append(args, "--options="+options)
	}
	out, err := b.kpg(ctx, args...)
	if err != nil {
		return backupSample{}, err
	}
	var r pluginBackupResult
	if err := json.Unmarshal([]byte(out.Stdout), &r); err != nil || len(r.Backups) != 1 {
		return backupSample{}, fmt.Errorf("reading `backup -o json` (%v): %q", err, tail(out.Stdout, 5))
	}
	set := r.Backups[0]
	s := backupSample{wall: out.Wall.Seconds(), size: float64(set.Size) / mb, repo: float64(set.RepoSize) / mb, pgbr: set.DurationSeconds}
	// pgBackRest's own end line has milliseconds; info's timestamps only seconds.
	if d, ok := PGBackRestDuration(out.Stderr, "backup"); ok {
		s.pgbr = d.Seconds()
	}
	return s, nil
}

func (b *bench) directBackup(ctx context.Context, repo int, viaTLS bool, options []string) (backupSample, error) {
	out, info, err := b.direct.Backup(ctx, repo, viaTLS, options)
	if err != nil {
		return backupSample{}, err
	}
	s := backupSample{wall: out.Wall.Seconds(), size: float64(info.Info.Size) / mb, repo: float64(info.Info.Repository.Size) / mb,
		pgbr: float64(info.Timestamp.Stop - info.Timestamp.Start)}
	if d, ok := PGBackRestDuration(out.Stdout+out.Stderr, "backup"); ok {
		s.pgbr = d.Seconds()
	}
	return s, nil
}

// TarRow is the physical limit: the host's data directory (without pg_wal, which pgBackRest does
// not count either) written by tar to the same disk, synced.
type TarRow struct {
	MBps        Summary `json:"mbps"`
	WallSeconds Summary `json:"wallSeconds"`
	SizeMB      float64 `json:"sizeMB"`
}

func (b *bench) measureTar(ctx context.Context, res *Results) error {
	if b.direct == nil {
		return fmt.Errorf("the host cluster is not set up")
	}
	target := filepath.Join(b.cfg.WorkDir, "tar", "pgdata.tar")
	var mbps, wall []float64
	var size float64
	for run := 1; run <= b.cfg.Runs; run++ {
		_ = os.Remove(target)
		// sync FILE makes the data reach the disk inside the timing, as pgBackRest's own fsyncs do.
		out, err := Command{}.Run(ctx, "sh", "-c", `tar -cf "$1" --exclude=./pg_wal -C "$2" . && sync "$1"`, "tar", target, b.direct.PGData)
		if err != nil {
			return err
		}
		fi, err := os.Stat(target)
		if err != nil {
			return err
		}
		size = float64(fi.Size()) / mb
		mbps = append(mbps, size/out.Wall.Seconds())
		wall = append(wall, out.Wall.Seconds())
		logf("run %d/%d tar: %.0f MB in %.1fs = %.1f MB/s", run, b.cfg.Runs, size, out.Wall.Seconds(), size/out.Wall.Seconds())
	}
	_ = os.Remove(target)
	res.Tar = &TarRow{MBps: Summarize(mbps), WallSeconds: Summarize(wall), SizeMB: size}
	return nil
}
