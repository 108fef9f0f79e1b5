//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// backupResult is what `kubectl pgbackrest backup -o json` prints (pkg/backup.Result).
type backupResult struct {
	Backups []struct {
		Storage string  `json:"storage"`
		Repo    int     `json:"repo"`
		Label   string  `json:"label"`
		Type    string  `json:"type"`
		Size    uint64  `json:"size"`
		MBps    float64 `json:"throughputMBps"`
	} `json:"backups"`
}

// infoSummary is what `kubectl pgbackrest info -o json` prints (pgbackrest.Summary).
type infoSummary struct {
	Stanza       string `json:"stanza"`
	Repositories []struct {
		Key     int    `json:"key"`
		Storage string `json:"storage"`
		Backups []struct {
			Label string `json:"label"`
			Type  string `json:"type"`
		} `json:"backups"`
		Archive        *struct{ Min, Max string } `json:"archive"`
		RecoveryWindow *struct {
			AtLeastUntil time.Time `json:"atLeastUntil"`
		} `json:"recoveryWindow"`
	} `json:"repositories"`
}

// TestBackup takes full and incremental backups of clusters of each storage type, reads them back
// with info and show backup, checks archiving, and proves that a rejected option and a concurrent
// backup change nothing.
func TestBackup(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		t.Run(strings.ReplaceAll(storage, ",", "-"), func(t *testing.T) {
			testBackup(t, storage)
		})
	}
}

