package pgbackrest

import (
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Storage names a kind of pgBackRest repository a cluster uses.
type Storage string

const (
	// Local is a posix repository on the repository host's PVC, always repo1.
	Local Storage = "local"
	// S3 is an S3 repository, always repo2.
	S3 Storage = "s3"
)

// Paths and defaults shared by every pod that runs pgBackRest (docs/architecture.md, image.md).
const (
	DefaultStanza = "db"
	DefaultTLSDir = "/etc/pgbackrest/tls"
	// DefaultConfigDir holds pgbackrest.conf and the per-repository files in every pod.
	DefaultConfigDir = "/etc/pgbackrest"
	DefaultClientCN  = "pgbackrest-client"
	DefaultPort      = 8432

	// LocalRepoPath is repo1-path: the local repository PVC is mounted at /pgbackrest.
	LocalRepoPath = "/pgbackrest/repo1"
	// SocketPath is shared (an emptyDir) by PostgreSQL and the pgBackRest sidecar: without it the
	// repository host's backup fails with "no database found".
	SocketPath = "/var/run/postgresql"
	// The writable emptyDirs of a read-only-root pod.
	LockPath  = "/tmp/pgbackrest"
	LogPath   = "/var/log/pgbackrest"
	SpoolPath = "/var/spool/pgbackrest"
)

// Storages in their canonical order; RepoKey relies on it.
var allStorages = []Storage{Local, S3}

// RepoKey is the pgBackRest repository index of s. The mapping is fixed (local=1, s3=2) even when a
// cluster has only s3: pgBackRest accepts sparse keys, and a fixed key means a backup label or a
// --repo value never changes meaning.
func RepoKey(s Storage) int {
	switch s {
	case Local:
		return 1
	case S3:
		return 2
	}
	return 0
}

// StorageForRepoKey is RepoKey's inverse; "" for an unknown key.
func StorageForRepoKey(key int) Storage {
	for _, s := range allStorages {
		if RepoKey(s) == key {
			return s
		}
	}
	return ""
}

// ParseStorageList parses the --storage flag: "local", "s3" or both, comma separated in any order.
// The result is deduplicated and sorted local first.
func ParseStorageList(s string) ([]Storage, error) {
	var out []Storage
	for part := range strings.SplitSeq(s, ",") {
		st := Storage(strings.ToLower(strings.TrimSpace(part)))
		if !slices.Contains(allStorages, st) {
			return nil, fmt.Errorf("invalid --storage %q: use local, s3 or local,s3", s)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b Storage) int { return RepoKey(a) - RepoKey(b) })
	return out, nil
}

// S3Settings locate the S3 repository (repo2). Credentials are deliberately absent: they reach
// pgBackRest only as PGBACKREST_REPO2_S3_KEY / PGBACKREST_REPO2_S3_KEY_SECRET environment variables
// of the repository host, so they are never written into a ConfigMap. Only the repository host's
// files name the S3 settings: every other pod reaches S3 through it.
type S3Settings struct {
	Bucket   string
	Endpoint string // host name (or IP, whose certificate then needs a DNS SAN of that IP) with optional :port
	Region   string
	URIStyle string // "host" (pgBackRest's default) or "path"; "" leaves pgBackRest's default
	// VerifyTLS false writes repo2-storage-verify-tls=n: for test servers only.
	VerifyTLS bool
	CAFile    string // "" means the system CAs
	Path      string // repo2-path, e.g. /backrestrepo/<cluster>-backrest-shared-repo
}

// ConfigParams is everything both pgbackrest.conf files are rendered from.
type ConfigParams struct {
	Stanza   string
	Storages []Storage
	S3       S3Settings // used only when Storages contains S3
	RepoHost string     // DNS name of the repository host's Service
	PGHost   string     // DNS name of the primary's Service
	PGPath   string     // PGDATA inside pods; it names the PostgreSQL major (cluster.Spec.PGData)
	TLSDir   string     // holds ca.crt, server.crt, server.key, client.crt, client.key
	// ConfigDir holds the configuration files in every pod; the primary names the repository
	// host's remote-s3.conf in it (writeRepoHost).
	ConfigDir string
	ClientCN  string // CN of the client certificate, authorised for Stanza on both servers
	Port      int    // pgBackRest TLS server port on both Services

	CompressType  string
	CompressLevel int
	ProcessMax    int
	// Retention is each repository's repoN-retention-* policy; a repository without an entry
	// keeps DefaultRetention. It is written to the repository host's config only: expire runs
	// there after each backup.
	Retention map[Storage]Retention
	// IOTimeout and ArchiveTimeout are in seconds.
	IOTimeout      int
	ArchiveTimeout int
	// Cipher is repoN-cipher-type of every repository: "" (none) or CipherAES256CBC.
	Cipher string
}

// DefaultConfigParams returns the plugin's defaults; callers fill Storages, S3, RepoHost, PGHost
// and PGPath (which follows the cluster's PostgreSQL major).
//
// Why these values:
//   - zst level 3 (zstd's own default) with process-max 2: measured fastest here (117 MB/s to posix,
//     69 MB/s to S3) against pgBackRest's own gz / process-max 1 (47 MB/s). Two processes match the
//     small nodes this runs on; users raise it per backup with --options.
//   - retention-full 2: a new full backup never leaves the cluster with a single one.
//   - io-timeout 30 s: every hop is inside the cluster, so no healthy I/O waits that long, while an
//     unreachable repository host (or a wrong CA) blocks archive-push for a whole io-timeout per
//     retry; pgBackRest's 60 s made archiving look stuck for minutes.
//   - archive-timeout 60 s (pgBackRest's default, set so it is visible): how long backup and check
//     wait for a segment to reach the archive.
func DefaultConfigParams() ConfigParams {
	return ConfigParams{
		Stanza:         DefaultStanza,
		TLSDir:         DefaultTLSDir,
		ConfigDir:      DefaultConfigDir,
		ClientCN:       DefaultClientCN,
		Port:           DefaultPort,
		CompressType:   "zst",
		CompressLevel:  3,
		ProcessMax:     2,
		IOTimeout:      30,
		ArchiveTimeout: 60,
	}
}

// ErrInvalidConfig wraps every ConfigParams validation error.
var ErrInvalidConfig = errors.New("invalid pgBackRest configuration")

// Validate checks p before rendering; the renderers assume a valid p.
func (p ConfigParams) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if p.Stanza == "" || strings.ContainsAny(p.Stanza, " \t\n=[]/") {
		bad("stanza %q must be a non-empty name without spaces, '=', '/' or brackets", p.Stanza)
	}
	if len(p.Storages) == 0 {
		bad("no storage: choose local, s3 or local,s3")
	}
	for _, s := range p.Storages {
		if RepoKey(s) == 0 {
			bad("unknown storage %q: use local or s3", s)
		}
	}
	if p.has(S3) {
		s3 := p.S3
		if s3.Bucket == "" || s3.Endpoint == "" || s3.Region == "" {
			bad("s3 storage needs bucket, endpoint and region: set them in the S3 Secret")
		}
		for _, err := range []error{CheckS3Bucket(s3.Bucket), CheckS3Endpoint(s3.Endpoint), CheckS3Region(s3.Region)} {
			if err != nil && s3.Bucket != "" && s3.Endpoint != "" && s3.Region != "" {
				bad("s3 %w", err)
			}
		}
		if !path.IsAbs(s3.Path) {
			bad("s3 repository path %q must be absolute", s3.Path)
		}
		if s3.URIStyle != "" && s3.URIStyle != "host" && s3.URIStyle != "path" {
			bad("s3 URI style %q must be host or path", s3.URIStyle)
		}
	}
	for _, h := range []struct{ name, v string }{{"repository host", p.RepoHost}, {"PostgreSQL host", p.PGHost}} {
		if h.v == "" || strings.ContainsAny(h.v, " \t\n") {
			bad("%s %q must be a DNS name", h.name, h.v)
		}
	}
	if !path.IsAbs(p.PGPath) {
		bad("PostgreSQL data path %q must be absolute", p.PGPath)
	}
	if !path.IsAbs(p.TLSDir) {
		bad("TLS directory %q must be absolute", p.TLSDir)
	}
	if p.ClientCN == "" || strings.ContainsAny(p.ClientCN, "=, \t\n") {
		bad("client certificate CN %q must be non-empty without '=', ',' or spaces", p.ClientCN)
	}
	if p.Port < 1 || p.Port > 65535 {
		bad("port %d must be within 1-65535", p.Port)
	}
	if !slices.Contains(compressTypes, p.CompressType) {
		bad("compress-type %q must be one of %s", p.CompressType, strings.Join(compressTypes, ", "))
	}
	if p.CompressLevel < 0 || p.CompressLevel > 22 {
		bad("compress-level %d must be within 0-22 (0-9 for gz and bz2)", p.CompressLevel)
	}
	if p.ProcessMax < 1 || p.ProcessMax > 999 {
		bad("process-max %d must be within 1-999", p.ProcessMax)
	}
	for _, st := range p.Storages {
		if err := p.retention(st).Validate(); err != nil {
			bad("%s: %v", st, err)
		}
	}
	if p.IOTimeout < 1 || p.IOTimeout > 3600 {
		bad("io-timeout %d s must be within 1-3600", p.IOTimeout)
	}
	if p.ArchiveTimeout < 1 || p.ArchiveTimeout > 86400 {
		bad("archive-timeout %d s must be within 1-86400", p.ArchiveTimeout)
	}
	if p.Cipher != "" && p.Cipher != CipherAES256CBC {
		bad("cipher %q must be %s or empty (none)", p.Cipher, CipherAES256CBC)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func (p ConfigParams) has(s Storage) bool { return slices.Contains(p.Storages, s) }

// confWriter builds an ini file in the order options are added, so output is deterministic. It
// refuses a value that would break out of its line (CheckConfValue): whatever path a value came
// by, it cannot add an option.
type confWriter struct {
	b   strings.Builder
	err error
}

func (w *confWriter) section(name string) {
	if w.b.Len() > 0 {
		w.b.WriteString("\n")
	}
	fmt.Fprintf(&w.b, "[%s]\n", name)
}

func (w *confWriter) set(key string, value any) {
	v := fmt.Sprint(value)
	if err := CheckConfValue(key, v); err != nil && w.err == nil {
		w.err = err
	}
	fmt.Fprintf(&w.b, "%s=%s\n", key, v)
}

// result is the file, or the first value refused.
func (w *confWriter) result() (string, error) {
	if w.err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidConfig, w.err)
	}
	return w.b.String(), nil
}

