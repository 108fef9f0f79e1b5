package restore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// PromoteResult is what `promote` reports.
type PromoteResult struct {
	Cluster string `json:"cluster"`
	// AlreadyPromoted says PostgreSQL was not in recovery: nothing was done.
	AlreadyPromoted bool `json:"alreadyPromoted"`
	// ReplayTimestamp is where replay had stopped (pg_last_xact_replay_timestamp()).
	ReplayTimestamp string `json:"replayTimestamp,omitempty"`
	// Checked says `pgbackrest check` passed afterwards.
	Checked bool `json:"checked"`
}

// Promote ends a recovery paused at its target: pg_wal_replay_resume(), then it waits (bounded by
// timeout) until PostgreSQL is out of recovery, on a new timeline, and checks that archiving works.
func Promote(ctx context.Context, d Deps, ns, name string, timeout time.Duration) (*PromoteResult, error) {
	d.defaults()
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	spec, cm, err := cluster.Get(ctx, d.Client, ns, name)
	if err != nil {
		if errors.Is(err, cluster.ErrNotFound) {
			return nil, exitcode.Usage(err)
		}
		return nil, kube.Explain(err, "get", "configmaps", ns)
	}
	// Mid-restore the primary is the old one or a new one still being prepared: promoting either
	// would fork a timeline the restore does not expect. A restore paused at its target has
	// finished, so it is promoted here.
	if err := cluster.CheckNoRestore(cm, "promote"); err != nil {
		return nil, exitcode.Usage(err)
	}
	res := &PromoteResult{Cluster: name}
	st, err := recoveryState(ctx, d, spec)
	if err != nil {
		return nil, fmt.Errorf("asking PostgreSQL of cluster %s whether it is in recovery: %w", name, err)
	}
	res.ReplayTimestamp = st.ReplayTimestamp
	if !st.InRecovery {
		res.AlreadyPromoted = true
		return res, nil
	}
	if !st.Paused {
		fmt.Fprintf(d.ErrOut, "recovery is still replaying WAL (last replayed transaction at %s): it will be resumed when it pauses\n", orNone(st.ReplayTimestamp))
	}
	deadline := d.Now().Add(timeout)
	for {
		if st.Paused {
			if _, err := psql(ctx, d, spec.Namespace, st.Pod, "select pg_wal_replay_resume()"); err != nil {
				return nil, err
			}
			fmt.Fprintf(d.ErrOut, "resumed replay (it had stopped at %s): waiting for the end of recovery\n", orNone(st.ReplayTimestamp))
		}
		if err := kube.Sleep(ctx, d.Poll); err != nil {
			return nil, err
		}
		st, err = recoveryState(ctx, d, spec)
		if err == nil && !st.InRecovery {
			break
		}
		if !d.Now().Before(deadline) {
			last := "still in recovery"
			if err != nil {
				last = err.Error()
			}
			return nil, &kube.TimeoutError{Kind: "deployment", Namespace: ns, Name: spec.Names().Primary(),
				What: "to leave recovery (pg_is_in_recovery() = false)", Timeout: timeout, Last: last}
		}
		if err != nil {
			st = &RecoveryState{InRecovery: true}
		}
	}
	if err := Check(ctx, d, spec); err != nil {
		return res, err
	}
	res.Checked = true
	return res, nil
}