func testBackup(t *testing.T, storage string) {
	ns := newNamespace(t, "backup-"+strings.ReplaceAll(storage, ",", ""))
	c := setupCluster(t, ns, storage)
	storages := strings.Split(storage, ",")

	ns.sql(c, "create table t (id serial primary key, batch int)")
	ns.sql(c, "insert into t (batch) select 1 from generate_series(1, 10000)")

	backup := func(typ string) backupResult {
		t.Helper()
		r := ns.mustPlugin(10*time.Minute, "backup", c, "--storage="+storage, "--type="+typ, "-o", "json")
		var res backupResult
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("backup -o json: %v\n%s", err, r.Stdout)
		}
		if len(res.Backups) != len(storages) {
			t.Fatalf("backup --storage=%s made %d sets, want %d: %s", storage, len(res.Backups), len(storages), r.Stdout)
		}
		for i, b := range res.Backups {
			if b.Storage != storages[i] || b.Type != typ || b.Label == "" || b.Size == 0 {
				t.Errorf("set %d: %+v, want a %s backup to %s", i, b, typ, storages[i])
			}
			t.Logf("%s backup %s to %s: %d bytes, %.1f MB/s", b.Type, b.Label, b.Storage, b.Size, b.MBps)
		}
		if !strings.Contains(r.Stderr, "✓ "+typ+" backup") {
			t.Errorf("backup stderr lacks the per-repository report:\n%s", r.Stderr)
		}
		return res
	}
	full := backup("full")
	ns.sql(c, "insert into t (batch) select 2 from generate_series(1, 10000)")
	incr := backup("incr")

	infoOut := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout
	var info infoSummary
	if err := json.Unmarshal([]byte(infoOut), &info); err != nil {
		t.Fatalf("info -o json: %v\n%s", err, infoOut)
	}
	if len(info.Repositories) != len(storages) {
		t.Fatalf("info shows %d repositories, want %d:\n%s", len(info.Repositories), len(storages), infoOut)
	}
	for i, repo := range info.Repositories {
		if repo.Storage != storages[i] {
			t.Errorf("repository %d is %q, want %q", i, repo.Storage, storages[i])
		}
		want := []string{full.Backups[i].Label + " full", incr.Backups[i].Label + " incr"}
		var got []string
		for _, b := range repo.Backups {
			got = append(got, b.Label+" "+b.Type)
		}
		if !slices.Equal(got, want) {
			t.Errorf("repository %s (key %d) backups %q, want %q", repo.Storage, repo.Key, got, want)
		}
		if repo.Archive == nil || repo.Archive.Max == "" {
			t.Errorf("repository %s has no archive range", repo.Storage)
		}
	}
	if r := ns.mustPlugin(2*time.Minute, "show", "backup", c, "-o", "json"); r.Stdout != infoOut {
		t.Errorf("show backup differs from info:\n%s\n--- info ---\n%s", r.Stdout, infoOut)
	}
	table := ns.mustPlugin(2*time.Minute, "info", c).Stdout
	for _, b := range incr.Backups {
		if !strings.Contains(table, b.Label) {
			t.Errorf("info table lacks %s:\n%s", b.Label, table)
		}
	}
	checkTimeline(t, ns.mustPlugin(2*time.Minute, "info", c, "--timeline").Stdout, info)

	// Dynamic completion, as the shell asks for it: cluster names from the cluster's labels, and
	// backup set labels from info.
	if r := ns.mustPlugin(time.Minute, "__complete", "backup", ""); !strings.Contains(r.Stdout, c+"\n") {
		t.Errorf("completion of CLUSTER lacks %s:\n%s", c, r.Stdout)
	}
	sets := ns.mustPlugin(time.Minute, "__complete", "restore", c, "--set", "").Stdout
	for _, b := range append(full.Backups, incr.Backups...) {
		if !strings.Contains(sets, b.Label+"\n") {
			t.Errorf("completion of --set lacks %s:\n%s", b.Label, sets)
		}
	}

	check := ns.mustPlugin(3*time.Minute, "check", c)
	if !strings.Contains(check.Stdout, "✓ archiving to") {
		t.Errorf("check verdict:\n%s%s", check.Stdout, check.Stderr)
	}

	// A rejected option: usage error, nothing run.
	before := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout
	r := ns.plugin(time.Minute, "backup", c, "--storage="+storage, "--options=--stanza=x")
	if r.Code != 2 || !strings.Contains(r.Stderr, "--stanza") {
		t.Errorf("backup --options=--stanza=x: exit %d, want 2 naming --stanza\n%s", r.Code, r.Stderr)
	}
	if after := ns.mustPlugin(2*time.Minute, "info", c, "-o", "json").Stdout; after != before {
		t.Errorf("a rejected backup changed info:\n%s\n--- before ---\n%s", after, before)
	}

	// A second backup while one runs is refused and names the holder.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	first := exec.CommandContext(ctx, "kubectl", "pgbackrest", "-n", ns.Name, "backup", c, "--storage="+storage, "--type=full")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if run(t, "", 30*time.Second, "kubectl", "-n", ns.Name, "get", "lease", c+"-pgbackrest").Code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first backup never took the lease:\n%s", firstOut.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The second watches the Lease until the first renews it (every 2 s), then is refused; if the
	// first ends while it watches, it runs after it (never beside it).
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	second := ns.plugin(time.Minute, "backup", c, "--storage="+storage)
	var firstErr error
	firstEnded := false
	select {
	case firstErr = <-firstDone:
		firstEnded = true
	default:
	}
	switch {
	case second.Code != 0 && strings.Contains(second.Stderr, "is held by") && strings.Contains(second.Stderr, "renewed it while this run watched"):
	case second.Code == 0 && firstEnded && strings.Contains(second.Stderr, "watching it for up to"):
		t.Logf("the first backup ended while the second watched its Lease; the second ran after it")
	default:
		t.Errorf("a concurrent backup: exit %d, want a refusal naming the lease holder\n%s", second.Code, second.Stderr)
	}
	if !firstEnded {
		firstErr = <-firstDone
	}
	if firstErr != nil {
		t.Errorf("the first backup failed: %v\n%s", firstErr, firstOut.String())
	}
	// The Lease is released, so the next backup runs.
	ns.mustPlugin(10*time.Minute, "backup", c, "--storage="+storage, "--type=diff")

	if len(storages) > 1 {
		leaseBrokenMidBackup(t, ns, c, storage)
	}
}