func (w *confWriter) comment(text string) { fmt.Fprintf(&w.b, "# %s\n", text) }

const header = "Generated by kubectl-pgbackrest. Do not edit: the plugin rewrites this file."

// RenderDBConfig renders pgbackrest.conf for the PostgreSQL pod (archive-push and its
// `pgbackrest server` sidecar) and for restore Jobs.
func RenderDBConfig(p ConfigParams) (string, error) {
	return renderDB(p, "Role: PostgreSQL primary and restore Jobs.", true)
}

// renderDB renders a database-side configuration; server adds the TLS server section that the
// primary's `pgbackrest server` sidecar loads.
func renderDB(p ConfigParams, role string, server bool) (string, error) {
	var w confWriter
	w.comment(header)
	w.comment(role)
	w.section("global")
	// Every repository is reached through the repository host, over mutual TLS: the local one lives
	// there, and the S3 one is proxied by it (pgBackRest's remote runs there with the repository
	// host's repo2-type=s3 and its credentials), so the S3 key pair never enters this pod, whose
	// environment and files PostgreSQL's own roles can read (pg_read_server_files).
	// An encrypted repository is encrypted and decrypted by the remote on the repository host,
	// which has the passphrase: this side has neither the cipher nor its passphrase (measured with
	// 2.45: archive-push writes "Salted__" objects, archive-get returns the segment; docs/s3.md).
	for _, s := range p.Storages {
		p.writeRepoHost(&w, RepoKey(s))
	}
	p.writeCommon(&w, LockPath)
	if server {
		p.writeTLSServer(&w)
	}
	w.section(p.Stanza)
	w.set("pg1-path", p.PGPath)
	w.set("pg1-socket-path", SocketPath)
	return w.result()
}

