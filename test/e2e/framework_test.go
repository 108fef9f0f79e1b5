//go:build e2e

// Package e2e runs scenarios against the local cluster (test/cluster) with the built binary, as a
// user would: `kubectl pgbackrest ...` found on PATH. `make e2e` starts the cluster and sources its
// env file (KUBECONFIG, PGBR_IMAGE, PGBR_S3_*). Each scenario gets its own namespace, which enforces
// the "restricted" Pod Security Standard; on failure the namespace's objects, events and pod logs
// are dumped, and the namespace is kept for a look.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the e2e tests with `make e2e`, which sources the local cluster's env file", name)
	}
	return v
}

// result is what a command printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs a command with a deadline and returns what it printed; it never fails the test itself.
func run(t *testing.T, stdin string, timeout time.Duration, name string, args ...string) result {
	t.Helper()
	return runEnv(t, nil, stdin, timeout, name, args...)
}

// runEnv is run with extra environment variables ("NAME=value") for the child process only, so
// secrets need not appear on its command line.
func runEnv(t *testing.T, env []string, stdin string, timeout time.Duration, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		r.Code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		}
	}
	t.Logf("$ %s %s  (exit %d, %.1fs)", name, strings.Join(args, " "), r.Code, time.Since(start).Seconds())
	return r
}

// must runs a command and fails the test when it does not exit 0.
func must(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	r := run(t, "", timeout, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Namespace is one scenario's namespace.
type Namespace struct {
	t    *testing.T
	Name string
}

// newNamespace makes a namespace for one scenario that enforces the "restricted" Pod Security
// Standard, so the API server itself proves every pod meets it.
func newNamespace(t *testing.T, prefix string) *Namespace {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", prefix, time.Now().UnixNano()%1_000_000)
	ns := &Namespace{t: t, Name: name}
	ns.apply(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
`, name))
	t.Cleanup(func() {
		if t.Failed() {
			ns.dump()
			t.Logf("namespace %s kept for inspection", name)
			return
		}
		run(t, "", 2*time.Minute, "kubectl", "delete", "namespace", name, "--wait=false")
	})
	return ns
}

// kubectl runs kubectl in the namespace and fails the test on error.
func (ns *Namespace) kubectl(timeout time.Duration, args ...string) string {
	ns.t.Helper()
	return must(ns.t, timeout, "kubectl", append([]string{"-n", ns.Name}, args...)...)
}

func (ns *Namespace) apply(yaml string) {
	ns.t.Helper()
	r := run(ns.t, yaml, time.Minute, "kubectl", "-n", ns.Name, "apply", "-f", "-")
	if r.Code != 0 {
		ns.t.Fatalf("kubectl apply: exit %d\n%s%s\n--- manifest ---\n%s", r.Code, r.Stdout, r.Stderr, yaml)
	}
}

// plugin runs `kubectl pgbackrest ARGS -n NS` and returns what it printed and its exit code.
func (ns *Namespace) plugin(timeout time.Duration, args ...string) result {
	ns.t.Helper()
	return run(ns.t, "", timeout, "kubectl", append([]string{"pgbackrest", "-n", ns.Name}, args...)...)
}

// mustPlugin is plugin that fails the test unless the command exits 0.
func (ns *Namespace) mustPlugin(timeout time.Duration, args ...string) result {
	ns.t.Helper()
	r := ns.plugin(timeout, args...)
	if r.Code != 0 {
		ns.t.Fatalf("kubectl pgbackrest %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// dump writes what a person would look at first when a scenario fails.
func (ns *Namespace) dump() {
	t := ns.t
	for _, args := range [][]string{
		{"-n", ns.Name, "get", "all,pvc,cm,secret,lease,events", "-o", "wide"},
		{"-n", ns.Name, "describe", "pods,jobs,deployments,pvc"},
		// Every namespace's pods and endpoints with their addresses: a connection that reached another
		// namespace's server shows here as two pods (or a stale endpoint) with one address.
		{"get", "pods,endpointslices", "-A", "-o", "wide"},
	} {
		r := run(t, "", time.Minute, "kubectl", args...)
		t.Logf("--- kubectl %s ---\n%s%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	}
	pods := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "get", "pods", "-o", "name")
	for _, pod := range strings.Fields(pods.Stdout) {
		r := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "logs", pod, "--all-containers", "--tail=80")
		t.Logf("--- logs %s ---\n%s%s", pod, r.Stdout, r.Stderr)
	}
}

// retryScript is the shell loop of clientCommand: $1 is the deadline in seconds, the rest the
// command. Output of failed attempts is kept, not printed, so a success prints only the command's
// own output (and one line on stderr saying how many attempts it took).
const retryScript = `limit=$1; deadline=$(($(date +%s) + limit)); shift; n=0
while :; do
  n=$((n + 1))
  out=$("$@" 2>&1) && {
    [ "$n" -gt 1 ] && echo "succeeded at attempt $n, after: $last" >&2
    printf '%s\n' "$out"
    exit 0
  }
  code=$?
  last="exit $code: $out"
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "gave up after $n attempts in $limit s; the last ended with $last" >&2
    exit "$code"
  fi
  sleep 1
done`

// clientCommand is a pod's container command that runs a client command until it succeeds, for at
// most timeout, as a real client retries its connection: right after a pod becomes ready, the
// first connections through its Service may fail while the EndpointSlice reaches kube-proxy and
// the name reaches the cluster DNS. When time is up the container exits with the command's code
// and its log says what the last attempt saw. It returns a YAML flow sequence for `command:`.
func clientCommand(timeout time.Duration, cmd ...string) string {
	secs := strconv.Itoa(int(timeout.Seconds()))
	words := append([]string{"/bin/sh", "-c", retryScript, "retry", secs}, cmd...)
	b, err := json.Marshal(words) // JSON strings are YAML strings
	if err != nil {
		panic(err)
	}
	return string(b)
}

// lastLine is the last non-empty line of s: a retried client's result after its attempt report.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
