package create

import (
	"context"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// policiesDone: both NetworkPolicies exist. A cluster made before the plugin had them gets them
// from a re-run of create.
func (w *run) policiesDone(ctx context.Context) (bool, error) {
	for _, np := range manifest.NetworkPolicies(w.spec) {
		ok, err := w.present(ctx, kube.Ref{Kind: "NetworkPolicy", Namespace: w.ns(), Name: np.Name})
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (w *run) applyPolicies(ctx context.Context) error {
	for _, np := range manifest.NetworkPolicies(w.spec) {
		if _, err := kube.Apply(ctx, w.deps.Client, np, kube.ApplyOptions{}); err != nil {
			return err
		}
	}
	return nil
}
