package schedule

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

func TestCronJob(t *testing.T) {
	s := Schedule{Namespace: "db", Cluster: "pg1", Type: "full", Storage: pgbackrest.Local, Cron: "0 1 * * 0",
		TimeZone: "Europe/Paris", Image: "reg/plugin:v1", ImagePullSecrets: []string{"pull"}}
	cj := manifest.ScheduleCronJob(s)
	if cj.Name != "pg1-full-local" || cj.Namespace != "db" || cj.Kind != "CronJob" {
		t.Fatalf("name/kind: %s/%s %s", cj.Namespace, cj.Name, cj.Kind)
	}
	want := cluster.ScheduleLabels("pg1", "full", pgbackrest.Local)
	for _, l := range []map[string]string{cj.Labels, cj.Spec.JobTemplate.Labels, cj.Spec.JobTemplate.Spec.Template.Labels} {
		for k, v := range want {
			if l[k] != v {
				t.Errorf("label %s=%q, want %q", k, l[k], v)
			}
		}
	}
	if !selectorMatches(cluster.ScheduleSelector("pg1"), cj.Labels) {
		t.Error("ScheduleSelector does not select the CronJob (restore would not suspend it)")
	}
	sp := cj.Spec
	if sp.Schedule != "0 1 * * 0" || sp.TimeZone == nil || *sp.TimeZone != "Europe/Paris" {
		t.Errorf("schedule %q tz %v", sp.Schedule, sp.TimeZone)
	}
	if sp.Suspend != nil {
		t.Error("Suspend set: a re-apply would resume a schedule a restore suspended")
	}
	if sp.ConcurrencyPolicy != batchv1.ForbidConcurrent || *sp.StartingDeadlineSeconds <= 0 ||
		*sp.SuccessfulJobsHistoryLimit != manifest.SuccessfulJobsHistory || *sp.FailedJobsHistoryLimit < 1 {
		t.Errorf("policy: %+v", sp)
	}
	js := sp.JobTemplate.Spec
	if *js.BackoffLimit != 0 || js.ActiveDeadlineSeconds == nil {
		t.Errorf("job: backoffLimit %d, activeDeadlineSeconds %v", *js.BackoffLimit, js.ActiveDeadlineSeconds)
	}
	pod := js.Template.Spec
	if pod.ServiceAccountName != "pg1-pgbackrest-schedule" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod: sa %q restart %q", pod.ServiceAccountName, pod.RestartPolicy)
	}
	if len(pod.ImagePullSecrets) != 1 || pod.ImagePullSecrets[0].Name != "pull" {
		t.Errorf("imagePullSecrets: %v", pod.ImagePullSecrets)
	}
	psc := pod.SecurityContext
	if !*psc.RunAsNonRoot || *psc.RunAsUser != manifest.PluginUID || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security: %+v", psc)
	}
	c := pod.Containers[0]
	if c.Image != "reg/plugin:v1" {
		t.Errorf("image %q", c.Image)
	}
	wantArgs := []string{"backup", "pg1", "--namespace", "db", "--type", "full", "--storage", "local", "--timeout", manifest.RunTimeout, "--color", "never"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	sc := c.SecurityContext
	if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security: %+v", sc)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["POD_UID"].ValueFrom == nil || env["POD_UID"].ValueFrom.FieldRef.FieldPath != "metadata.uid" || env["HOME"].Value != "/tmp" {
		t.Errorf("env: %v", c.Env)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/tmp" {
		t.Errorf("mounts: %v", c.VolumeMounts)
	}
	// Job names are the CronJob's plus 11 characters: a 40-character cluster must fit 63.
	long := Schedule{Cluster: strings.Repeat("a", cluster.MaxNameLength), Type: "incr", Storage: pgbackrest.Local}
	if n := len(long.Name()); n > 52 {
		t.Errorf("CronJob name of a %d-character cluster is %d characters, the API allows 52", cluster.MaxNameLength, n)
	}
}

