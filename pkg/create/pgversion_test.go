package create

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestNewSpecPGVersion(t *testing.T) {
	for _, c := range []struct {
		pg        int
		image     string
		wantPG    int
		wantImage string
	}{
		{0, "", 17, "ghcr.io/kubectl-pgbackrest/postgres:17-dev"},
		{15, "", 15, "ghcr.io/kubectl-pgbackrest/postgres:15-dev"},
		{17, "mine:1", 17, "mine:1"},
	} {
		cfg := config(pgbackrest.Local)
		cfg.PGVersion, cfg.Image = c.pg, c.image
		s := NewSpec(cfg, cluster.S3{})
		if s.PGVersion != c.wantPG || s.Image != c.wantImage || s.PGData() != "/pgdata/pg"+strconv.Itoa(c.wantPG) {
			t.Errorf("PGVersion %d, image %q: spec has %d, %q, %s", c.pg, c.image, s.PGVersion, s.Image, s.PGData())
		}
		if err := s.Validate(); err != nil {
			t.Errorf("PGVersion %d: %v", c.pg, err)
		}
	}
	cfg := config(pgbackrest.Local)
	cfg.PGVersion = 16
	if _, _, err := Prepare(context.Background(), newClient(t), cfg); err == nil || !strings.Contains(err.Error(), "use 15 or 17") {
		t.Errorf("Prepare of PostgreSQL 16: %v", err)
	}
}

// A cluster created with PostgreSQL 15 (every cluster before 17 became the default) keeps its
// major, data directory and image when create runs again without --pg-version: the stored spec
// wins, and nothing is written.
func TestStoredPG15ClusterKeepsItsVersion(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	cfg := config(pgbackrest.Local)
	cfg.PGVersion, cfg.Image = 15, "registry.example.com/pg:15-pgbackrest"
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil {
		t.Fatal(err)
	}
	before := len(writes(cs))

	again := config(pgbackrest.Local)
	again.Image = ""
	res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), again)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Spec.PGVersion != 15 || res.Spec.Image != cfg.Image || res.Spec.PGData() != "/pgdata/pg15" {
		t.Errorf("re-run: changed %v, spec %+v", res.Changed, res.Spec)
	}
	if w := writes(cs)[before:]; len(w) != 0 {
		t.Errorf("re-run wrote %q", w)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "pg1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if env := envOf(d.Spec.Template.Spec.Containers[0].Env, "PGDATA"); env != "/pgdata/pg15" {
		t.Errorf("primary PGDATA = %q", env)
	}
}

func envOf(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// An explicit --pg-version other than the cluster's is refused before anything is written, with
// exit status 2; the same major, or none, goes on.
func TestPGVersionFixedAtCreate(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	cfg := config(pgbackrest.Local)
	cfg.PGVersion = 15
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil {
		t.Fatal(err)
	}
	before := len(writes(cs))
	other := config(pgbackrest.Local)
	other.PGVersion, other.PGVersionExplicit = 17, true
	_, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), other)
	if !errors.Is(err, ErrPGVersionFixed) || exitcode.For(err) != exitcode.UsageError ||
		!strings.Contains(err.Error(), "runs PostgreSQL 15, not 17; keep --pg-version 15") {
		t.Errorf("explicit 17 on a 15 cluster: exit %d, %v", exitcode.For(err), err)
	}
	if w := writes(cs)[before:]; len(w) != 0 {
		t.Errorf("refused create wrote %q", w)
	}
	same := config(pgbackrest.Local)
	same.PGVersion, same.PGVersionExplicit = 15, true
	if res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), same); err != nil || res.Changed {
		t.Errorf("explicit 15 on a 15 cluster: changed %v, %v", res != nil && res.Changed, err)
	}

	// A create that has not finished says how to start over.
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(cm.Annotations, AnnotationCreatedAt)
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), other); !errors.Is(err, ErrPGVersionFixed) ||
		!strings.Contains(err.Error(), "kubectl pgbackrest delete pg1 --delete-data -n ns1") {
		t.Errorf("explicit 17 on an unfinished 15 create: %v", err)
	}
}