// leaseBrokenMidBackup (issue 12, item 4): the Lease deleted by hand while a backup to two
// repositories runs stops it before the second, saying what happened and what is left to take.
func leaseBrokenMidBackup(t *testing.T, ns *Namespace, c, storage string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "pgbackrest", "-n", ns.Name, "backup", c, "--storage="+storage, "--type=full")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for run(t, "", 30*time.Second, "kubectl", "-n", ns.Name, "delete", "lease", c+"-pgbackrest").Code != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the backup never took the lease:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	err := cmd.Wait()
	lost := fmt.Sprintf("lease %s/%s-pgbackrest was deleted while this backup held it", ns.Name, c)
	stopped := "stopped before the backup to s3 (repo2)"
	switch {
	case err != nil && strings.Contains(out.String(), lost) && strings.Contains(out.String(), stopped) &&
		strings.Contains(out.String(), "--storage=s3 --type=full"):
		t.Logf("stopped before s3:\n%s", out.String())
	case err == nil && strings.Contains(out.String(), lost):
		// The first backup ended before the Lease was deleted: told as a warning at the end.
		t.Logf("the Lease was deleted during the last backup: warned")
	default:
		t.Errorf("backup with its Lease deleted: %v, want it stopped before s3 naming the deleted lease\n%s", err, out.String())
	}
}

// timelineHeaderRE is a repository's header in `info --timeline`: "local (repo1): 2 backups (1
// full, 0 diff, 1 incr)[, 1 drawn in the column of another]".
var timelineHeaderRE = regexp.MustCompile(`^(\S+) \(repo(\d)\): (\d+) backups \(.*\)(?:, (\d+) drawn in the column of another)?$`)

// checkTimeline checks the picture of `info --timeline` (not a terminal here, so plain ASCII)
// against info -o json: a block per repository, as many marks as backups (those merged into one
// column counted by the header), and a window that ends between the newest backup and now.
func checkTimeline(t *testing.T, pic string, info infoSummary) {
	t.Helper()
	t.Logf("info --timeline:\n%s", pic)
	for _, r := range pic {
		if r > 0x7e && r != '→' && r != '…' && r != '–' {
			t.Fatalf("info --timeline is not ASCII when not on a terminal (%q):\n%s", r, pic)
		}
	}
	lines := strings.Split(pic, "\n")
	for _, repo := range info.Repositories {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, fmt.Sprintf("%s (repo%d): ", repo.Storage, repo.Key)) })
		if i < 0 || i+1 >= len(lines) {
			t.Errorf("info --timeline has no block for %s:\n%s", repo.Storage, pic)
			continue
		}
		m := timelineHeaderRE.FindStringSubmatch(lines[i])
		if m == nil || m[3] != fmt.Sprint(len(repo.Backups)) {
			t.Errorf("timeline header %q, want %d backups", lines[i], len(repo.Backups))
			continue
		}
		merged := 0
		if m[4] != "" {
			merged, _ = strconv.Atoi(m[4])
		}
		marks := strings.Count(lines[i+1], "F") + strings.Count(lines[i+1], "D") + strings.Count(lines[i+1], "I")
		if marks+merged != len(repo.Backups) {
			t.Errorf("timeline of %s has %d marks (+%d merged), want %d backups:\n%s", repo.Storage, marks, merged, len(repo.Backups), pic)
		}
		var window string
		for _, l := range lines[i:] {
			if strings.HasPrefix(l, "  recoverable: ") {
				window = l
				break
			}
		}
		_, end, ok := strings.Cut(window, " → ")
		to, err := time.Parse("2006-01-02 15:04:05Z", strings.TrimPrefix(strings.Split(end, ",")[0], "at least "))
		if !ok || err != nil || repo.RecoveryWindow == nil {
			t.Errorf("timeline of %s: no window end in %q (%v)", repo.Storage, window, err)
			continue
		}
		if to.Before(repo.RecoveryWindow.AtLeastUntil) || to.After(time.Now().Add(time.Minute)) {
			t.Errorf("timeline of %s ends its window at %s, want between the newest backup's stop %s and now", repo.Storage, to, repo.RecoveryWindow.AtLeastUntil)
		}
		t.Logf("timeline of %s: %d marks, %d merged, %s", repo.Storage, marks, merged, window)
	}
	if strings.Contains(pic, "could not be read") {
		t.Errorf("info --timeline could not list an archive:\n%s", pic)
	}
}
