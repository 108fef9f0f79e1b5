package list

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// list shows each cluster's PostgreSQL major beside its storage, in the table and in -o json.
func TestListShowsPGVersion(t *testing.T) {
	objs := clusterObjects(t, "a", "pg1", true, true, pgbackrest.Local) // the default major
	spec := create.NewSpec(create.Config{Name: "old", Namespace: "a", Storages: []pgbackrest.Storage{pgbackrest.Local}, PGVersion: 15}, cluster.S3{})
	cm, err := manifest.ConfigMap(spec, "", "")
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, cm)

	out := run(t, newOptions(objs...))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[2] != "POSTGRES" ||
		strings.Fields(lines[1])[0] != "old" || strings.Fields(lines[1])[2] != "15" ||
		strings.Fields(lines[2])[0] != "pg1" || strings.Fields(lines[2])[2] != "17" {
		t.Errorf("table:\n%s", out)
	}

	o := newOptions(objs...)
	o.Output = "json"
	var res Result
	if err := json.Unmarshal([]byte(run(t, o)), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Clusters) != 2 || res.Clusters[0].PGVersion != 15 || res.Clusters[1].PGVersion != 17 ||
		res.Clusters[0].Image != "ghcr.io/kubectl-pgbackrest/postgres:15-dev" {
		t.Errorf("json: %+v", res.Clusters)
	}
}
