package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Direct is PostgreSQL and pgBackRest run on this machine, as root's postgres user, with no
// Kubernetes in between: the baseline the plugin is compared with. Its repositories are a
// directory on the same disk as the cluster's volumes and the same S3 server (another path).
type Direct struct {
	Dir, PGData, Conf string
	Port              int
	Version           string

	pgBin string
	as    Command // runs as postgres, with the S3 credentials in its environment
}

const (
	directStanza = "bench"
	directS3Path = "/bench-direct"
	directPort   = 55432
	pgBinDir     = "/usr/lib/postgresql/15/bin"
)

// NewDirect makes a fresh host cluster the size of the measured one: initdb with data checksums
// (as the pods do), archiving to both repositories, stanza-create, pgbench -i.
func NewDirect(ctx context.Context, cfg Config) (*Direct, error) {
	d := &Direct{Dir: cfg.WorkDir, PGData: filepath.Join(cfg.WorkDir, "pgdata"), Conf: filepath.Join(cfg.WorkDir, "pgbackrest.conf"),
		Port: directPort, pgBin: pgBinDir}
	d.as = Command{User: "postgres", Env: []string{
		// Environment, not the config file or a command line, as the pods get them from a Secret.
		"PGBACKREST_REPO2_S3_KEY=" + cfg.S3.Key, "PGBACKREST_REPO2_S3_KEY_SECRET=" + cfg.S3.KeySecret}}
	if _, err := os.Stat(filepath.Join(d.pgBin, "initdb")); err != nil {
		return nil, fmt.Errorf("PostgreSQL 15 is not installed on this machine (%w): apt-get install postgresql-15 pgbackrest", err)
	}
	d.Stop(ctx) // a previous run's server, if any
	for _, sub := range []string{"pgdata", "repo", "run", "log", "lock", "spool", "tar"} {
		if err := os.RemoveAll(filepath.Join(d.Dir, sub)); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(cfg.S3.DataDir, cfg.S3.Bucket, strings.TrimPrefix(directS3Path, "/"))); err != nil {
		return nil, err
	}
	for _, sub := range []string{"", "repo", "run", "log", "lock", "spool", "tar"} {
		if err := os.MkdirAll(filepath.Join(d.Dir, sub), 0o750); err != nil {
			return nil, err
		}
	}
	ca, err := os.ReadFile(cfg.S3.CA)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "s3-ca.crt"), ca, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.Conf, []byte(d.config(cfg.S3)), 0o644); err != nil {
		return nil, err
	}
	if err := chownR(d.Dir, "postgres"); err != nil {
		return nil, err
	}
	out, err := d.as.Run(ctx, "pgbackrest", "version")
	if err != nil {
		return nil, err
	}
	d.Version = strings.TrimPrefix(strings.TrimSpace(out.Stdout), "pgBackRest ")
	logf("host: initdb, start PostgreSQL on port %d, stanza-create, pgbench -i -s %d", d.Port, cfg.Scale)
	steps := [][]string{
		{filepath.Join(d.pgBin, "initdb"), "-D", d.PGData, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--data-checksums"},
		{filepath.Join(d.pgBin, "pg_ctl"), "start", "-w", "-D", d.PGData, "-l", filepath.Join(d.Dir, "log", "postgresql.log"), "-o", d.serverOptions()},
		{"pgbackrest", "--config=" + d.Conf, "--stanza=" + directStanza, "stanza-create"},
		{filepath.Join(d.pgBin, "pgbench"), "-i", "-q", "-s", strconv.Itoa(cfg.Scale), "-h", d.socketDir(), "-p", strconv.Itoa(d.Port), "postgres"},
		{"pgbackrest", "--config=" + d.Conf, "--stanza=" + directStanza, "check"},
	}
	for _, s := range steps {
		if _, err := d.as.Run(ctx, s[0], s[1:]...); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Direct) socketDir() string { return filepath.Join(d.Dir, "run") }

// serverOptions are the pods' settings (postgresScript in pkg/manifest) on a private port and socket.
func (d *Direct) serverOptions() string {
	return fmt.Sprintf("-c port=%d -c listen_addresses='' -c unix_socket_directories=%s -c wal_level=replica -c max_wal_senders=3"+
		" -c archive_mode=on -c \"archive_command=pgbackrest --config=%s --stanza=%s archive-push %%p\"",
		d.Port, d.socketDir(), d.Conf, directStanza)
}

// config mirrors the repository host's config of the plugin (pkg/pgbackrest RenderRepoConfig) with
// the host's paths, minus compress-type, compress-level and process-max: each backup says those.
func (d *Direct) config(s3 S3Env) string {
	host, port, err := net.SplitHostPort(s3.HostEndpoint)
	if err != nil {
		host, port = s3.HostEndpoint, "443"
	}
	lines := []string{
		"[global]",
		"repo1-path=" + filepath.Join(d.Dir, "repo"),
		"repo1-retention-full=2",
		"repo2-type=s3",
		"repo2-path=" + directS3Path,
		"repo2-s3-bucket=" + s3.Bucket,
		"repo2-s3-endpoint=" + host,
		"repo2-storage-port=" + port,
		"repo2-s3-region=" + s3.Region,
		"repo2-s3-uri-style=path",
		"repo2-storage-ca-file=" + filepath.Join(d.Dir, "s3-ca.crt"),
		"repo2-retention-full=2",
		"io-timeout=30",
		"archive-timeout=60",
		"log-level-console=info",
		"log-level-file=off",
		"log-path=" + filepath.Join(d.Dir, "log"),
		"lock-path=" + filepath.Join(d.Dir, "lock"),
		"spool-path=" + filepath.Join(d.Dir, "spool"),
		"",
		"[" + directStanza + "]",
		"pg1-path=" + d.PGData,
		"pg1-socket-path=" + d.socketDir(),
		"pg1-port=" + strconv.Itoa(d.Port),
	}
	return strings.Join(lines, "\n") + "\n"
}

// Backup runs one full backup of the host cluster to repo (1 local, 2 s3) with extra options and
// returns its wall time and what pgBackRest recorded of it.
func (d *Direct) Backup(ctx context.Context, repo int, options []string) (Output, pgbackrest.BackupInfo, error) {
	args := append([]string{"--config=" + d.Conf, "--stanza=" + directStanza, "--repo=" + strconv.Itoa(repo), "--type=full"}, options...)
	out, err := d.as.Run(ctx, "pgbackrest", append(args, "backup")...)
	if err != nil {
		return out, pgbackrest.BackupInfo{}, err
	}
	info, err := d.as.Run(ctx, "pgbackrest", "--config="+d.Conf, "--stanza="+directStanza, "--repo="+strconv.Itoa(repo), "--output=json", "info")
	if err != nil {
		return out, pgbackrest.BackupInfo{}, err
	}
	last, err := lastFull(info.Stdout, directStanza, repo)
	return out, last, err
}

// lastFull returns the newest full backup of repo in `pgbackrest info --output=json` output.
func lastFull(infoJSON, stanza string, repo int) (pgbackrest.BackupInfo, error) {
	stanzas, err := pgbackrest.ParseInfo([]byte(infoJSON))
	if err != nil {
		return pgbackrest.BackupInfo{}, err
	}
	st, err := pgbackrest.FindStanza(stanzas, stanza)
	if err != nil {
		return pgbackrest.BackupInfo{}, err
	}
	for i := len(st.Backup) - 1; i >= 0; i-- {
		if b := st.Backup[i]; b.Type == "full" && b.Database.RepoKey == repo {
			return b, nil
		}
	}
	return pgbackrest.BackupInfo{}, fmt.Errorf("no full backup in repo%d of stanza %s", repo, stanza)
}

// Stop stops the host PostgreSQL if it runs (fast shutdown: the bench's data is throwaway).
func (d *Direct) Stop(ctx context.Context) {
	if _, err := os.Stat(filepath.Join(d.PGData, "postmaster.pid")); err != nil {
		return
	}
	_, _ = d.as.Run(ctx, filepath.Join(d.pgBin, "pg_ctl"), "stop", "-w", "-m", "fast", "-D", d.PGData)
}

func chownR(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %s: %w (the postgresql package creates it)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
