package cmdutil

import (
	"context"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/rotate"
)

// WarnCerts prints on w the warnings about cluster's pgBackRest certificates (an expiry within
// 30 days, a rotation left half done): check and info call it. Failing to read them is itself
// only a warning; these commands are about something else.
func WarnCerts(ctx context.Context, cs kubernetes.Interface, w io.Writer, c *output.Color, ns, cluster string, now time.Time) {
	st, err := rotate.ReadCertStatus(ctx, cs, ns, cluster, now)
	if err != nil {
		output.Warn(w, c, "%v", err)
		return
	}
	if st == nil {
		return
	}
	for _, msg := range st.Warnings {
		output.Warn(w, c, "%s", msg)
	}
}
