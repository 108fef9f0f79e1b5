// Command kubectl-pgbackrest is the `kubectl pgbackrest` plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
)

func main() {
	// client-go reports errors of background streams (an exec cut by Ctrl-C, a watch ended by its
	// wait) through klog; the plugin reports what happened itself, in words a user can act on. A
	// logger, not just an output: klog writes ERROR lines to stderr whatever its output is.
	klog.SetLogger(logr.Discard())
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := interruptible(context.Background(), sigs, streams.ErrOut, os.Exit)
	err := cmd.NewRootCmd(streams).ExecuteContext(ctx)
	stop()
	if err != nil {
		output.PrintError(streams.ErrOut, err)
	}
	os.Exit(exitcode.For(err))
}
