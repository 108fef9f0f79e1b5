package update

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// threeFulls is pgBackRest's info of a local repository (repo1) with three full backups, the
// second with an incremental built on it.
func threeFulls() string {
	set := func(label, typ, prior string, start, stop int64, wal string) string {
		p := "null"
		if prior != "" {
			p = fmt.Sprintf("%q", prior)
		}
		return fmt.Sprintf(`{"archive":{"start":%q,"stop":%q},"backrest":{"format":5,"version":"2.55.1"},"database":{"id":1,"repo-key":1},`+
			`"error":false,"info":{"delta":1,"repository":{"delta":1,"size":1},"size":1},"label":%q,"lsn":{"start":"0/1","stop":"0/2"},`+
			`"prior":%s,"reference":null,"timestamp":{"start":%d,"stop":%d},"type":%q}`, wal, wal, label, p, start, stop, typ)
	}
	backups := strings.Join([]string{
		set("20261201-100000F", "full", "", 1796119200, 1796119260, "000000010000000000000003"),
		set("20261201-110000F", "full", "", 1796122800, 1796122860, "000000010000000000000005"),
		set("20261201-110000F_20261201-113000I", "incr", "20261201-110000F", 1796124600, 1796124660, "000000010000000000000007"),
		set("20261201-120000F", "full", "", 1796126400, 1796126460, "000000010000000000000009"),
	}, ",")
	return `[{"name":"db","backup":[` + backups + `],` +
		`"archive":[{"database":{"id":1,"repo-key":1},"id":"17-1","max":"00000001000000000000000A","min":"000000010000000000000003"}],` +
		`"db":[{"id":1,"repo-key":1,"system-id":1,"version":"17"}],` +
		`"repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"message":"ok","lock":{"backup":{"held":false}}}}]`
}

// infoExec answers info with threeFulls and counts every other command.
type infoExec struct{ fakeExec }

func (f *infoExec) Exec(ctx context.Context, ns, pod, c string, cmd []string, in io.Reader, stdout, stderr io.Writer) error {
	if cmd[len(cmd)-1] == "info" {
		f.mu.Lock()
		f.calls = append(f.calls, pod+" info")
		f.mu.Unlock()
		_, err := io.WriteString(stdout, threeFulls())
		return err
	}
	return f.fakeExec.Exec(ctx, ns, pod, c, cmd, in, stdout, stderr)
}

func retentionCfg(f cluster.RetentionFlags) Config {
	c := cfg("")
	c.Changes.Retention = f
	return c
}

func deploymentState(t *testing.T, d Deps, name string) (string, string) {
	t.Helper()
	dep, err := d.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dep.ResourceVersion, dep.Spec.Template.Annotations[cluster.AnnotationConfigHash]
}