func TestRole(t *testing.T) {
	r := manifest.ScheduleRole("db", "pg1")
	if r.Name != "pg1-pgbackrest-schedule" || r.Labels[cluster.LabelInstance] != "pg1" || r.Labels[cluster.LabelManagedBy] != cluster.ManagedBy {
		t.Fatalf("meta: %+v", r.ObjectMeta)
	}
	allowed := func(group, resource, verb, name string) bool {
		for _, rule := range r.Rules {
			if slices.Contains(rule.APIGroups, group) && slices.Contains(rule.Resources, resource) && slices.Contains(rule.Verbs, verb) &&
				(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)) {
				return true
			}
		}
		return false
	}
	for _, want := range [][4]string{
		{"", "configmaps", "get", "pg1-pgbackrest"},
		{"", "pods", "list", ""},
		{"", "pods/exec", "create", "x"},
		{"", "pods/exec", "get", "x"},
		{"coordination.k8s.io", "leases", "create", ""},
		{"coordination.k8s.io", "leases", "update", "pg1-pgbackrest"},
		{"coordination.k8s.io", "leases", "delete", "pg1-pgbackrest"},
	} {
		if !allowed(want[0], want[1], want[2], want[3]) {
			t.Errorf("Role does not allow %s %s/%s %s", want[2], want[0], want[1], want[3])
		}
	}
	for _, deny := range [][4]string{
		{"", "secrets", "get", "pg1-pgbackrest-tls"},
		{"", "configmaps", "get", "other-pgbackrest"},
		{"", "configmaps", "update", "pg1-pgbackrest"},
		{"apps", "deployments", "patch", "pg1"},
		{"batch", "cronjobs", "patch", "pg1-full-local"},
		{"", "pods", "delete", "x"},
	} {
		if allowed(deny[0], deny[1], deny[2], deny[3]) {
			t.Errorf("Role allows %s %s/%s %s, which a backup does not need", deny[2], deny[0], deny[1], deny[3])
		}
	}
	rb := manifest.ScheduleRoleBinding("db", "pg1")
	if rb.RoleRef.Name != r.Name || rb.Subjects[0].Name != manifest.ScheduleServiceAccount("db", "pg1").Name || rb.Subjects[0].Namespace != "db" {
		t.Errorf("binding: %+v", rb)
	}
}

func TestCheckStorage(t *testing.T) {
	spec := cluster.New("pg1", "db")
	spec.Storages = []pgbackrest.Storage{pgbackrest.Local}
	if err := CheckStorage(spec, pgbackrest.Local); err != nil {
		t.Error(err)
	}
	err := CheckStorage(spec, pgbackrest.S3)
	if err == nil || exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), "--storage") {
		t.Errorf("s3 on a local cluster: %v (exit %d)", err, exitcode.For(err))
	}
}

func TestEntryOf(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 30, 0, time.UTC)
	cj := manifest.ScheduleCronJob(Schedule{Namespace: "db", Cluster: "pg1", Type: "full", Storage: pgbackrest.Local, Cron: "* * * * *"})
	cj.Status.LastScheduleTime = &metav1.Time{Time: now.Add(-90 * time.Second)}
	job := func(name string, created time.Time, dur time.Duration, cond batchv1.JobConditionType) batchv1.Job {
		j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Time{Time: created},
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: cj.Name}}}}
		j.Status.StartTime = &metav1.Time{Time: created}
		if cond != "" {
			end := metav1.Time{Time: created.Add(dur)}
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: "True", LastTransitionTime: end}}
			if cond == batchv1.JobComplete {
				j.Status.CompletionTime = &end
			}
		}
		return j
	}
	other := job("other", now, 0, "")
	other.OwnerReferences[0].Name = "pg1-incr-local"
	jobs := []batchv1.Job{
		job("old", now.Add(-150*time.Second), 20*time.Second, batchv1.JobFailed),
		job("new", now.Add(-90*time.Second), 12*time.Second, batchv1.JobComplete),
		other,
	}
	e := entryOf(cj, jobs, now)
	if e.LastJob != "new" || e.LastResult != ResultSucceeded || e.LastDurationSeconds == nil || *e.LastDurationSeconds != 12 {
		t.Errorf("last run: %+v", e)
	}
	if e.NextRun == nil || !e.NextRun.Equal(now.Truncate(time.Minute).Add(time.Minute)) || e.Suspended {
		t.Errorf("next run: %v", e.NextRun)
	}
	cj.Spec.Suspend = ptr(true)
	cj.Annotations = map[string]string{AnnotationSuspendedBy: "restore-1"}
	if e := entryOf(cj, jobs[:1], now); !e.Suspended || e.NextRun != nil || e.SuspendedBy != "restore-1" || e.LastResult != ResultFailed || *e.LastDurationSeconds != 20 {
		t.Errorf("suspended, failed: %+v", e)
	}
}

// selectorMatches says labels l match the selector string sel.
func selectorMatches(sel string, l map[string]string) bool {
	s, err := labels.Parse(sel)
	return err == nil && s.Matches(labels.Set(l))
}

// TestRoleWithinUserRole: Kubernetes lets a user create a Role only with permissions they hold,
// so every rule of the schedules' Role must be granted by manifests/rbac/role.yaml.
func TestRoleWithinUserRole(t *testing.T) {
	b, err := os.ReadFile("../../manifests/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var user rbacv1.Role
	if err := yaml.Unmarshal(b, &user); err != nil {
		t.Fatal(err)
	}
	grants := func(group, resource, verb string) bool {
		for _, r := range user.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) && len(r.ResourceNames) == 0 {
				return true
			}
		}
		return false
	}
	for _, r := range manifest.ScheduleRole("db", "pg1").Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if !grants(g, res, v) {
						t.Errorf("the schedules' Role has %s %s/%s, which manifests/rbac/role.yaml does not grant: a user bound to it could not create the Role", v, g, res)
					}
				}
			}
		}
	}
}
func ptr[T any](v T) *T { return &v }
