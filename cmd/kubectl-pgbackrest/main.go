// Command kubectl-pgbackrest is the `kubectl pgbackrest` plugin.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

func main() {
	// client-go reports errors of background streams (an exec cut by Ctrl-C) through klog; the
	// plugin reports what happened itself, in words a user can act on.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := cmd.NewRootCmd(streams).ExecuteContext(ctx)
	stop()
	if err != nil {
		output.PrintError(streams.ErrOut, err)
	}
	os.Exit(exitcode.For(err))
}