// A retention-only update records the spec, rewrites repo.conf, rolls the repository host alone
// (no probe, no check, the primary untouched), says the oldest full goes; a re-run changes nothing.
func TestUpdateRetentionRollsOnlyTheRepositoryHost(t *testing.T) {
	ctx := context.Background()
	cs, events := newCluster(t)
	ex := &infoExec{}
	r := &reporter{}
	d := deps(cs, &ex.fakeExec, r)
	d.Exec = ex
	primaryBefore, _ := deploymentState(t, d, "pg1")
	res, err := Run(ctx, d, retentionCfg(cluster.RetentionFlags{Full: "1"}))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(r.lines, "\n"))
	}
	if want := []string{"apply pg1-backrest-shared-repo"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q (no probe, no primary)", *events, want)
	}
	if primaryAfter, _ := deploymentState(t, d, "pg1"); primaryAfter != primaryBefore {
		t.Errorf("the primary's Deployment changed (resourceVersion %s → %s)", primaryBefore, primaryAfter)
	}
	spec := storedSpec(t, cs)
	if got := spec.RetentionFor(pgbackrest.Local); got.Full != 1 {
		t.Errorf("stored retention %+v", got)
	}
	if spec.ImageDigest != oldDig {
		t.Errorf("image changed: %s", spec.ImageDigest)
	}
	cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	conf := cm.Data[cluster.RepoConfKey]
	if !strings.Contains(conf, "repo1-retention-full=1\n") {
		t.Errorf("repo.conf has no repo1-retention-full=1:\n%s", conf)
	}
	if _, hash := deploymentState(t, d, "pg1-backrest-shared-repo"); hash != manifest.ConfigHash(conf) {
		t.Errorf("repository host's config hash %s, want that of the ConfigMap's repo.conf", hash)
	}
	if slices.ContainsFunc(ex.calls, func(c string) bool { return strings.HasSuffix(c, " check") || strings.HasSuffix(c, " version") }) {
		t.Errorf("a retention update ran %q", ex.calls)
	}
	if !res.Changed || !slices.Equal(res.Rolled, []string{"pg1-backrest-shared-repo"}) ||
		res.Retention[pgbackrest.Local] != (RetentionChange{From: pgbackrest.Retention{Full: 2, FullType: "count"}, To: pgbackrest.Retention{Full: 1, FullType: "count"}}) {
		t.Errorf("result %+v", res)
	}
	if len(res.NextExpire) != 1 {
		t.Fatalf("next expire %+v", res.NextExpire)
	}
	p := res.NextExpire[0]
	if want := []string{"20261201-100000F", "20261201-110000F", "20261201-110000F_20261201-113000I"}; !slices.Equal(p.Expire, want) ||
		!slices.Equal(p.Keep, []string{"20261201-120000F"}) || p.WindowAfter == nil || p.WindowAfter.FromBackup != "20261201-120000F" {
		t.Errorf("plan %+v, want %q to go", p, want)
	}

	cs.ClearActions()
	*events = nil
	res, err = Run(ctx, d, retentionCfg(cluster.RetentionFlags{Full: "1"}))
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if res.Changed || len(writes(cs)) > 0 || len(*events) > 0 || len(res.NextExpire) != 1 {
		t.Errorf("second run: changed %v writes %q events %q plan %+v; want nothing changed", res.Changed, writes(cs), *events, res.NextExpire)
	}
}

// Interrupted after the spec was written, before repo.conf was: the re-run converges.
func TestUpdateRetentionFailThenResume(t *testing.T) {
	ctx := context.Background()
	cs, _ := newCluster(t)
	ex := &infoExec{}
	d := deps(cs, &ex.fakeExec, &reporter{})
	d.Exec = ex
	cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	before := cm.Data[cluster.RepoConfKey]
	// The state a run stopped after its first step leaves: the spec records the retention.
	spec := storedSpec(t, cs)
	spec.Retention = map[pgbackrest.Storage]cluster.Retention{pgbackrest.Local: {Full: 5}}
	js, _ := spec.JSON()
	cm.Data[cluster.SpecKey] = js
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, d, retentionCfg(cluster.RetentionFlags{Full: "5"}))
	if err != nil || !res.Changed {
		t.Fatalf("resume: %v %+v", err, res)
	}
	cm, _ = cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	if cm.Data[cluster.RepoConfKey] == before || !strings.Contains(cm.Data[cluster.RepoConfKey], "repo1-retention-full=5\n") {
		t.Errorf("repo.conf not rewritten:\n%s", cm.Data[cluster.RepoConfKey])
	}
	if _, hash := deploymentState(t, d, "pg1-backrest-shared-repo"); hash != manifest.ConfigHash(cm.Data[cluster.RepoConfKey]) {
		t.Error("repository host not rolled onto the new repo.conf")
	}
}

