package restore

import (
	"context"
	"fmt"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// The restore's use of the cluster's Lease; how the Lease fences is pkg/kube's (lease.go).

func (r *Restore) leaseConfig() kube.LeaseConfig {
	return kube.LeaseConfig{
		Namespace: r.Spec.Namespace, Name: r.Spec.Names().Lease(),
		Holder: r.d.Holder, Purpose: "restore",
		Labels: cluster.Labels(r.Spec.Name, cluster.RoleConfig), Clock: r.d.Now, Recheck: r.d.LeaseRecheck,
		Note: func(msg string) { fmt.Fprintf(r.d.ErrOut, "  %s\n", msg) },
		// The take-lease step goes on watching from what Prepare saw: a stale Lease is not
		// watched twice.
		Seen: &r.leaseSeen,
	}
}

// leaseHeld is Prepare's preflight: another live run holds the Lease.
func (r *Restore) leaseHeld(ctx context.Context) error {
	held, err := kube.LeaseHeld(ctx, r.d.Client, r.leaseConfig())
	if err != nil {
		return err
	}
	if held != nil {
		return held
	}
	return nil
}

func (r *Restore) takeLease(ctx context.Context) error {
	l, err := kube.AcquireLease(ctx, r.d.Client, r.leaseConfig())
	if err != nil {
		return err
	}
	r.lease = l
	return nil
}

func (r *Restore) releaseLease(ctx context.Context) error {
	l := r.lease
	r.lease = nil
	if l == nil {
		return nil
	}
	return l.Release(ctx)
}

// dropLease releases the Lease when Run returns early (a failure, Ctrl-C): bounded in time.
func (r *Restore) dropLease(ctx context.Context) {
	if err := r.releaseLease(ctx); err != nil {
		r.d.Warn("%v", err)
	}
}

// fence stops the run between steps once the Lease is lost: another run may act on the cluster.
func (r *Restore) fence(ctx context.Context) error {
	if r.lease == nil {
		return nil
	}
	return r.lease.Check(ctx)
}

// fenced is the error of a restore stopped by its fence.
func fenced(id string, step *workflow.StepError) error {
	return fmt.Errorf("restore %s stopped before step %q: %w; it stopped there so that two runs never act on the cluster at once; "+
		"once the other run is done, re-run the same command to resume", id, step.Step, step.Err)
}