// RenderRepoConfig renders pgbackrest.conf for the repository host, where backup, check, info and
// expire run.
func RenderRepoConfig(p ConfigParams) (string, error) {
	return renderRepo(p, "Role: repository host.", true, LockPath)
}

func renderRepo(p ConfigParams, role string, server bool, lockPath string) (string, error) {
	var w confWriter
	w.comment(header)
	w.comment(role)
	w.section("global")
	if p.has(Local) {
		w.set("repo1-path", LocalRepoPath)
		p.retention(Local).write(&w, RepoKey(Local))
	}
	if p.has(S3) {
		p.writeS3(&w)
		p.retention(S3).write(&w, RepoKey(S3))
	}
	p.writeCipher(&w)
	p.writeCommon(&w, lockPath)
	if server {
		// The repository host serves TLS too: restore Jobs and archive-push reach every repository
		// through it.
		p.writeTLSServer(&w)
	}
	w.section(p.Stanza)
	w.set("pg1-host", p.PGHost)
	w.set("pg1-host-type", "tls")
	w.set("pg1-host-port", p.Port)
	w.set("pg1-host-ca-file", p.tls("ca.crt"))
	w.set("pg1-host-cert-file", p.tls("client.crt"))
	w.set("pg1-host-key-file", p.tls("client.key"))
	w.set("pg1-path", p.PGPath)
	w.set("pg1-socket-path", SocketPath)
	return w.result()
}