// --dry-run=client reads but writes nothing, and says what would go.
func TestUpdateRetentionDryRunWritesNothing(t *testing.T) {
	cs, events := newCluster(t)
	cs.ClearActions()
	ex := &infoExec{}
	d := deps(cs, &ex.fakeExec, &reporter{})
	d.Exec = ex
	p, err := DryRun(context.Background(), d, retentionCfg(cluster.RetentionFlags{Full: "2"}))
	if err != nil {
		t.Fatal(err)
	}
	if w := writes(cs); len(w) > 0 || len(*events) > 0 {
		t.Errorf("dry run wrote %q, events %q", w, *events)
	}
	if len(p.NextExpire) != 1 || !slices.Equal(p.NextExpire[0].Expire, []string{"20261201-100000F"}) ||
		p.Retention[pgbackrest.Local].From.Full != 2 || p.Retention[pgbackrest.Local].To.Full != 2 || len(p.Steps) != 3 {
		t.Errorf("plan %+v", p)
	}
}

// Refused with exit 2, nothing written: a storage the cluster has not, 0, a restore recorded,
// no change at all.
func TestUpdateRetentionRefusals(t *testing.T) {
	for _, c := range []struct {
		name    string
		flags   cluster.RetentionFlags
		restore bool
		want    string
	}{
		{"no such storage", cluster.RetentionFlags{Full: "s3=2"}, false, "the cluster has no s3 repository"},
		{"zero", cluster.RetentionFlags{Full: "0"}, false, "invalid --retention-full \"0\""},
		{"negative diff", cluster.RetentionFlags{Diff: "-3"}, false, "invalid --retention-diff"},
		{"archive type alone", cluster.RetentionFlags{ArchiveType: "diff"}, false, "--retention-archive-type needs --retention-archive"},
		{"mid-restore", cluster.RetentionFlags{Full: "3"}, true, "restore"},
		{"nothing", cluster.RetentionFlags{}, false, "nothing to change: give --image REF (the image to move cluster pg1 to), --retention-*"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			cs, events := newCluster(t)
			if c.restore {
				cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
				cm.Annotations[cluster.AnnotationRestoreID] = "20260102030405"
				if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			cs.ClearActions()
			ex := &infoExec{}
			d := deps(cs, &ex.fakeExec, &reporter{})
			d.Exec = ex
			for _, run := range []func() error{
				func() error { _, err := Run(ctx, d, retentionCfg(c.flags)); return err },
				func() error { _, err := DryRun(ctx, d, retentionCfg(c.flags)); return err },
			} {
				err := run()
				if exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), c.want) {
					t.Errorf("err = %v (exit %d), want exit 2 saying %q", err, exitcode.For(err), c.want)
				}
			}
			if w := writes(cs); len(w) > 0 || len(*events) > 0 {
				t.Errorf("writes %q events %q", w, *events)
			}
		})
	}
}

// --image and --retention-* together: one record, repo.conf written, both pods rolled, checked.
func TestUpdateImageAndRetention(t *testing.T) {
	ctx := context.Background()
	cs, events := newCluster(t)
	ex := &infoExec{}
	d := deps(cs, &ex.fakeExec, &reporter{})
	d.Exec = ex
	c := cfg(repoImg + ":17-a")
	c.Changes.Retention = cluster.RetentionFlags{Full: "4"}
	res, err := Run(ctx, d, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"probe " + repoImg + ":17-a", "apply pg1-backrest-shared-repo", "apply pg1"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q", *events, want)
	}
	spec := storedSpec(t, cs)
	cm, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pg1-pgbackrest", metav1.GetOptions{})
	if spec.ImageDigest != newDig || spec.RetentionFor(pgbackrest.Local).Full != 4 || !strings.Contains(cm.Data[cluster.RepoConfKey], "repo1-retention-full=4\n") {
		t.Errorf("spec %s %+v, repo.conf:\n%s", spec.ImageDigest, spec.Retention, cm.Data[cluster.RepoConfKey])
	}
	if !res.Checked || len(res.NextExpire) != 1 || len(res.NextExpire[0].Expire) != 0 {
		t.Errorf("result %+v", res)
	}
}
