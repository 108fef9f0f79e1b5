package create

import (
	"context"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/schedule"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/workflow"
)

// scheduleSteps is create's last step with --schedule-full/diff/incr: each type scheduled to every
// storage of the cluster (docs/schedules.md), applied like `schedule create`.
func (w *run) scheduleSteps() []workflow.Step {
	if len(w.schedules) == 0 {
		return nil
	}
	var names []string
	for _, typ := range pgbackrest.BackupTypes {
		if _, ok := w.schedules[typ]; ok {
			for _, st := range w.spec.Storages {
				names = append(names, w.names().Schedule(typ, st))
			}
		}
	}
	return []workflow.Step{{Name: "backup schedules (CronJob " + strings.Join(names, ", ") + ")", Done: w.schedulesDone, Apply: w.applySchedules}}
}

// schedulesDone: every schedule exists with its expression.
func (w *run) schedulesDone(ctx context.Context) (bool, error) {
	for typ, cron := range w.schedules {
		for _, st := range w.spec.Storages {
			cj, err := w.deps.Client.BatchV1().CronJobs(w.ns()).Get(ctx, w.names().Schedule(typ, st), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, kube.Explain(err, "get", "cronjobs", w.ns())
			}
			if cj.Spec.Schedule != cron {
				return false, nil
			}
		}
	}
	return true, nil
}

func (w *run) applySchedules(ctx context.Context) error {
	for _, typ := range pgbackrest.BackupTypes {
		cron, ok := w.schedules[typ]
		if !ok {
			continue
		}
		for _, st := range slices.Clone(w.spec.Storages) {
			if _, err := schedule.Create(ctx, schedule.Deps{Client: w.deps.Client, Now: w.deps.Now, ErrOut: w.deps.ErrOut},
				schedule.CreateConfig{Namespace: w.ns(), Cluster: w.spec.Name, Type: typ, Storage: st, Cron: cron}); err != nil {
				return err
			}
		}
	}
	return nil
}
