package cluster

import (
	"fmt"
	"io"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// LeaseConfig is the cluster's Lease (Names.Lease) for one run of a command that changes it:
// the one place that names it, labels it with the command's role and prints what the wait for
// another holder is doing on note.
func (s *Spec) LeaseConfig(holder, purpose string, role Role, now func() time.Time, recheck time.Duration, note io.Writer) kube.LeaseConfig {
	return kube.LeaseConfig{
		Namespace: s.Namespace, Name: s.Names().Lease(), Holder: holder, Purpose: purpose,
		Labels: Labels(s.Name, role), Clock: now, Recheck: recheck,
		Note: func(msg string) { fmt.Fprintln(note, msg) },
	}
}
