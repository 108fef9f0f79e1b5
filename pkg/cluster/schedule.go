package cluster

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Schedules are CronJobs that run the plugin itself in the cluster (docs/architecture.md,
// "Schedules"). These labels are their one definition: `schedule` makes them, `restore` suspends
// and resumes them, `status` reads them.
const (
	// RoleSchedule is LabelRole of a schedule's CronJob and of the Jobs and pods it starts.
	RoleSchedule Role = "schedule"
	// LabelScheduleKind says what a schedule runs: ScheduleKindBackup (later: drill).
	LabelScheduleKind = "pgbackrest.dev/schedule-kind"
	// LabelBackupType and LabelStorage are a backup schedule's --type and --storage.
	LabelBackupType = "pgbackrest.dev/backup-type"
	LabelStorage    = "pgbackrest.dev/storage"

	ScheduleKindBackup = "backup"

	// AnnotationSuspendedBy on a schedule's CronJob names the restore that suspended it, so that
	// restore resumes only what it suspended and `schedule list` can say why one is suspended.
	AnnotationSuspendedBy = "pgbackrest.dev/suspended-by"
)

// ScheduleLabels are the labels of a backup schedule's CronJob and of its Job template.
func ScheduleLabels(cluster, backupType string, st pgbackrest.Storage) map[string]string {
	l := Labels(cluster, RoleSchedule)
	l[LabelScheduleKind] = ScheduleKindBackup
	l[LabelBackupType] = backupType
	l[LabelStorage] = string(st)
	return l
}

// ScheduleSelector selects every schedule of the cluster (the plugin's CronJobs only).
func ScheduleSelector(cluster string) string {
	return labels.SelectorFromSet(map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  cluster,
		LabelRole:      string(RoleSchedule),
	}).String()
}

// Schedule names the CronJob of a backup schedule of this type to this storage: one per pair.
func (n Names) Schedule(backupType string, st pgbackrest.Storage) string {
	return n.Cluster + "-" + backupType + "-" + string(st)
}

// ScheduleServiceAccount is the ServiceAccount scheduled runs use; its Role and RoleBinding share
// the name.
func (n Names) ScheduleServiceAccount() string { return n.Cluster + "-pgbackrest-schedule" }
