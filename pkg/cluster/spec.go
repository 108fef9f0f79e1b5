// Package cluster is the model of one PostgreSQL cluster managed by kubectl-pgbackrest: its spec
// (stored as spec.json in the cluster ConfigMap), the names and labels of its objects, and finding
// its pods. The naming contract is docs/architecture.md.
package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Defaults of a new cluster's spec.
const (
	// DefaultPGVersion is the PostgreSQL major of a new cluster without --pg-version. A cluster
	// keeps the major of its stored spec (pgVersion) whatever the default becomes.
	DefaultPGVersion  = 17
	DefaultS3Secret   = "pgbackrest-s3"
	DefaultPGDataSize = "1Gi"
	DefaultRepoSize   = "2Gi"
)

// Paths inside every pod (docs/architecture.md, "Pods and paths").
const (
	// DataMountPath is where the data PVC is mounted; PGDATA is a subdirectory (PGData), so the path
	// never depends on the PVC's name.
	DataMountPath = "/pgdata"
	// RepoMountPath is where the local repository PVC is mounted on the repository host.
	RepoMountPath = "/pgbackrest"
	// ConfigDir holds pgbackrest.conf (a ConfigMap volume), the default path pgBackRest and its TLS
	// server load.
	ConfigDir = "/etc/pgbackrest"
	// ConfigFile is the file name of the config inside ConfigDir.
	ConfigFile = "pgbackrest.conf"
	// TLSDir holds the TLS Secret's files.
	TLSDir = pgbackrest.DefaultTLSDir
	// S3CADir holds the S3 CA bundle (a Secret volume of the S3 Secret).
	S3CADir = "/etc/pgbackrest/s3"
	// S3CAFile is the S3 CA bundle's path.
	S3CAFile = S3CADir + "/" + S3SecretKeyCA
	// SocketDir is PostgreSQL's unix socket directory, shared with the pgBackRest sidecar.
	SocketDir = pgbackrest.SocketPath
	// PGPort and PGBackRestPort are the container and Service ports.
	PGPort         = 5432
	PGBackRestPort = pgbackrest.DefaultPort
)

// Keys of the S3 Secret (`pgbackrest-s3` by default) that pods read: the credentials (as env) and
// the CA bundle (as a file). The settings keys belong to whoever reads the Secret at create.
const (
	S3SecretKeyKey       = "key"
	S3SecretKeyKeySecret = "key-secret"
	S3SecretKeyCA        = "aws-s3-ca.crt"
)

// Environment variables through which the S3 credentials reach pgBackRest (never a file, never argv).
const (
	EnvS3Key       = "PGBACKREST_REPO2_S3_KEY"
	EnvS3KeySecret = "PGBACKREST_REPO2_S3_KEY_SECRET"
)

// S3 are the S3 repository settings, copied from the S3 Secret when the cluster is created so the
// rendered configuration can be reproduced later. Credentials are never copied.
type S3 struct {
	Bucket    string `json:"bucket"`
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region"`
	URIStyle  string `json:"uriStyle,omitempty"`
	VerifyTLS bool   `json:"verifyTLS"`
	// HasCA says the S3 Secret holds aws-s3-ca.crt, mounted at S3CAFile.
	HasCA bool `json:"hasCA"`
}

