package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	kubectlexec "k8s.io/kubectl/pkg/cmd/exec"
	"k8s.io/kubectl/pkg/util/term"
)

// Session is an interactive command in a pod's container, run exactly as `kubectl exec -i [-t]`
// runs one: kubectl's own exec options stream stdin, stdout and stderr, and, when stdin is a
// terminal, put it in raw mode, forward window resizes and restore it on exit or a signal. Ctrl-C
// on a terminal reaches the remote program (raw mode); without one it cancels ctx, which ends the
// stream.
type Session struct {
	Config *restclient.Config
	Client kubernetes.Interface
	genericiooptions.IOStreams
}

// IsTerminal says whether in is a terminal, as kubectl exec decides it for -t.
func IsTerminal(in io.Reader) bool { return term.TTY{In: in}.IsTerminalIn() }

// Run runs cmd in the container with stdin passed through, a TTY when stdin is a terminal. A
// command that ran and exited non-zero returns *ExitError with its status.
func (s Session) Run(ctx context.Context, namespace, pod, container string, cmd []string) error {
	config := *s.Config
	// kubectl's exec builds its own REST client for the pods subresource from the config.
	config.APIPath = "/api"
	config.GroupVersion = &scheme.Scheme.PrioritizedVersionsForGroup("")[0]
	config.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	o := &kubectlexec.ExecOptions{
		StreamOptions: kubectlexec.StreamOptions{
			Namespace:     namespace,
			PodName:       pod,
			ContainerName: container,
			Stdin:         true,
			TTY:           IsTerminal(s.In),
			Quiet:         true,
			IOStreams:     s.IOStreams,
		},
		Command:   cmd,
		Executor:  &contextExecutor{ctx: ctx},
		PodClient: s.Client.CoreV1(),
		Config:    &config,
	}
	err := o.Run()
	var code utilexec.CodeExitError
	if errors.As(err, &code) {
		return &ExitError{Code: code.Code, Command: cmd}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("running %q in pod %s/%s: %w", cmd, namespace, pod, context.Cause(ctx))
		}
		return fmt.Errorf("running %q in pod %s/%s: %w", cmd, namespace, pod, err)
	}
	return nil
}

// contextExecutor is kubectl's executor (WebSocket with SPDY fallback) bound to ctx, which
// kubectl's ExecOptions.Run does not take.
type contextExecutor struct {
	kubectlexec.DefaultRemoteExecutor
	ctx context.Context
}

func (e *contextExecutor) Execute(u *url.URL, c *restclient.Config, in io.Reader, out, errOut io.Writer, tty bool, q remotecommand.TerminalSizeQueue) error {
	return e.DefaultRemoteExecutor.ExecuteWithContext(e.ctx, u, c, in, out, errOut, tty, q)
}
