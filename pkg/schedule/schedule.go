package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Deps are what the schedule workflows use.
type Deps struct {
	Client kubernetes.Interface
	Now    func() time.Time
	ErrOut io.Writer
}

// CreateConfig is one `schedule create`, validated by the caller (ParseCron, ParseTimeZone,
// pgbackrest.ValidateBackupType).
type CreateConfig struct {
	Namespace, Cluster string
	Type               string
	Storage            pgbackrest.Storage
	Cron, TimeZone     string
	// Image is the plugin image; "" is cluster.PluginImage().
	Image string
	// DryRun returns the objects without writing anything.
	DryRun bool
}

// Objects returns what a schedule is made of, in the order they are applied: the
// ServiceAccount, Role and RoleBinding shared by the cluster's schedules, then the CronJob.
func Objects(spec *cluster.Spec, cfg CreateConfig) []runtime.Object {
	img := cfg.Image
	if img == "" {
		img = cluster.PluginImage()
	}
	s := Schedule{Namespace: cfg.Namespace, Cluster: cfg.Cluster, Type: cfg.Type, Storage: cfg.Storage,
		Cron: cfg.Cron, TimeZone: cfg.TimeZone, Image: img, ImagePullSecrets: spec.ImagePullSecrets}
	return []runtime.Object{manifest.ScheduleServiceAccount(cfg.Namespace, cfg.Cluster), manifest.ScheduleRole(cfg.Namespace, cfg.Cluster),
		manifest.ScheduleRoleBinding(cfg.Namespace, cfg.Cluster), manifest.ScheduleCronJob(s)}
}

// CheckStorage refuses a storage the cluster does not have, as a usage error naming --storage.
func CheckStorage(spec *cluster.Spec, st pgbackrest.Storage) error {
	if spec.Has(st) {
		return nil
	}
	have := make([]string, len(spec.Storages))
	for i, s := range spec.Storages {
		have[i] = string(s)
	}
	return exitcode.Usage(fmt.Errorf("invalid --storage %s: cluster %s has no %s repository (its storage is %s); use --storage %s",
		st, spec.Name, st, strings.Join(have, ","), have[0]))
}