func (p ConfigParams) tls(file string) string { return path.Join(p.TLSDir, file) }

// writeRepoHost points repository key at the repository host. repoN-path repeats the repository
// host's value: pgBackRest passes a path set here to the remote, which uses it over its own.
func (p ConfigParams) writeRepoHost(w *confWriter, key int) {
	repo := fmt.Sprintf("repo%d-", key)
	w.set(repo+"host", p.RepoHost)
	w.set(repo+"host-type", "tls")
	w.set(repo+"host-port", p.Port)
	w.set(repo+"host-ca-file", p.tls("ca.crt"))
	w.set(repo+"host-cert-file", p.tls("client.crt"))
	w.set(repo+"host-key-file", p.tls("client.key"))
	switch StorageForRepoKey(key) {
	case Local:
		w.set(repo+"path", LocalRepoPath)
	case S3:
		w.set(repo+"path", p.S3.Path)
		// The remote that serves this repository on the repository host loads the file named
		// here, whose lock-path is S3's own. pgBackRest's remote for archive-push takes the stanza's
		// archive lock in its lock-path: in the shared one, a push to S3 hanging there (or a remote
		// still waiting on S3 after its client gave up) would make every push to the local
		// repository fail with "unable to acquire lock", and the first repository must get every
		// segment whatever S3 does.
		w.set(repo+"host-config", path.Join(p.ConfigDir, RemoteConfigFile))
	}
}

func (p ConfigParams) writeS3(w *confWriter) {
	w.set("repo2-type", "s3")
	w.set("repo2-path", p.S3.Path)
	w.set("repo2-s3-bucket", p.S3.Bucket)
	// pgBackRest takes the port separately: "host:port" in repo2-s3-endpoint would be read as a host name.
	host, port := SplitEndpoint(p.S3.Endpoint)
	w.set("repo2-s3-endpoint", host)
	if port != 0 {
		w.set("repo2-storage-port", port)
	}
	w.set("repo2-s3-region", p.S3.Region)
	if p.S3.URIStyle != "" {
		w.set("repo2-s3-uri-style", p.S3.URIStyle)
	}
	// 2.45 names these repo-storage-*; repo-s3-ca-file and repo-s3-verify-tls are deprecated aliases.
	if p.S3.CAFile != "" {
		w.set("repo2-storage-ca-file", p.S3.CAFile)
	}
	if !p.S3.VerifyTLS {
		w.set("repo2-storage-verify-tls", "n")
	}
}

// SplitEndpoint splits an S3 endpoint "host:port" into its host and port; port is 0 when the
// endpoint names none (or an invalid one), and the whole endpoint is then the host. IPv6 literals
// keep their brackets only when a port follows ("[::1]:9000").
func SplitEndpoint(endpoint string) (host string, port int) {
	h, p, err := net.SplitHostPort(endpoint)
	if err != nil {
		return endpoint, 0
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return endpoint, 0
	}
	return h, n
}

func (p ConfigParams) writeCommon(w *confWriter, lockPath string) {
	w.set("compress-type", p.CompressType)
	w.set("compress-level", p.CompressLevel)
	w.set("process-max", p.ProcessMax)
	w.set("io-timeout", p.IOTimeout)
	w.set("archive-timeout", p.ArchiveTimeout)
	// Console output is what kubectl logs and exec streams show; log files would grow unbounded in an
	// emptyDir, so they are off (log-path stays writable should someone turn them on).
	w.set("log-level-console", "info")
	// Warnings and errors on stderr, as 2.45 does by default: 2.53 changed the default to off,
	// which sends them to stdout, into the JSON that info prints there and the plugin parses.
	w.set("log-level-stderr", "warn")
	w.set("log-level-file", "off")
	w.set("log-path", LogPath)
	w.set("lock-path", lockPath)
	w.set("spool-path", SpoolPath)
}

func (p ConfigParams) writeTLSServer(w *confWriter) {
	w.set("tls-server-address", "*")
	w.set("tls-server-port", p.Port)
	w.set("tls-server-ca-file", p.tls("ca.crt"))
	w.set("tls-server-cert-file", p.tls("server.crt"))
	w.set("tls-server-key-file", p.tls("server.key"))
	w.set("tls-server-auth", p.ClientCN+"="+p.Stanza)
}

// compressTypes are the values 2.45 accepts for compress-type.
var compressTypes = []string{"gz", "lz4", "zst", "bz2", "none"}
