package cmdutil

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// completionTimeout bounds the API calls behind a <TAB>: a shell must never hang on a slow cluster.
const completionTimeout = 5 * time.Second

// CompleteCluster completes a verb's CLUSTER argument with the clusters of the namespace (one List
// by the cluster label).
func CompleteCluster(d *Deps) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := d.ClusterClients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
		defer cancel()
		specs, _ := cluster.List(ctx, c.Client, c.Namespace)
		var names []string
		for _, s := range specs {
			if strings.HasPrefix(s.Name, toComplete) {
				names = append(names, s.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteBackupSet completes --set with the backup labels `pgbackrest info` lists for the cluster
// named by the first argument.
func CompleteBackupSet(d *Deps) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := d.ClusterClients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
		defer cancel()
		sum, err := backup.Info(ctx, backup.Deps{Client: c.Client, Exec: c.Exec},
			backup.InfoConfig{Namespace: c.Namespace, Cluster: args[0]})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var labels []string
		for _, repo := range sum.Repositories {
			for _, b := range repo.Backups {
				if strings.HasPrefix(b.Label, toComplete) {
					labels = append(labels, b.Label)
				}
			}
		}
		return labels, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionContext is the command's context; cobra's __complete runs without ExecuteContext's.
func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
