package create

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"sigs.k8s.io/yaml"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The PostgreSQL major decides the image, PGDATA and the configuration's pg1-path of every pod;
// without --pg-version it is 17. An --image given keeps its reference, whatever the major.
func TestDryRunFollowsPGVersion(t *testing.T) {
	cases := []struct {
		name      string
		pgVersion int
		image     string
		wantImage string
		wantData  string
	}{
		{"default", 0, "", "ghcr.io/kubectl-pgbackrest/postgres:17-dev", "/pgdata/pg17"},
		{"15", 15, "", "ghcr.io/kubectl-pgbackrest/postgres:15-dev", "/pgdata/pg15"},
		{"17", 17, "", "ghcr.io/kubectl-pgbackrest/postgres:17-dev", "/pgdata/pg17"},
		{"15 with --image", 15, "registry.example.com/pg:15", "registry.example.com/pg:15", "/pgdata/pg15"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, stdout, _ := dryRunOptions(t, "local", "yaml")
			if c.pgVersion != 0 {
				o.PGVersion = c.pgVersion
			}
			o.Image = c.image
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := o.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var spec *cluster.Spec
			var deployments []appsv1.Deployment
			for d := range strings.SplitSeq(stdout.String(), "---\n") {
				var kind struct{ Kind string }
				if err := yaml.Unmarshal([]byte(d), &kind); err != nil {
					t.Fatal(err)
				}
				switch kind.Kind {
				case "ConfigMap":
					var cm corev1.ConfigMap
					if err := yaml.Unmarshal([]byte(d), &cm); err != nil {
						t.Fatal(err)
					}
					var err error
					if spec, err = cluster.Parse(cm.Data[cluster.SpecKey], "ns1"); err != nil {
						t.Fatal(err)
					}
					for _, key := range []string{cluster.DBConfKey, cluster.RepoConfKey} {
						if !strings.Contains(cm.Data[key], "\npg1-path="+c.wantData+"\n") {
							t.Errorf("%s lacks pg1-path=%s:\n%s", key, c.wantData, cm.Data[key])
						}
					}
				case "Deployment":
					var dep appsv1.Deployment
					if err := yaml.Unmarshal([]byte(d), &dep); err != nil {
						t.Fatal(err)
					}
					deployments = append(deployments, dep)
				}
			}
			want := cmpOr(c.pgVersion, 17)
			if spec == nil || spec.PGVersion != want || spec.Image != c.wantImage {
				t.Fatalf("spec %+v, want pgVersion %d and image %s", spec, want, c.wantImage)
			}
			if len(deployments) != 2 {
				t.Fatalf("%d Deployments", len(deployments))
			}
			for _, dep := range deployments {
				for _, ctr := range dep.Spec.Template.Spec.Containers {
					if ctr.Image != c.wantImage {
						t.Errorf("%s/%s runs %s, want %s", dep.Name, ctr.Name, ctr.Image, c.wantImage)
					}
					if ctr.Name == manifest.ContainerPostgres && !strings.Contains(strings.Join(ctr.Command, " "), "initdb -D "+c.wantData+" ") {
						t.Errorf("postgres container does not initdb %s: %q", c.wantData, ctr.Command)
					}
				}
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}
