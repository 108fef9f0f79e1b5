package cluster

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// MaxNameLength bounds cluster names: derived names add up to 23 characters ("-restore-" plus a
// 14-character restore id) and Kubernetes names and label values stop at 63.
const MaxNameLength = 40

// SpecKey, DBConfKey and RepoConfKey are the cluster ConfigMap's data keys.
const (
	SpecKey     = "spec.json"
	DBConfKey   = "db.conf"
	RepoConfKey = "repo.conf"
)

// Names derives the names of one cluster's objects (docs/architecture.md, "Names").
type Names struct{ Cluster string }

// ConfigMap holds spec.json, db.conf and repo.conf.
func (n Names) ConfigMap() string { return n.Cluster + "-pgbackrest" }

// TLSSecret holds ca.crt, server.crt, server.key, client.crt and client.key.
func (n Names) TLSSecret() string { return n.Cluster + "-pgbackrest-tls" }

// DataPVC is the data PVC made at create; after a restore the spec's DataPVC names the live one.
func (n Names) DataPVC() string { return n.Cluster }

// RestoredDataPVC is the data PVC a restore with this id allocates.
func (n Names) RestoredDataPVC(id string) string { return n.Cluster + "-" + id }

// RepoPVC holds the local repository (repo1).
func (n Names) RepoPVC() string { return n.Cluster + "-pgbr-repo" }

// Primary names the primary's Deployment and Service.
func (n Names) Primary() string { return n.Cluster }

// RepoHost names the repository host's Deployment and Service.
func (n Names) RepoHost() string { return n.Cluster + "-backrest-shared-repo" }

// RestoreJob names the Job of the restore with this id.
func (n Names) RestoreJob(id string) string { return n.Cluster + "-restore-" + id }

// Lease serializes backups and restores of the cluster.
func (n Names) Lease() string { return n.Cluster + "-pgbackrest" }

// Repo2Path is repo2-path in the S3 bucket.
func (n Names) Repo2Path() string { return "/backrestrepo/" + n.RepoHost() }

// RestoreIDFormat formats restore ids: UTC time to the second, 14 characters, so that
// RestoreJob(id) of a 40-character cluster name is 63 characters.
const RestoreIDFormat = "20060102150405"

// RestoreID returns the id of a restore started at now.
func RestoreID(now time.Time) string { return now.UTC().Format(RestoreIDFormat) }

// Label keys and values (docs/architecture.md).
const (
	LabelManagedBy = kube.LabelManagedBy
	LabelInstance  = kube.LabelInstance
	LabelName      = "app.kubernetes.io/name"
	LabelRole      = "pgbackrest.dev/role"
	// LabelCluster marks the cluster ConfigMap; List selects on it.
	LabelCluster = "pgbackrest.dev/cluster"

	ManagedBy = "kubectl-pgbackrest"
	AppName   = "pgbackrest"
)

// AnnotationConfigHash on a pod template holds a hash of its pgbackrest.conf, so a config change rolls
// the Deployment. AnnotationRestorePrefix starts the cluster ConfigMap's restore progress annotations.
const (
	AnnotationConfigHash    = "pgbackrest.dev/config-hash"
	AnnotationRestorePrefix = "pgbackrest.dev/restore-"
)

// Role is the value of LabelRole.
type Role string

const (
	RoleConfig  Role = "config"
	RolePrimary Role = "primary"
	RoleRepo    Role = "repo"
	RoleRestore Role = "restore"
	RoleBackup  Role = "backup"
)

// Labels returns the labels every object of the cluster carries, with its role.
func Labels(cluster string, role Role) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  cluster,
		LabelName:      AppName,
		LabelRole:      string(role),
	}
}

// Selector returns the labels that select the cluster's pods of a role (Deployment and Service
// selectors). It is a subset of Labels, and immutable once a Deployment exists.
func Selector(cluster string, role Role) map[string]string {
	return map[string]string{
		LabelInstance: cluster,
		LabelRole:     string(role),
	}
}

// SelectorString is Selector as a label selector string for List calls.
func SelectorString(cluster string, role Role) string {
	return labels.SelectorFromSet(Selector(cluster, role)).String()
}

// ListSelector selects every cluster ConfigMap.
const ListSelector = LabelCluster + "=true"

// ValidateName checks a cluster name: a DNS-1123 label of at most MaxNameLength characters.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("missing cluster NAME: give one, e.g. `kubectl pgbackrest create pg1`")
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("invalid cluster NAME %q: %s; use lowercase letters, digits and '-', e.g. pg1",
			name, strings.Join(msgs, "; "))
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("invalid cluster NAME %q: %d characters, at most %d are allowed because derived "+
			"names such as %q add up to 23 more and Kubernetes stops at 63; choose a shorter name",
			name, len(name), MaxNameLength, Names{Cluster: name}.RestoreJob(RestoreIDFormat))
	}
	return nil
}

// ParseNodeLabel parses a --node-label value "key=value" into a node selector.
func ParseNodeLabel(s string) (map[string]string, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return nil, fmt.Errorf("invalid --node-label %q: use key=value, e.g. --node-label kubernetes.io/hostname=node1", s)
	}
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return nil, fmt.Errorf("invalid --node-label %q: key %q: %s", s, key, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
		return nil, fmt.Errorf("invalid --node-label %q: value %q: %s", s, value, strings.Join(msgs, "; "))
	}
	return map[string]string{key: value}, nil
}

// ParseNodeLabels parses repeated --node-label values into one node selector (nil when there are
// none). A key given twice with different values is refused: a node has one value per key, so no
// node could match.
func ParseNodeLabels(labels []string) (map[string]string, error) {
	var sel map[string]string
	var errs []error
	for _, l := range labels {
		one, err := ParseNodeLabel(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sel == nil {
			sel = map[string]string{}
		}
		for k, v := range one {
			if prev, ok := sel[k]; ok && prev != v {
				errs = append(errs, fmt.Errorf("invalid --node-label %q: key %q is already given as %s=%s, and a node has one value per key; give the key once", l, k, k, prev))
				continue
			}
			sel[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sel, nil
}

// ParseSize parses a storage size given with flag (named in the error), e.g. "10Gi".
func ParseSize(flag, s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("invalid %s %q: %v; use a size such as 10Gi or 500Mi", flag, s, err)
	}
	if q.Sign() <= 0 {
		return resource.Quantity{}, fmt.Errorf("invalid %s %q: the size must be positive, e.g. 10Gi", flag, s)
	}
	return q, nil
}
