package kube

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// identity is who holds a Lease, written to it as a string (see String). Every run has its own:
// Run is a random nonce drawn once per process, so two runs never share one even when everything
// else about them is alike (two containers of one image with one hostname).
type identity struct {
	User, Host string
	// Pod is the pod's UID ("unknown" when it cannot be learnt) when the run is in a pod; empty
	// outside one.
	Pod string
	// Machine is a hash of /etc/machine-id, Boot one of the kernel's boot id, PIDNS the pid
	// namespace: together with PID they name one process of one boot of one machine. Empty
	// when unknown.
	Machine, Boot, PIDNS string
	Run                  string
	PID                  int
}

// String is "user@host machine=M boot=B pidns=N run=R pid P" outside a pod and
// "user@host pod=UID run=R pid P" in one; unknown fields are left out.
func (id identity) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s", id.User, id.Host)
	for _, kv := range [][2]string{{"pod", id.Pod}, {"machine", id.Machine}, {"boot", id.Boot}, {"pidns", id.PIDNS}, {"run", id.Run}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, " pid %d", id.PID)
	return b.String()
}

// parseIdentity reads a holder written by String. ok is false for anything else, such as the
// "user@host pid N" of earlier versions: such a holder is never taken over early.
func parseIdentity(s string) (id identity, ok bool) {
	f := strings.Fields(s)
	if len(f) < 3 || f[len(f)-2] != "pid" {
		return identity{}, false
	}
	pid, err := strconv.Atoi(f[len(f)-1])
	if err != nil || pid <= 0 {
		return identity{}, false
	}
	id.PID = pid
	at := strings.LastIndex(f[0], "@")
	if at < 0 {
		return identity{}, false
	}
	id.User, id.Host = f[0][:at], f[0][at+1:]
	for _, kv := range f[1 : len(f)-2] {
		k, v, found := strings.Cut(kv, "=")
		if !found || v == "" {
			return identity{}, false
		}
		switch k {
		case "pod":
			id.Pod = v
		case "machine":
			id.Machine = v
		case "boot":
			id.Boot = v
		case "pidns":
			id.PIDNS = v
		case "run":
			id.Run = v
		default:
			return identity{}, false
		}
	}
	return id, id.Run != ""
}

// Holder is this run's identity as written to the Lease. It is the same for the whole process.
func Holder() string { return self().String() }

var self = sync.OnceValue(func() identity { return probeIdentity(os.Getenv, os.ReadFile, os.Stat) })

// probeIdentity builds this process's identity from its environment and files (parameters, so
// a test can be a pod or another machine).
func probeIdentity(getenv func(string) string, readFile func(string) ([]byte, error), stat func(string) (os.FileInfo, error)) identity {
	id := identity{User: "unknown", Host: "unknown", PID: os.Getpid(), Run: nonce()}
	if u, err := user.Current(); err == nil {
		id.User = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		id.Host = h
	}
	if inPod(getenv, stat) {
		// Every pod of an image shares the image's /etc/machine-id, and a pod's processes cannot
		// be probed from another pod: the pod's UID says where the run was, for people only.
		id.Pod = podUID(getenv, readFile)
		return id
	}
	id.Machine = hashOf(readFirst(readFile, "/etc/machine-id", "/var/lib/dbus/machine-id"))
	id.Boot = hashOf(bootID(readFile))
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		id.PIDNS = strings.Trim(strings.TrimPrefix(ns, "pid:"), "[]")
	}
	return id
}

// inPod says the run is in a Kubernetes pod: the kubelet sets KUBERNETES_SERVICE_HOST in every
// container (whatever enableServiceLinks says) and mounts the service account token unless it is
// turned off; POD_UID is what a manifest passes from the downward API.
func inPod(getenv func(string) string, stat func(string) (os.FileInfo, error)) bool {
	if getenv("KUBERNETES_SERVICE_HOST") != "" || getenv("POD_UID") != "" {
		return true
	}
	_, err := stat("/var/run/secrets/kubernetes.io/serviceaccount")
	return err == nil
}

// podCgroup finds the pod UID in a cgroup path: ".../pod<uid>/..." (cgroupfs) or
// "...-pod<uid_with_underscores>.slice" (systemd).
var podCgroup = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)

// podUID is POD_UID (set it from the downward API, fieldRef metadata.uid), else what
// /proc/self/cgroup shows (nothing under a private cgroup namespace), else "unknown".
func podUID(getenv func(string) string, readFile func(string) ([]byte, error)) string {
	if uid := getenv("POD_UID"); uid != "" {
		return uid
	}
	if b, err := readFile("/proc/self/cgroup"); err == nil {
		if m := podCgroup.FindSubmatch(b); m != nil {
			return strings.ReplaceAll(string(m[1]), "_", "-")
		}
	}
	return "unknown"
}

func readFirst(readFile func(string) ([]byte, error), paths ...string) string {
	for _, p := range paths {
		if b, err := readFile(p); err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s
			}
		}
	}
	return ""
}

// hashOf shortens an id and keeps it private (systemd asks that /etc/machine-id not be shown as
// is): 12 hex digits of a hash salted with the plugin's name.
func hashOf(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("kubectl-pgbackrest:" + s))
	return hex.EncodeToString(sum[:6])
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

// deadLocalHolder says holder h is a process of this very machine, boot and pid namespace, of
// this user, that no longer runs: a run killed with kill -9, which cannot release its Lease.
// Anything else (another machine, a pod, a holder written by an earlier version, a pid that is
// running) counts as alive. The boot id is a random number drawn at each boot, so a pid of an
// earlier boot or of another machine with the same hostname and image never matches.
func deadLocalHolder(h string) bool {
	return deadHolderOf(self(), h, processAlive)
}

// localHolder says h is a run of this machine, boot and user, whose process deadLocalHolder can
// check without the API.
func localHolder(h string) bool {
	return deadHolderOf(self(), h, func(int) bool { return false })
}

func deadHolderOf(me identity, h string, alive func(int) bool) bool {
	if me.Pod != "" || me.Boot == "" {
		return false
	}
	id, ok := parseIdentity(h)
	if !ok || id.Pod != "" || id.User != me.User || id.Host != me.Host ||
		id.Machine != me.Machine || id.Boot != me.Boot || id.PIDNS != me.PIDNS {
		return false
	}
	if id.PID == me.PID {
		// Not this run (its string would equal ours), so an earlier process that had our pid.
		return id.Run != me.Run
	}
	return !alive(id.PID)
}
