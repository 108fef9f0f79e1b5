//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

type scheduleList struct {
	Schedules []struct {
		Name                string   `json:"name"`
		Type                string   `json:"type"`
		Storage             string   `json:"storage"`
		Suspended           bool     `json:"suspended"`
		LastResult          string   `json:"lastResult"`
		LastJob             string   `json:"lastJob"`
		LastDurationSeconds *float64 `json:"lastDurationSeconds"`
		NextRun             *string  `json:"nextRun"`
	} `json:"schedules"`
}

// TestSchedule: a schedule every minute on a local cluster takes a backup that info shows and
// schedule list reports as succeeded; a restore suspends it while it runs and resumes it; delete
// removes it and its ServiceAccount, Role and RoleBinding.
func TestSchedule(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "schedule")
	c := setupCluster(t, ns, "local")

	// Bad input: usage errors, nothing written.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"schedule", "create", c, "--type", "weekly", "--storage", "local", "--schedule", "* * * * *"}, "--type"},
		{[]string{"schedule", "create", c, "--type", "full", "--storage", "s3", "--schedule", "* * * * *"}, "has no s3 repository"},
		{[]string{"schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "61 * * * *"}, "--schedule"},
		{[]string{"schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "* * * *"}, "want 5 fields"},
		{[]string{"schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "* * * * *", "--time-zone", "Mars/Base"}, "--time-zone"},
	} {
		r := ns.plugin(time.Minute, tc.args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%s: exit %d, want 2 and %q in:\n%s", strings.Join(tc.args, " "), r.Code, tc.want, r.Stderr)
		}
	}
	if out := ns.kubectl(time.Minute, "get", "cronjobs,serviceaccounts,roles", "-l", "app.kubernetes.io/instance="+c, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("bad input wrote objects:\n%s", out)
	}

	ns.mustPlugin(time.Minute, "schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "* * * * *")
	// Idempotent: the same command again succeeds.
	ns.mustPlugin(time.Minute, "schedule", "create", c, "--type", "full", "--storage", "local", "--schedule", "* * * * *")
	name := c + "-full-local"

	listOf := func(name string) scheduleList {
		t.Helper()
		out := ns.mustPlugin(time.Minute, "schedule", "list", c, "-o", "json").Stdout
		var l scheduleList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("schedule list -o json: %v\n%s", err, out)
		}
		if len(l.Schedules) != 1 || l.Schedules[0].Name != name {
			t.Fatalf("schedule list: want one schedule %s:\n%s", name, out)
		}
		return l
	}
	list := func() scheduleList { t.Helper(); return listOf(name) }

	start := time.Now()
	deadline := start.Add(150 * time.Second)
	for {
		s := list().Schedules[0]
		if s.LastResult == "Succeeded" {
			if s.LastDurationSeconds == nil || *s.LastDurationSeconds <= 0 {
				t.Errorf("succeeded run without a duration: %+v", s)
			}
			if s.NextRun == nil {
				t.Errorf("no next run: %+v", s)
			}
			t.Logf("scheduled backup succeeded %.0fs after the schedule was made (job %s, %.1fs)", time.Since(start).Seconds(), s.LastJob, *s.LastDurationSeconds)
			break
		}
		if s.LastResult == "Failed" {
			t.Fatalf("scheduled run failed: %+v\n%s", s, ns.kubectl(time.Minute, "logs", "job/"+s.LastJob))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no succeeded scheduled backup within 150s: %+v", s)
		}
		time.Sleep(5 * time.Second)
	}
	infoOut := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout
	var info infoSummary
	if err := json.Unmarshal([]byte(infoOut), &info); err != nil {
		t.Fatalf("info -o json: %v\n%s", err, infoOut)
	}
	if len(info.Repositories) != 1 || len(info.Repositories[0].Backups) == 0 || info.Repositories[0].Backups[0].Type != "full" {
		t.Fatalf("info shows no full backup after the scheduled run:\n%s", infoOut)
	}
	// The Job (and its pod log) is kept for inspection.
	if logs := ns.kubectl(time.Minute, "logs", "job/"+list().Schedules[0].LastJob); !strings.Contains(logs, "full backup") {
		t.Errorf("the scheduled Job's log does not show the backup:\n%s", logs)
	}

	// Restore: start it between two runs (a run at the restore's start would hold the Lease and
	// the restore would refuse), watching the CronJob meanwhile.
	for {
		active := strings.TrimSpace(ns.kubectl(time.Minute, "get", "cronjob", name, "-o", "jsonpath={.status.active}"))
		if active == "" && time.Now().Second() < 35 {
			break
		}
		time.Sleep(2 * time.Second)
	}
	var (
		mu          sync.Mutex
		sawSuspend  bool
		stop        = make(chan struct{})
		watcherDone = make(chan struct{})
	)
	go func() {
		defer close(watcherDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			r := run(t, "", 30*time.Second, "kubectl", "-n", ns.Name, "get", "cronjob", name, "-o",
				`jsonpath={.spec.suspend} {.metadata.annotations.pgbackrest\.dev/suspended-by}`)
			if r.Code == 0 && strings.HasPrefix(r.Stdout, "true restore-") {
				mu.Lock()
				sawSuspend = true
				mu.Unlock()
			}
		}
	}()
	rr := ns.plugin(15*time.Minute, "restore", c, "--storage=local", "--yes")
	close(stop)
	<-watcherDone
	if rr.Code != 0 {
		t.Fatalf("restore: exit %d\n%s\n%s", rr.Code, rr.Stdout, rr.Stderr)
	}
	for _, step := range []string{"suspend backup schedules", "resume backup schedules"} {
		if !strings.Contains(rr.Stderr, step) {
			t.Errorf("restore did not report %q:\n%s", step, rr.Stderr)
		}
	}
	mu.Lock()
	if !sawSuspend {
		t.Errorf("the schedule was never seen suspended by the restore")
	}
	mu.Unlock()
	if s := list().Schedules[0]; s.Suspended {
		t.Errorf("the schedule is still suspended after the restore: %+v", s)
	}

	// Suspend and resume by type and storage.
	ns.mustPlugin(time.Minute, "schedule", "suspend", c, "--type", "full", "--storage", "local")
	if s := list().Schedules[0]; !s.Suspended || s.NextRun != nil {
		t.Errorf("schedule suspend: %+v", s)
	}
	ns.mustPlugin(time.Minute, "schedule", "resume", c, name)
	if s := list().Schedules[0]; s.Suspended {
		t.Errorf("schedule resume: %+v", s)
	}

	ns.mustPlugin(time.Minute, "schedule", "delete", c, name)
	if out := ns.kubectl(time.Minute, "get", "cronjobs,serviceaccounts,roles,rolebindings", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=schedule", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("schedule delete left:\n%s", out)
	}

	// create --schedule-incr on the existing cluster: create's last step adds the schedule to
	// every storage; delete of the cluster removes it with its ServiceAccount, Role and RoleBinding.
	if r := ns.plugin(time.Minute, append(createArgs(t, c, "local"), "--schedule-incr", "0 3 * * 70")...); r.Code != 2 || !strings.Contains(r.Stderr, "--schedule-incr") {
		t.Errorf("create --schedule-incr with a bad expression: exit %d, want 2 naming the flag:\n%s", r.Code, r.Stderr)
	}
	ns.mustPlugin(10*time.Minute, append(createArgs(t, c, "local"), "--schedule-incr", "0 3 * * *")...)
	if s := listOf(c + "-incr-local").Schedules[0]; s.Type != "incr" || s.Storage != "local" || s.Suspended {
		t.Errorf("create --schedule-incr made %+v", s)
	}
	ns.mustPlugin(5*time.Minute, "delete", c)
	if out := ns.kubectl(time.Minute, "get", "cronjobs,jobs,serviceaccounts,roles,rolebindings", "-l", "app.kubernetes.io/instance="+c, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("delete left the schedules' objects:\n%s", out)
	}
}
