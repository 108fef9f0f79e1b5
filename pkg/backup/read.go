package backup

import (
	"context"
)

// ReadRepo runs a read-only command (pgbackrest info, version) in the cluster's Ready repository
// host and returns its stdout, retrying a broken exec as info does.
func ReadRepo(ctx context.Context, d Deps, ns, name string, cmd []string) ([]byte, error) {
	_, pod, err := target(ctx, d, ns, name)
	if err != nil {
		return nil, err
	}
	return execRead(ctx, d, ns, pod, cmd)
}
