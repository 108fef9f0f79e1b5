package manifest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFenceHeldUntilEveryProcessExits runs the fence's shell lines for real: a second server on
// the same volume waits, saying why, until the first one and every process it started (a
// postmaster's backends, its archive-push children) have exited, whatever exec'd or forked.
func TestFenceHeldUntilEveryProcessExits(t *testing.T) {
	for _, tool := range []string{"sh", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	fence := filepath.Join(t.TempDir(), ".postmaster.fence")
	// The first server execs into a process that forks a child living 1.5 s, then itself ends at
	// once: only the child still holds the lock.
	first := exec.Command("sh", "-c", fenced(fence, FenceWaitMessage)+`exec sh -c 'sleep 1.5 & exec true'`)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	var stderr bytes.Buffer
	second := exec.Command("sh", "-c", fenced(fence, FenceWaitMessage)+`echo started`)
	second.Stderr = &stderr
	out, err := second.Output()
	if err != nil {
		t.Fatalf("second server: %v: %s", err, stderr.String())
	}
	waited := time.Since(start)
	_ = first.Wait()
	if strings.TrimSpace(string(out)) != "started" {
		t.Fatalf("second server printed %q", out)
	}
	if waited < time.Second {
		t.Errorf("the second server started after %s, while the first one's child still held the fence", waited)
	}
	if !strings.Contains(stderr.String(), FenceWaitMessage) || !strings.Contains(stderr.String(), "is free") {
		t.Errorf("the second server's log does not say why it waits:\n%s", stderr.String())
	}

	// A free fence costs nothing and says nothing.
	stderr.Reset()
	third := exec.Command("sh", "-c", fenced(fence, FenceWaitMessage)+`echo started`)
	third.Stderr = &stderr
	if out, err := third.Output(); err != nil || strings.TrimSpace(string(out)) != "started" || stderr.Len() != 0 {
		t.Errorf("free fence: %v %q %q", err, out, stderr.String())
	}
}
