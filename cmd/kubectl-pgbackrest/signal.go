package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// ExitInterrupted is the exit code of a run stopped by a second Ctrl-C (128 + SIGINT, as shells
// report it).
const ExitInterrupted = 130

// interruptible returns a context cancelled by the first signal on sigs: the command stops where
// it is and cleans up (a backup or restore releases its Lease, bounded in time). A second signal
// exits at once with ExitInterrupted, for when cleaning up takes longer than one wants to wait.
// stop ends the watching.
func interruptible(parent context.Context, sigs <-chan os.Signal, errOut io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(errOut, "\ninterrupted: stopping and cleaning up (press Ctrl-C again to exit at once)")
		cancel()
		select {
		case <-sigs:
			fmt.Fprintln(errOut, "interrupted again: exiting at once, without cleaning up")
			exit(ExitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		cancel()
	}
}
