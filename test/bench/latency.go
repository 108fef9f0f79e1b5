package main

import (
	"context"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// LatencyRow is one short command, whole process, warm (after one unmeasured run).
type LatencyRow struct {
	Command string  `json:"command"`
	Ms      Summary `json:"ms"`
	// Baseline says whether this row is a floor the plugin's rows are compared with.
	Baseline bool `json:"baseline"`
}

func (b *bench) measureLatency(ctx context.Context, res *Results) error {
	ns, name := b.cfg.Namespace, b.cfg.Cluster
	repoHost := cluster.Names{Cluster: name}.RepoHost()
	cmds := []struct {
		label    string
		argv     []string
		baseline bool
	}{
		{"kubectl pgbackrest info " + name, []string{"kubectl", "pgbackrest", "-n", ns, "info", name}, false},
		{"kubectl-pgbackrest info " + name + " (binary alone)", []string{"kubectl-pgbackrest", "-n", ns, "info", name}, false},
		{"kubectl exec deploy/" + repoHost + " -- pgbackrest info (the work info must do)",
			[]string{"kubectl", "-n", ns, "exec", "deploy/" + repoHost, "-c", manifest.ContainerPGBackRest, "--", "pgbackrest", "info", "--output=json"}, true},
		{"kubectl pgbackrest --help", []string{"kubectl", "pgbackrest", "--help"}, false},
		{"kubectl-pgbackrest --help (binary alone)", []string{"kubectl-pgbackrest", "--help"}, false},
		{"kubectl version --client (kubectl's own start)", []string{"kubectl", "version", "--client"}, true},
	}
	for _, c := range cmds {
		var ms []float64
		for i := 0; i <= b.cfg.LatencyRuns; i++ {
			out, err := b.plugin.Run(ctx, c.argv[0], c.argv[1:]...)
			if err != nil {
				return err
			}
			if i > 0 { // the first run warms caches and is not counted
				ms = append(ms, float64(out.Wall.Microseconds())/1000)
			}
		}
		row := LatencyRow{Command: c.label, Ms: Summarize(ms), Baseline: c.baseline}
		logf("%s: %s ms", c.label, row.Ms.Format(0))
		res.Latency = append(res.Latency, row)
	}
	return nil
}