// Create applies a schedule (idempotent: the same command again changes nothing, another --schedule
// replaces the expression). It returns the objects applied, or that would be with DryRun.
func Create(ctx context.Context, d Deps, cfg CreateConfig) ([]runtime.Object, error) {
	spec, _, err := cluster.Get(ctx, d.Client, cfg.Namespace, cfg.Cluster)
	if err != nil {
		return nil, err
	}
	if err := CheckStorage(spec, cfg.Storage); err != nil {
		return nil, err
	}
	objs := Objects(spec, cfg)
	if cfg.DryRun {
		return objs, nil
	}
	for _, o := range objs {
		if err := apply(ctx, d.Client, o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// apply writes one object with Server-Side Apply, refusing one of that name that is not ours.
func apply(ctx context.Context, cs kubernetes.Interface, o runtime.Object) error {
	var err error
	switch v := o.(type) {
	case *batchv1.CronJob:
		_, err = kube.Apply(ctx, cs, v, kube.ApplyOptions{})
	case *corev1.ServiceAccount:
		_, err = kube.Apply(ctx, cs, v, kube.ApplyOptions{})
	case *rbacv1.Role:
		_, err = kube.Apply(ctx, cs, v, kube.ApplyOptions{})
	case *rbacv1.RoleBinding:
		_, err = kube.Apply(ctx, cs, v, kube.ApplyOptions{})
	default:
		err = fmt.Errorf("applying %T: not a schedule's object", o)
	}
	return err
}

// Entry is one schedule as `schedule list` shows it.
type Entry struct {
	Name      string             `json:"name"`
	Type      string             `json:"type"`
	Storage   pgbackrest.Storage `json:"storage"`
	Schedule  string             `json:"schedule"`
	TimeZone  string             `json:"timeZone,omitempty"`
	Suspended bool               `json:"suspended"`
	// SuspendedBy is the restore that suspended it, when one did.
	SuspendedBy string     `json:"suspendedBy,omitempty"`
	LastRun     *time.Time `json:"lastRun,omitempty"`
	// LastResult is the newest kept Job's: Running, Succeeded or Failed ("" when none is kept).
	LastResult string `json:"lastResult,omitempty"`
	// LastJob names that Job (kubectl logs job/NAME).
	LastJob string `json:"lastJob,omitempty"`
	// LastDurationSeconds is the Job's start to completion (or to now while it runs).
	LastDurationSeconds *float64   `json:"lastDurationSeconds,omitempty"`
	NextRun             *time.Time `json:"nextRun,omitempty"`
}

// List is what `schedule list` prints.
type List struct {
	Cluster   string  `json:"cluster"`
	Namespace string  `json:"namespace"`
	Schedules []Entry `json:"schedules"`
}

// Results of a run.
const (
	ResultRunning   = "Running"
	ResultSucceeded = "Succeeded"
	ResultFailed    = "Failed"
)

// Table implements output.Tabler.
func (l *List) Table() ([]string, [][]string) {
	headers := []string{"name", "type", "storage", "schedule", "suspended", "last run", "result", "duration", "next run"}
	rows := make([][]string, 0, len(l.Schedules))
	for _, e := range l.Schedules {
		sched := e.Schedule
		if e.TimeZone != "" {
			sched += " (" + e.TimeZone + ")"
		}
		susp := "no"
		if e.Suspended {
			susp = "yes"
			if e.SuspendedBy != "" {
				susp += " (" + e.SuspendedBy + ")"
			}
		}
		rows = append(rows, []string{e.Name, e.Type, string(e.Storage), sched, susp, timeOrDash(e.LastRun), dash(e.LastResult),
			durationOrDash(e.LastDurationSeconds), timeOrDash(e.NextRun)})
	}
	return headers, rows
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func durationOrDash(s *float64) string {
	if s == nil {
		return "-"
	}
	return output.FormatDuration(time.Duration(*s * float64(time.Second)))
}

// ListSchedules reads the cluster's schedules and their newest Jobs.
func ListSchedules(ctx context.Context, d Deps, ns, name string) (*List, error) {
	if _, _, err := cluster.Get(ctx, d.Client, ns, name); err != nil {
		return nil, err
	}
	cjs, err := cronJobs(ctx, d.Client, ns, name)
	if err != nil {
		return nil, err
	}
	jobs, err := d.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.ScheduleSelector(name)})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the schedules' Jobs: %w", err), "list", "jobs", ns)
	}
	now := d.Now()
	res := &List{Cluster: name, Namespace: ns, Schedules: []Entry{}}
	for i := range cjs {
		res.Schedules = append(res.Schedules, entryOf(&cjs[i], jobs.Items, now))
	}
	return res, nil
}

// entryOf describes a CronJob from its status and the newest of its Jobs.
func entryOf(cj *batchv1.CronJob, jobs []batchv1.Job, now time.Time) Entry {
	typ, st := typeStorage(cj)
	e := Entry{Name: cj.Name, Type: typ, Storage: st, Schedule: cj.Spec.Schedule, Suspended: suspendedOf(cj),
		SuspendedBy: cj.Annotations[AnnotationSuspendedBy]}
	if cj.Spec.TimeZone != nil {
		e.TimeZone = *cj.Spec.TimeZone
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		v := t.Time
		e.LastRun = &v
	}
	var last *batchv1.Job
	for i := range jobs {
		j := &jobs[i]
		if !ownedBy(j, cj) {
			continue
		}
		if last == nil || j.CreationTimestamp.After(last.CreationTimestamp.Time) {
			last = j
		}
	}
	if last != nil {
		e.LastJob = last.Name
		e.LastResult = jobResult(last)
		if last.Status.StartTime != nil {
			end := now
			if last.Status.CompletionTime != nil {
				end = last.Status.CompletionTime.Time
			} else if e.LastResult == ResultFailed {
				end = failedAt(last, now)
			}
			d := end.Sub(last.Status.StartTime.Time).Seconds()
			e.LastDurationSeconds = &d
		}
	}
	if !e.Suspended {
		if c, err := ParseCron("schedule", cj.Spec.Schedule); err == nil {
			loc := time.UTC
			if e.TimeZone != "" {
				if l, err := time.LoadLocation(e.TimeZone); err == nil {
					loc = l
				}
			}
			if n := c.Next(now, loc); !n.IsZero() {
				n = n.UTC()
				e.NextRun = &n
			}
		}
	}
	return e
}

func ownedBy(j *batchv1.Job, cj *batchv1.CronJob) bool {
	for _, o := range j.OwnerReferences {
		if o.Kind == "CronJob" && o.Name == cj.Name {
			return true
		}
	}
	return false
}

func jobResult(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != "True" {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return ResultSucceeded
		case batchv1.JobFailed:
			return ResultFailed
		}
	}
	return ResultRunning
}

func failedAt(j *batchv1.Job, now time.Time) time.Time {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == "True" {
			return c.LastTransitionTime.Time
		}
	}
	return now
}

// AnnotationSuspendedBy is what restore writes on the CronJobs it suspends.
const AnnotationSuspendedBy = cluster.AnnotationSuspendedBy

func cronJobs(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]batchv1.CronJob, error) {
	sel := cluster.ScheduleSelector(name)
	list, err := cs.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, kube.Explain(fmt.Errorf("listing the schedules (CronJobs %s): %w", sel, err), "list", "cronjobs", ns)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return items, nil
}