// Spec describes one cluster. It is stored as spec.json in ConfigMap `<name>-pgbackrest`.
type Spec struct {
	Name string `json:"name"`
	// Namespace comes from where the ConfigMap lives, never from its content.
	Namespace string `json:"-"`

	// Storages is chosen at create and immutable: local (repo1), s3 (repo2) or both, local first.
	Storages  []pgbackrest.Storage `json:"storage"`
	PGVersion int                  `json:"pgVersion"`
	Image     string               `json:"image"`
	// ImageDigest pins Image ("sha256:…"): create records it from its first pod, update --image
	// replaces it; every pod runs PodImage(). "" only before create pins it.
	ImageDigest string `json:"imageDigest,omitempty"`
	// ImagePullSecrets are set as imagePullSecrets on every pod (--image-pull-secret).
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// StorageClass of the PVCs; "" means the cluster's default StorageClass.
	StorageClass string `json:"storageClass,omitempty"`
	// PGDataSize and RepoSize are resource quantities ("10Gi").
	PGDataSize string `json:"pgdataSize"`
	RepoSize   string `json:"repoSize,omitempty"`
	// ArchiveBacklogMax bounds the WAL kept in pg_wal for a repository that cannot be reached
	// (a resource quantity, "256Mi"); "" means the default, a quarter of PGDataSize (ArchiveBacklogMB).
	ArchiveBacklogMax string `json:"archiveBacklogMax,omitempty"`
	// NodeSelector places the primary and the restore Jobs that fill its data volumes, alike
	// (manifest's placeOnDataNodes); restore --node-label replaces it. Not the repository host.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Resources of the primary's PostgreSQL container (--cpu, --memory); zero: the plugin's floor.
	Resources Resources `json:"resources,omitzero"`
	// PostgresFrom narrows who may connect to PostgreSQL (5432) to these --postgres-from peers
	// (ParsePostgresFrom); empty leaves 5432 open to every pod and address.
	PostgresFrom []string `json:"postgresFrom,omitempty"`

	// S3Secret names the Secret holding the S3 settings and credentials.
	S3Secret string `json:"s3Secret,omitempty"`
	S3       S3     `json:"s3,omitzero"`
	// Repo2Path is repo2-path in the bucket.
	Repo2Path string `json:"repo2Path,omitempty"`
	// Cipher is chosen at create and immutable, like Storages: every repository's cipher, ""
	// (none) or aes-256-cbc, with the passphrase in Secret Names.CipherSecret.
	Cipher string `json:"cipher,omitempty"`
	// Retention is each repository's retention policy (RetentionFor gives the one in force);
	// create and update set it.
	Retention map[pgbackrest.Storage]Retention `json:"retention,omitempty"`

	// RunAsUser and FSGroup are the pods' uid and fsGroup, decided at create (--run-as-user, the
	// namespace's OpenShift ranges) and fixed afterwards: the data directory belongs to that uid, so
	// every later pod (restore Jobs included) runs as it. 0: the image's postgres user, 999 (specs
	// written before they were recorded).
	RunAsUser int64 `json:"runAsUser,omitempty"`
	FSGroup   int64 `json:"fsGroup,omitempty"`

	// DataPVC names the live data PVC: `<name>` at create, `<name>-<restore id>` after a restore.
	DataPVC string `json:"dataPVC"`
	// CreatedBy is the plugin version that created the cluster.
	CreatedBy string `json:"createdBy,omitempty"`
}

// New returns the spec of a new cluster with every default filled in; callers set Storages, Image,
// sizes and, for s3, S3.
func New(name, namespace string) *Spec {
	n := Names{Cluster: name}
	return &Spec{
		Name:       name,
		Namespace:  namespace,
		PGVersion:  DefaultPGVersion,
		PGDataSize: DefaultPGDataSize,
		RepoSize:   DefaultRepoSize,
		S3Secret:   DefaultS3Secret,
		Repo2Path:  n.Repo2Path(),
		DataPVC:    n.DataPVC(),
		RunAsUser:  PostgresUID,
		FSGroup:    PostgresUID,
	}
}

// PodUser is who the cluster's pods run as: the recorded ids, 999 where none is.
func (s *Spec) PodUser() PodUser {
	u := PodUser{RunAsUser: s.RunAsUser, FSGroup: s.FSGroup}
	if u.RunAsUser == 0 {
		u.RunAsUser = PostgresUID
	}
	if u.FSGroup == 0 {
		u.FSGroup = u.RunAsUser
	}
	return u
}

// Names returns the names of the cluster's objects.
func (s *Spec) Names() Names { return Names{Cluster: s.Name} }

// Has says whether the cluster uses storage st.
func (s *Spec) Has(st pgbackrest.Storage) bool { return slices.Contains(s.Storages, st) }

// PGData is PGDATA inside pods: a subdirectory of the data PVC named after the major version.
func (s *Spec) PGData() string {
	return path.Join(DataMountPath, "pg"+strconv.Itoa(s.PGVersion))
}

