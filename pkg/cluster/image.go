package cluster

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// digestRE is an OCI content digest as pods' image references carry it.
var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ErrNoRepoDigest is wrapped when a container's imageID names no registry digest (an image the
// node knows only by its config ID): nothing a pod could pull by.
var ErrNoRepoDigest = errors.New("the node reports no registry digest for the image")

// ImageRepository is ref without its tag and digest: "reg:5000/a/b:1@sha256:…" is "reg:5000/a/b".
// A port's colon is not a tag's: a tag follows the last slash.
func ImageRepository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// ImageRefDigest is the digest ref names ("…@sha256:…"), or "".
func ImageRefDigest(ref string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 && digestRE.MatchString(ref[i+1:]) {
		return ref[i+1:]
	}
	return ""
}

// DigestFromImageID takes the digest out of a container status's imageID. containerd reports
// "<name>@sha256:<manifest or index digest>", where name may be another name the node pulled the
// same content under, so only the digest is kept (PodImage joins it to the repository the user
// asked for); docker-based runtimes prefix "docker-pullable://". A bare "sha256:…" is the image's
// config ID, which no registry serves.
func DigestFromImageID(imageID string) (string, error) {
	id := strings.TrimPrefix(imageID, "docker-pullable://")
	if d := ImageRefDigest(id); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("%w: imageID %q", ErrNoRepoDigest, imageID)
}

// PodImage is the image reference of every pod the plugin makes: the repository of Image at the
// pinned digest once the cluster is pinned (ImageDigest), else Image as given. Tags move; a digest
// is the same bytes on every node, so the primary, the repository host and every Job run one
// pgBackRest build (its TLS protocol wants the same version on both ends).
func (s *Spec) PodImage() string {
	if s.ImageDigest == "" {
		return s.Image
	}
	return ImageRepository(s.Image) + "@" + s.ImageDigest
}

// checkImage checks the pin and the pull Secrets' names, which reach every pod's spec.
func (s *Spec) checkImage() error {
	var errs []error
	if s.ImageDigest != "" && !digestRE.MatchString(s.ImageDigest) {
		errs = append(errs, fmt.Errorf("image digest %q is not sha256:<64 hex digits>", s.ImageDigest))
	}
	for _, n := range s.ImagePullSecrets {
		if err := ValidateImagePullSecret(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateImagePullSecret checks an --image-pull-secret name: a Secret's name is a DNS subdomain.
func ValidateImagePullSecret(name string) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("invalid --image-pull-secret %q: %s; give the name of a Secret of type kubernetes.io/dockerconfigjson in the cluster's namespace",
			name, strings.Join(msgs, "; "))
	}
	return nil
}

// RoleProbe labels the Job that `update --image` runs to learn a new image's versions.
const RoleProbe Role = "probe"

// ProbeJob names that Job; one runs at a time (under the cluster's Lease).
func (n Names) ProbeJob() string { return n.Cluster + "-image-probe" }
