package update

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

func resourcesCfg(cpu, memory string) Config {
	c := cfg("")
	c.Changes.CPU, c.Changes.Memory = cpu, memory
	return c
}

// --cpu/--memory alone records the spec and rolls the primary alone (no probe, no check, the
// repository host untouched); the primary's template carries them; a re-run changes nothing.
func TestUpdateResourcesRollsOnlyThePrimary(t *testing.T) {
	ctx := context.Background()
	cs, events := newCluster(t)
	ex := &infoExec{}
	r := &reporter{}
	d := deps(cs, &ex.fakeExec, r)
	d.Exec = ex
	repoBefore, _ := deploymentState(t, d, "pg1-backrest-shared-repo")
	res, err := Run(ctx, d, resourcesCfg("", "1Gi:2Gi"))
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(r.lines, "\n"))
	}
	if want := []string{"apply pg1"}; !slices.Equal(*events, want) {
		t.Errorf("events %q, want %q (no probe, no repository host)", *events, want)
	}
	if repoAfter, _ := deploymentState(t, d, "pg1-backrest-shared-repo"); repoAfter != repoBefore {
		t.Errorf("the repository host changed (resourceVersion %s → %s)", repoBefore, repoAfter)
	}
	want := cluster.Resources{Memory: "1Gi", MemoryLimit: "2Gi"}
	if got := storedSpec(t, cs).Resources; got != want {
		t.Errorf("stored resources %+v, want %+v", got, want)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "pg1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "postgres" && (c.Resources.Requests.Memory().String() != "1Gi" || c.Resources.Limits.Memory().String() != "2Gi" ||
			c.Resources.Requests.Cpu().String() != "100m") {
			t.Errorf("primary's postgres resources %v", c.Resources)
		}
	}
	if !res.Changed || !slices.Equal(res.Rolled, []string{"pg1"}) || res.Resources == nil || res.Resources.To != want ||
		res.NextExpire != nil || res.Retention != nil {
		t.Errorf("result %+v", res)
	}
	if slices.ContainsFunc(ex.calls, func(c string) bool { return strings.HasSuffix(c, " check") || strings.HasSuffix(c, " info") }) {
		t.Errorf("a resources update ran %q", ex.calls)
	}

	*events = nil
	again, err := Run(ctx, d, resourcesCfg("", "1024Mi:2Gi"))
	if err != nil || again.Changed || len(*events) != 0 {
		t.Errorf("re-run with the same quantity spelled otherwise: %v, changed %v, events %q; want nothing done", err, again.Changed, *events)
	}
}

func TestUpdateResourcesRefused(t *testing.T) {
	cs, events := newCluster(t)
	d := deps(cs, &fakeExec{}, &reporter{})
	_, err := Run(context.Background(), d, resourcesCfg("1x", ""))
	if exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), `invalid --cpu "1x"`) || len(*events) != 0 {
		t.Errorf("update --cpu 1x: %v, events %q; want a usage error naming --cpu, nothing changed", err, *events)
	}
}
