package schedule

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Schedule is one backup schedule (manifest.Schedule renders its objects).
type Schedule = manifest.Schedule

// suspendedOf says a CronJob is suspended.
func suspendedOf(cj *batchv1.CronJob) bool { return cj.Spec.Suspend != nil && *cj.Spec.Suspend }

// typeStorage reads a schedule CronJob's type and storage from its labels.
func typeStorage(cj *batchv1.CronJob) (string, pgbackrest.Storage) {
	return cj.Labels[cluster.LabelBackupType], pgbackrest.Storage(strings.TrimSpace(cj.Labels[cluster.LabelStorage]))
}
