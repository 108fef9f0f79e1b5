package cluster

import (
	"errors"
	"strings"
	"testing"
)

const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestImageRepository(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0": "ghcr.io/kubectl-pgbackrest/postgres",
		"registry.lab:5000/pg/postgres:17":              "registry.lab:5000/pg/postgres",
		"registry.lab:5000/pg/postgres":                 "registry.lab:5000/pg/postgres",
		"postgres":                                      "postgres",
		"postgres:15@" + dg:                             "postgres",
		"localhost/x/postgres@" + dg:                    "localhost/x/postgres",
	} {
		if got := ImageRepository(in); got != want {
			t.Errorf("ImageRepository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDigestFromImageID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"docker.io/library/other@" + dg, dg},
		{"docker-pullable://postgres@" + dg, dg},
		{"registry.lab:5000/a/b@" + dg, dg},
		{dg, ""},                    // a config ID: nothing a registry serves
		{"postgres@sha256:abc", ""}, // not a digest
		{"", ""},
	} {
		got, err := DigestFromImageID(c.id)
		if got != c.want || (c.want == "") != errors.Is(err, ErrNoRepoDigest) {
			t.Errorf("DigestFromImageID(%q) = %q, %v; want %q", c.id, got, err, c.want)
		}
	}
}

func TestPodImage(t *testing.T) {
	s := &Spec{Image: "registry.lab:5000/pg/postgres:17"}
	if got := s.PodImage(); got != s.Image {
		t.Errorf("unpinned PodImage = %q, want the image as given", got)
	}
	s.ImageDigest = dg
	if got, want := s.PodImage(), "registry.lab:5000/pg/postgres@"+dg; got != want {
		t.Errorf("pinned PodImage = %q, want %q", got, want)
	}
}

// The ConfigMap can be edited by anyone with edit rights: a digest or a pull Secret that is not
// one never reaches a pod spec.
func TestParseRejectsBadImageFields(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"name":"a","imageDigest":"sha256:zz"}`, "image digest"},
		{`{"name":"a","imagePullSecrets":["Bad_Name"]}`, "--image-pull-secret"},
	} {
		if _, err := Parse(c.json, "ns"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want an error about %s", c.json, err, c.want)
		}
	}
}
