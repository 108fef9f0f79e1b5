package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Direct is PostgreSQL and pgBackRest run on this machine, as root's postgres user, with no
// Kubernetes in between: the baseline the plugin is compared with. Its repositories are a
// directory on the same disk as the cluster's volumes and the same S3 server (another path).
//
// It also runs the plugin's topology without Kubernetes: a `pgbackrest server` for PostgreSQL on
// 127.0.0.1 and backups that reach it over TLS as the repository host does (TLSConf), so the
// figures tell the cost of that hop from the cost of pods.
type Direct struct {
	Dir, PGData, Conf string
	// TLSConf is the repository side's config of the TLS topology; ServerConf the PostgreSQL
	// side's, for its `pgbackrest server`.
	TLSConf, ServerConf string
	Port                int
	Version             string

	pgBin  string
	as     Command // runs as postgres, with the S3 credentials in its environment
	server *exec.Cmd
}

const (
	directTLSPort   = 58432
	defaultLockPath = "/tmp/pgbackrest"
	directStanza    = "bench"
	directS3Path    = "/bench-direct"
	directPort      = 55432
	pgBinDir        = "/usr/lib/postgresql/15/bin"
)

// NewDirect makes a fresh host cluster the size of the measured one: initdb with data checksums
// (as the pods do), archiving to both repositories, stanza-create, pgbench -i.
func NewDirect(ctx context.Context, cfg Config) (*Direct, error) {
	d := &Direct{Dir: cfg.WorkDir, PGData: filepath.Join(cfg.WorkDir, "pgdata"), Conf: filepath.Join(cfg.WorkDir, "pgbackrest.conf"),
		TLSConf: filepath.Join(cfg.WorkDir, "pgbackrest-tls.conf"), ServerConf: filepath.Join(cfg.WorkDir, "pgbackrest-server.conf"),
		Port: directPort, pgBin: pgBinDir}
	d.as = Command{User: "postgres", Env: []string{
		// Environment, not the config file or a command line, as the pods get them from a Secret.
		"PGBACKREST_REPO2_S3_KEY=" + cfg.S3.Key, "PGBACKREST_REPO2_S3_KEY_SECRET=" + cfg.S3.KeySecret}}
	if _, err := os.Stat(filepath.Join(d.pgBin, "initdb")); err != nil {
		return nil, fmt.Errorf("PostgreSQL 15 is not installed on this machine (%w): apt-get install postgresql-15 pgbackrest", err)
	}
	d.Stop(ctx) // a previous run's server, if any
	for _, sub := range []string{"pgdata", "repo", "run", "log", "lock", "server-lock", "spool", "tar", "tls"} {
		if err := os.RemoveAll(filepath.Join(d.Dir, sub)); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(cfg.S3.DataDir, cfg.S3.Bucket, strings.TrimPrefix(directS3Path, "/"))); err != nil {
		return nil, err
	}
	for _, sub := range []string{"", "repo", "run", "log", "lock", "server-lock", "spool", "tar", "tls"} {
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
	if err := d.writeTLS(); err != nil {
		return nil, err
	}
	for file, conf := range map[string]string{d.Conf: d.config(cfg.S3, false), d.TLSConf: d.config(cfg.S3, true), d.ServerConf: d.serverConfig()} {
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			return nil, err
		}
	}
	if err := chownR(d.Dir, "postgres"); err != nil {
		return nil, err
	}
	// pgBackRest 2.45's remote looks for its stop file in the default lock path whatever
	// lock-path says (pgbackrest issue #1497); a root-owned /tmp/pgbackrest from an earlier run as
	// root makes the TLS topology's backup fail "unable to find primary cluster".
	if err := os.MkdirAll(defaultLockPath, 0o750); err != nil {
		return nil, err
	}
	if err := chownR(defaultLockPath, "postgres"); err != nil {
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
	if err := d.startServer(ctx); err != nil {
		return nil, err
	}
	if _, err := d.as.Run(ctx, "pgbackrest", "--config="+d.TLSConf, "--stanza="+directStanza, "check"); err != nil {
		return nil, fmt.Errorf("pgbackrest check over TLS: %w", err)
	}
	return d, nil
}

// writeTLS issues the TLS topology's certificates for 127.0.0.1's name, as create does for Services.
func (d *Direct) writeTLS() error {
	b, err := certs.Generate([]string{"localhost"}, certs.ClientCN, time.Now(), 24*time.Hour)
	if err != nil {
		return err
	}
	for name, data := range b.SecretData() {
		// pgBackRest refuses a key with group or other permissions.
		if err := os.WriteFile(filepath.Join(d.Dir, "tls", name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (d *Direct) tls(file string) string { return filepath.Join(d.Dir, "tls", file) }

// serverConfig is the PostgreSQL side's `pgbackrest server` config (pkg/pgbackrest RenderDBConfig's
// TLS server part).
func (d *Direct) serverConfig() string {
	return strings.Join(append([]string{
		"[global]",
		"tls-server-address=127.0.0.1",
		"tls-server-port=" + strconv.Itoa(directTLSPort),
		"tls-server-ca-file=" + d.tls(certs.KeyCACert),
		"tls-server-cert-file=" + d.tls(certs.KeyServerCert),
		"tls-server-key-file=" + d.tls(certs.KeyServerKey),
		"tls-server-auth=" + certs.ClientCN + "=" + directStanza,
		"log-level-console=warn",
		"log-level-file=off",
		"lock-path=" + filepath.Join(d.Dir, "server-lock"),
	}, d.stanzaSection()...), "\n") + "\n"
}

// stanzaSection is the stanza's section: where PostgreSQL's data and socket are.
func (d *Direct) stanzaSection() []string {
	return []string{
		"",
		"[" + directStanza + "]",
		"pg1-path=" + d.PGData,
		"pg1-socket-path=" + d.socketDir(),
		"pg1-port=" + strconv.Itoa(d.Port),
	}
}

// startServer starts `pgbackrest server` and waits until it accepts connections.
func (d *Direct) startServer(ctx context.Context) error {
	d.server = exec.Command("runuser", "-u", "postgres", "--", "pgbackrest", "--config="+d.ServerConf, "server")
	d.server.Env = append(os.Environ(), d.as.Env...)
	log, err := os.Create(filepath.Join(d.Dir, "log", "server.log"))
	if err != nil {
		return err
	}
	d.server.Stdout, d.server.Stderr = log, log
	if err := d.server.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(directTLSPort), time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pgbackrest server did not listen on 127.0.0.1:%d within 30s (see %s): %w", directTLSPort, log.Name(), err)
		}
		time.Sleep(100 * time.Millisecond) // a process starting: nothing to watch but its port
	}
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
// viaTLS reaches PostgreSQL through the `pgbackrest server` as the repository host does; otherwise
// pgBackRest reads the data directory itself.
func (d *Direct) config(s3 S3Env, viaTLS bool) string {
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
	}
	lines = append(lines, d.stanzaSection()...)
	if viaTLS {
		lines = append(lines,
			"pg1-host=localhost",
			"pg1-host-type=tls",
			"pg1-host-port="+strconv.Itoa(directTLSPort),
			"pg1-host-ca-file="+d.tls(certs.KeyCACert),
			"pg1-host-cert-file="+d.tls(certs.KeyClientCert),
			"pg1-host-key-file="+d.tls(certs.KeyClientKey))
	}
	return strings.Join(lines, "\n") + "\n"
}

// Backup runs one full backup of the host cluster to repo (1 local, 2 s3) with extra options and
// returns its wall time and what pgBackRest recorded of it.
func (d *Direct) Backup(ctx context.Context, repo int, viaTLS bool, options []string) (Output, pgbackrest.BackupInfo, error) {
	conf := d.Conf
	if viaTLS {
		conf = d.TLSConf
	}
	args := append([]string{"--config=" + conf, "--stanza=" + directStanza, "--repo=" + strconv.Itoa(repo), "--type=full"}, options...)
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

// Stop stops the pgBackRest server and the host PostgreSQL if they run (fast shutdown: the
// bench's data is throwaway).
func (d *Direct) Stop(ctx context.Context) {
	if d.server != nil && d.server.Process != nil {
		_ = d.server.Process.Signal(syscall.SIGTERM) // runuser passes it on to pgbackrest
		_ = d.server.Wait()
		d.server = nil
	}
	// A server a killed bench left behind would hold the port.
	_ = exec.CommandContext(ctx, "pkill", "-f", "pgbackrest --config="+d.ServerConf+" server").Run()
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