// ErrNoSchedule is matched by the error of a schedule that does not exist.
var ErrNoSchedule = errors.New("no such schedule")

// Find returns the cluster's schedule of that name, checked as the plugin's.
func Find(ctx context.Context, cs kubernetes.Interface, ns, clusterName, name string) (*batchv1.CronJob, error) {
	cjs, err := cronJobs(ctx, cs, ns, clusterName)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cjs))
	for i := range cjs {
		if cjs[i].Name == name {
			return &cjs[i], nil
		}
		names = append(names, cjs[i].Name)
	}
	have := "it has none"
	if len(names) > 0 {
		have = "it has " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%w: cluster %s has no schedule %s (%s; see kubectl pgbackrest schedule list %s)", ErrNoSchedule, clusterName, name, have, clusterName)
}

// SetSuspend suspends (or resumes) one schedule. Resuming one a restore suspended clears its mark.
// It returns whether anything changed.
func SetSuspend(ctx context.Context, d Deps, ns, clusterName, name string, suspend, dryRun bool) (bool, error) {
	cj, err := Find(ctx, d.Client, ns, clusterName, name)
	if err != nil {
		return false, err
	}
	if suspendedOf(cj) == suspend && (suspend || cj.Annotations[AnnotationSuspendedBy] == "") {
		return false, nil
	}
	if !suspend && cj.Annotations[AnnotationSuspendedBy] != "" {
		if err := cluster.RefuseMidRestore(ctx, d.Client, ns, clusterName, "schedule resume"); err != nil {
			return false, exitcode.Usage(err)
		}
	}
	if dryRun {
		return true, nil
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}},"spec":{"suspend":%t}}`, AnnotationSuspendedBy, suspend)
	_, err = d.Client.BatchV1().CronJobs(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return false, kube.Explain(fmt.Errorf("patching CronJob %s/%s: %w", ns, name, err), "patch", "cronjobs", ns)
	}
	return true, nil
}

// Delete removes one schedule (its Jobs and pods with it); with the last one, the ServiceAccount,
// Role and RoleBinding go too.
func Delete(ctx context.Context, d Deps, ns, clusterName, name string, dryRun bool) error {
	cj, err := Find(ctx, d.Client, ns, clusterName, name)
	if err != nil {
		return err
	}
	if dryRun {
		return nil
	}
	if err := deleteCronJob(ctx, d.Client, cj); err != nil {
		return err
	}
	left, err := cronJobs(ctx, d.Client, ns, clusterName)
	if err != nil {
		return err
	}
	if len(left) == 0 {
		return deleteRBAC(ctx, d.Client, ns, clusterName)
	}
	return nil
}

// DeleteAll removes every schedule of the cluster and their ServiceAccount, Role and RoleBinding
// (`kubectl pgbackrest delete`). Objects not ours are left alone and reported.
func DeleteAll(ctx context.Context, cs kubernetes.Interface, ns, clusterName string) error {
	cjs, err := cronJobs(ctx, cs, ns, clusterName)
	if err != nil {
		return err
	}
	for i := range cjs {
		if err := deleteCronJob(ctx, cs, &cjs[i]); err != nil {
			return err
		}
	}
	return deleteRBAC(ctx, cs, ns, clusterName)
}

func deleteCronJob(ctx context.Context, cs kubernetes.Interface, cj *batchv1.CronJob) error {
	ref := kube.Ref{Kind: "CronJob", Namespace: cj.Namespace, Name: cj.Name}
	if err := kube.CheckOwner(ref, cj, cluster.Owner(cj.Labels[cluster.LabelInstance])); err != nil {
		return err
	}
	return kube.Delete(ctx, cs, ref, cj.UID, metav1.DeletePropagationBackground)
}

// rbacRefs are the schedules' ServiceAccount, Role and RoleBinding.
func rbacRefs(ns, clusterName string) []kube.Ref {
	name := cluster.Names{Cluster: clusterName}.ScheduleServiceAccount()
	return []kube.Ref{
		{Kind: "RoleBinding", Namespace: ns, Name: name},
		{Kind: "Role", Namespace: ns, Name: name},
		{Kind: "ServiceAccount", Namespace: ns, Name: name},
	}
}

// deleteRBAC removes the schedules' ServiceAccount, Role and RoleBinding when they are ours.
func deleteRBAC(ctx context.Context, cs kubernetes.Interface, ns, clusterName string) error {
	for _, ref := range rbacRefs(ns, clusterName) {
		if err := kube.DeleteOwned(ctx, cs, ref, cluster.Owner(clusterName), metav1.DeletePropagationBackground); err != nil {
			return err
		}
	}
	return nil
}