// MinArchiveBacklogMB is two WAL segments: less would give up a segment at the first failed push.
const MinArchiveBacklogMB = 2 * pgbackrest.WALSegmentMB

// ArchiveBacklogMB is the most WAL, in MB, that pg_wal keeps for a repository that cannot be
// reached before segments are given up for it (docs/architecture.md): ArchiveBacklogMax, or a
// quarter of the data volume. With max_wal_size at most an eighth (MaxWALSizeMB), WAL takes about
// half of the volume at most, so an outage can never fill it and stop PostgreSQL.
func (s *Spec) ArchiveBacklogMB() int64 {
	if s.ArchiveBacklogMax != "" {
		if q, err := ParseSize("--archive-backlog-max", s.ArchiveBacklogMax); err == nil {
			return q.Value() >> 20
		}
	}
	return max(s.dataMB()/4, MinArchiveBacklogMB)
}

// ValidateArchiveBacklog checks ArchiveBacklogMax against the data volume's size.
func (s *Spec) ValidateArchiveBacklog() error {
	if s.ArchiveBacklogMax == "" {
		return nil
	}
	q, err := ParseSize("--archive-backlog-max", s.ArchiveBacklogMax)
	if err != nil {
		return err
	}
	if mb := q.Value() >> 20; mb < MinArchiveBacklogMB || mb > s.dataMB()/2 {
		return fmt.Errorf("invalid --archive-backlog-max %q: use at least %dMi (two WAL segments) and at most half of --pgdata-size %s (%dMi), so that WAL kept for a repository that is down cannot fill the data volume",
			s.ArchiveBacklogMax, MinArchiveBacklogMB, s.PGDataSize, s.dataMB()/2)
	}
	return nil
}

// MaxWALSizeMB is PostgreSQL's max_wal_size: its own default of 1 GB, or an eighth of the data
// volume when that is less (a 1 GiB volume would otherwise be filled by WAL alone). It is a soft
// limit that heavy writing passes (measured: pg_wal at twice max_wal_size at a segment a second),
// so twice it plus the backlog bound is still only half of the volume.
func (s *Spec) MaxWALSizeMB() int64 {
	return max(min(1024, s.dataMB()/8), MinArchiveBacklogMB)
}

func (s *Spec) dataMB() int64 {
	q, err := ParseSize("--pgdata-size", s.PGDataSize)
	if err != nil {
		return 0
	}
	return q.Value() >> 20
}

// ErrInvalidSpec wraps every Validate error.
var ErrInvalidSpec = errors.New("invalid cluster spec")

// Validate checks a spec before it is stored or used to build objects.
func (s *Spec) Validate() error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if len(s.Storages) == 0 {
		errs = append(errs, errors.New("no storage: choose --storage local, s3 or local,s3"))
	}
	for _, st := range s.Storages {
		if pgbackrest.RepoKey(st) == 0 {
			errs = append(errs, fmt.Errorf("unknown storage %q: use local or s3", st))
		}
	}
	if err := CheckPGVersion("--pg-version", s.PGVersion); err != nil {
		errs = append(errs, err)
	}
	if s.Image == "" {
		errs = append(errs, errors.New("no image: set --image"))
	}
	if err := s.checkImage(); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseSize("--pgdata-size", s.PGDataSize); err != nil {
		errs = append(errs, err)
	}
	if err := s.ValidateArchiveBacklog(); err != nil {
		errs = append(errs, err)
	}
	for st, r := range s.Retention {
		if !s.Has(st) {
			errs = append(errs, fmt.Errorf("retention for %s, which the cluster does not have", st))
		} else if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", st, err))
		}
	}
	if s.Has(pgbackrest.Local) {
		if _, err := ParseSize("--repo-size", s.RepoSize); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range s.NodeSelector {
		if _, err := ParseNodeLabel(k + "=" + v); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.Resources.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParsePostgresFromList(s.PostgresFrom); err != nil {
		errs = append(errs, err)
	}
	if s.Has(pgbackrest.S3) {
		if s.S3Secret == "" {
			errs = append(errs, errors.New("s3 storage needs the name of the S3 Secret"))
		}
		if s.S3.Bucket == "" || s.S3.Endpoint == "" || s.S3.Region == "" {
			errs = append(errs, fmt.Errorf("s3 storage needs bucket, endpoint and region: set them in Secret %q", s.S3Secret))
		} else if err := s.S3.check(); err != nil {
			errs = append(errs, err)
		}
		if !path.IsAbs(s.Repo2Path) {
			errs = append(errs, fmt.Errorf("s3 repository path %q must be absolute", s.Repo2Path))
		}
	}
	if s.DataPVC == "" {
		errs = append(errs, errors.New("no live data PVC"))
	}
	if s.RunAsUser < 0 || s.RunAsUser > MaxUID || s.FSGroup < 0 || s.FSGroup > MaxUID {
		errs = append(errs, fmt.Errorf("runAsUser %d and fsGroup %d must be ids from 1 to %d", s.RunAsUser, s.FSGroup, MaxUID))
	}
	if err := s.checkCipher(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w %q: %w", ErrInvalidSpec, s.Name, errors.Join(errs...))
	}
	return nil
}

// JSON is the spec as stored in the ConfigMap's spec.json: indented, keys in a fixed order.
func (s *Spec) JSON() (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding the spec of cluster %s: %w", s.Name, err)
	}
	return string(b) + "\n", nil
}

