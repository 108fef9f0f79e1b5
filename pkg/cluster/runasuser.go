package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// PostgresUID is the uid and gid of the image's postgres user (docs/image.md): the pods' user
// unless --run-as-user or the namespace chose another.
const PostgresUID = 999

// MaxUID is the highest uid a pod may run as (Kubernetes validates runAsUser and fsGroup as int32
// in practice: OpenShift's ranges and every runtime stop there).
const MaxUID = 1<<31 - 1

// RunAsAuto is --run-as-user's default: the namespace's OpenShift range when it has one, else 999.
const RunAsAuto = "auto"

// OpenShift's namespace annotations: the uid range the restricted SCCs allow (runAsUser), and the
// groups they allow as fsGroup and supplemental groups (OpenShift falls back to the uid range
// when the second is missing).
const (
	AnnotationUIDRange           = "openshift.io/sa.scc.uid-range"
	AnnotationSupplementalGroups = "openshift.io/sa.scc.supplemental-groups"
)

// ParseRunAsUser reads --run-as-user: "auto" is 0, otherwise a uid from 1 to MaxUID.
func ParseRunAsUser(s string) (int64, error) {
	if s == RunAsAuto {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > MaxUID {
		return 0, fmt.Errorf("invalid --run-as-user %q: give auto (the namespace's OpenShift uid range, else %d) or a uid from 1 to %d (0 is root, which PostgreSQL refuses)",
			s, PostgresUID, MaxUID)
	}
	return n, nil
}

// IDRange is a block of ids as OpenShift writes it in its namespace annotations.
type IDRange struct {
	First, Size int64
}

// Last is the highest id of the range.
func (r IDRange) Last() int64 { return r.First + r.Size - 1 }

// Contains says whether id is in the range.
func (r IDRange) Contains(id int64) bool { return id >= r.First && id <= r.Last() }

func (r IDRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last()) }

// ParseIDRanges reads an OpenShift range annotation: comma-separated blocks, each "first/size"
// (what OpenShift writes) or "first-last".
func ParseIDRanges(s string) ([]IDRange, error) {
	var out []IDRange
	for block := range strings.SplitSeq(s, ",") {
		block = strings.TrimSpace(block)
		r, err := parseIDRange(block)
		if err != nil {
			return nil, fmt.Errorf("id range %q: %w", block, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseIDRange(block string) (IDRange, error) {
	num := func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 || n > MaxUID {
			return 0, fmt.Errorf("%q is not an id from 0 to %d", s, MaxUID)
		}
		return n, nil
	}
	if a, b, ok := strings.Cut(block, "/"); ok {
		first, err := num(a)
		if err != nil {
			return IDRange{}, err
		}
		size, err := num(b)
		if err != nil {
			return IDRange{}, err
		}
		if size < 1 || first+size-1 > MaxUID {
			return IDRange{}, fmt.Errorf("size %d does not fit", size)
		}
		return IDRange{First: first, Size: size}, nil
	}
	if a, b, ok := strings.Cut(block, "-"); ok {
		first, err := num(a)
		if err != nil {
			return IDRange{}, err
		}
		last, err := num(b)
		if err != nil {
			return IDRange{}, err
		}
		if last < first {
			return IDRange{}, fmt.Errorf("%d is below %d", last, first)
		}
		return IDRange{First: first, Size: last - first + 1}, nil
	}
	return IDRange{}, fmt.Errorf("want first/size or first-last")
}

// PodUser is who a cluster's pods run as.
type PodUser struct {
	// RunAsUser is the pods' uid.
	RunAsUser int64
	// FSGroup owns the pods' volumes (and is a supplemental group of every process).
	FSGroup int64
}

// Default says whether the pods run as the image's postgres user, which has a passwd entry and
// its own group; any other uid runs with gid 0 and gets its passwd entry from nss_wrapper.
func (u PodUser) Default() bool { return u.RunAsUser == PostgresUID }

// NamespaceUser decides the pods' user from --run-as-user (want, 0 for auto) and the namespace's
// annotations (nil when they could not be read). auto takes the first uid of the OpenShift range
// and the first group of its supplemental groups (setting them, rather than leaving them to the
// SCC, works where no SCC assigns them too: without an OpenShift SCC, pods without runAsUser would
// run as the image's root); an explicit uid must be inside the range. Without the annotations the
// user is want (or 999), with fsGroup the same id.
func NamespaceUser(namespace string, annotations map[string]string, want int64) (PodUser, error) {
	uidRange, ok := annotations[AnnotationUIDRange]
	if !ok {
		if want == 0 {
			want = PostgresUID
		}
		return PodUser{RunAsUser: want, FSGroup: want}, nil
	}
	uids, err := ParseIDRanges(uidRange)
	if err != nil {
		return PodUser{}, fmt.Errorf("namespace %s: annotation %s: %w", namespace, AnnotationUIDRange, err)
	}
	groups := uids
	if g, ok := annotations[AnnotationSupplementalGroups]; ok {
		if groups, err = ParseIDRanges(g); err != nil {
			return PodUser{}, fmt.Errorf("namespace %s: annotation %s: %w", namespace, AnnotationSupplementalGroups, err)
		}
	}
	// OpenShift's MustRunAsRange allows the first block of uid-range only.
	r := uids[0]
	u := PodUser{RunAsUser: r.First, FSGroup: groups[0].First}
	if want == 0 {
		if u.RunAsUser == 0 {
			return PodUser{}, fmt.Errorf("namespace %s: the uid range %s (annotation %s) starts at root: give --run-as-user a uid from %d to %d",
				namespace, r, AnnotationUIDRange, max(r.First, 1), r.Last())
		}
		return u, nil
	}
	if !r.Contains(want) {
		return PodUser{}, fmt.Errorf("--run-as-user %d is outside the uid range %s of namespace %s (annotation %s=%q), so OpenShift would refuse its pods: "+
			"give a uid from %d to %d, or --run-as-user auto (%d)", want, r, namespace, AnnotationUIDRange, uidRange, r.First, r.Last(), r.First)
	}
	u.RunAsUser = want
	return u, nil
}
