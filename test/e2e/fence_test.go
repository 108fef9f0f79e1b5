//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fenceWaitMessage is what a replacement primary logs while the old postmaster holds the data
// volume's fence (manifest.FenceWaitMessage).
const fenceWaitMessage = "waiting for the previous PostgreSQL on this volume to stop"

// TestPrimaryFence freezes the primary's postmaster (every process of its container, SIGSTOP from
// the node, as a hung or descheduled postmaster would be) and deletes its pod: the Deployment's
// replacement starts at once on the same volume, and must not start PostgreSQL until the old pod
// is gone; afterwards the data is intact.
func TestPrimaryFence(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "fence")
	c := setupCluster(t, ns, "local")
	ns.sql(c, "create table t (id int primary key, v text)")
	ns.sql(c, "insert into t select g, md5(g::text) from generate_series(1, 50000) g")
	ns.sql(c, "checkpoint")
	const fingerprint = "select count(*) || ':' || md5(string_agg(v, ',' order by id)) from t"
	want := ns.sql(c, fingerprint)

	old := ns.primaryPod(c)
	pids := containerPIDs(t, ns, old, "postgres")
	// The container runtime wakes a stopped process when it signals it, so keep freezing: a
	// postmaster that never gets to stop, until the kubelet's SIGKILL at the end of the grace period.
	freeze := func() (alive bool) {
		for _, pid := range pids {
			if processAlive(pid) {
				alive = true
				_ = syscall.Kill(pid, syscall.SIGSTOP)
			}
		}
		return alive
	}
	freeze()
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	t.Logf("froze %d processes of %s's postgres container", len(pids), old)
	// A short grace period: the kubelet kills the frozen postmaster when it ends.
	deleted := time.Now()
	ns.kubectl(time.Minute, "delete", "pod", old, "--grace-period=20", "--wait=false")

	var replacement string
	var sawWait bool
	var oldDied time.Duration
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("old pod %s still there after 2 min", old)
		}
		time.Sleep(200 * time.Millisecond)
		freeze()
		if i%5 != 0 { // look at the pods once a second, freeze five times as often
			continue
		}
		pods := strings.Fields(ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=primary",
			"-o", "jsonpath={range .items[*]}{.metadata.name}{' '}{end}"))
		oldThere := false
		for _, p := range pods {
			if p == old {
				oldThere = true
			} else {
				replacement = p
			}
		}
		if replacement != "" {
			// The log first, then the old processes: a start seen while they still live overlapped.
			logs := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "logs", replacement, "-c", "postgres").Stdout
			started := strings.Contains(logs, "starting PostgreSQL")
			sawWait = sawWait || strings.Contains(logs, fenceWaitMessage)
			if alive := freeze(); started && alive {
				t.Fatalf("replacement %s started PostgreSQL while the old postmaster still runs:\n%s", replacement, logs)
			} else if !alive && oldDied == 0 {
				oldDied = time.Since(deleted)
			}
		}
		if !oldThere {
			break
		}
	}
	if replacement == "" {
		t.Fatal("no replacement pod was seen while the old one terminated")
	}
	if !sawWait {
		t.Errorf("replacement %s never said it waits for the fence", replacement)
	}
	t.Logf("the old postmaster died %.1fs after its pod was deleted; the replacement waited for it", oldDied.Seconds())
	ns.kubectl(3*time.Minute, "wait", "--for=condition=Ready", "pod/"+replacement, "--timeout=150s")
	if got := ns.sql(c, fingerprint); got != want {
		t.Errorf("after the replacement: rows %s, want %s", got, want)
	}
	// Data checksums are on: reading every page of the table would have failed on a torn one.
	if got := ns.sql(c, "select coalesce(sum(checksum_failures), 0) from pg_stat_database"); got != "0" {
		t.Errorf("checksum failures: %s", got)
	}
	ns.sql(c, "insert into t values (50001, 'after')")
}

// processAlive says pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces, the state follows its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// primaryPod names the cluster's running primary pod.
func (ns *Namespace) primaryPod(c string) string {
	ns.t.Helper()
	name := strings.TrimSpace(ns.kubectl(time.Minute, "get", "pods", "-l", "app.kubernetes.io/instance="+c+",pgbackrest.dev/role=primary",
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[0].metadata.name}"))
	if name == "" {
		ns.t.Fatalf("no running primary pod of %s", c)
	}
	return name
}

// containerPIDs finds the node's PIDs of every process in a container of pod, by the container
// id in their cgroup (the test runs on the node, as root).
func containerPIDs(t *testing.T, ns *Namespace, pod, container string) []int {
	t.Helper()
	id := ns.kubectl(time.Minute, "get", "pod", pod, "-o", `jsonpath={.status.containerStatuses[?(@.name=="`+container+`")].containerID}`)
	id = strings.TrimPrefix(strings.TrimSpace(id), "containerd://")
	if len(id) < 12 {
		t.Fatalf("container id of %s/%s: %q", pod, container, id)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), id) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no process of container %s (%s) found on this node", container, id)
	}
	return pids
}
