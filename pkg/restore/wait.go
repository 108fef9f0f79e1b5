package restore

import "github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"

// waiter runs the restore's waits on pods, Deployments and Jobs: each says on ErrOut why it goes
// on when that changes, and stops with exit 1 when waiting cannot help (kube.Waiter).
func (r *Restore) waiter() kube.Waiter {
	return kube.Waiter{Client: r.d.Client, Progress: kube.ProgressTo(r.d.ErrOut), Now: r.d.Now}
}