// Parse reads spec.json; namespace is where its ConfigMap lives.
func Parse(data, namespace string) (*Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", SpecKey, err)
	}
	s.Namespace = namespace
	// The spec is read back from a ConfigMap that anyone with edit rights can change: its S3
	// values go into pgbackrest.conf again at the next render, so they are checked here too.
	if s.Has(pgbackrest.S3) && s.S3.Bucket != "" {
		if err := s.S3.check(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", SpecKey, err)
		}
	}
	if err := s.checkCipher(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", SpecKey, err)
	}
	// The same for the resources, the pin and the pull Secrets: they reach every pod's spec.
	if err := s.Resources.Validate(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", SpecKey, err)
	}
	if err := s.checkImage(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", SpecKey, err)
	}
	return &s, nil
}

// check checks the S3 values that reach pgbackrest.conf for what they are.
func (s S3) check() error {
	var errs []error
	for _, err := range []error{pgbackrest.CheckS3Bucket(s.Bucket), pgbackrest.CheckS3Endpoint(s.Endpoint), pgbackrest.CheckS3Region(s.Region)} {
		if err != nil {
			errs = append(errs, fmt.Errorf("s3 %w", err))
		}
	}
	if s.URIStyle != "" && s.URIStyle != "host" && s.URIStyle != "path" {
		errs = append(errs, fmt.Errorf("s3 URI style %q must be host or path", s.URIStyle))
	}
	return errors.Join(errs...)
}

// ConfigParams maps the spec onto pgBackRest's configuration parameters, with the plugin's defaults
// for everything else. Render db.conf and repo.conf from it.
func (s *Spec) ConfigParams() pgbackrest.ConfigParams {
	p := pgbackrest.DefaultConfigParams()
	n := s.Names()
	p.Storages = slices.Clone(s.Storages)
	p.RepoHost = n.RepoHost()
	p.PGHost = n.Primary()
	p.PGPath = s.PGData()
	p.TLSDir = TLSDir
	p.ConfigDir = ConfigDir
	p.Port = PGBackRestPort
	p.Cipher = s.Cipher
	p.Retention = map[pgbackrest.Storage]pgbackrest.Retention{}
	for _, st := range s.Storages {
		p.Retention[st] = s.RetentionFor(st)
	}
	if s.Has(pgbackrest.S3) {
		p.S3 = pgbackrest.S3Settings{
			Bucket:    s.S3.Bucket,
			Endpoint:  s.S3.Endpoint,
			Region:    s.S3.Region,
			URIStyle:  s.S3.URIStyle,
			VerifyTLS: s.S3.VerifyTLS,
			Path:      s.Repo2Path,
		}
		if s.S3.HasCA {
			p.S3.CAFile = S3CAFile
		}
	}
	return p
}
