package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer written by the signal goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestInterruptible(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	exited := make(chan int, 1)
	var errOut syncBuffer
	ctx, stop := interruptible(context.Background(), sigs, &errOut, func(code int) { exited <- code })
	defer stop()

	// The first Ctrl-C cancels the context: the command cleans up.
	sigs <- os.Interrupt
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first Ctrl-C did not cancel the context")
	}
	select {
	case code := <-exited:
		t.Fatalf("the first Ctrl-C exited (%d): cleanup must get its chance", code)
	case <-time.After(20 * time.Millisecond):
	}
	// The second exits at once.
	sigs <- os.Interrupt
	select {
	case code := <-exited:
		if code != 130 {
			t.Errorf("exit code %d, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second Ctrl-C did not exit")
	}
	for _, want := range []string{"press Ctrl-C again to exit at once", "interrupted again: exiting at once"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestInterruptibleStop(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	ctx, stop := interruptible(context.Background(), sigs, &syncBuffer{}, func(int) { t.Error("exited") })
	stop()
	if ctx.Err() == nil {
		t.Error("stop left the context running")
	}
}
