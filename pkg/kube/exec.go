// Package kube is the small layer over client-go: exec into pods, waits, server-side apply,
// the backup/restore Lease and friendlier API errors.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// Executor runs a command in a pod's container, streaming its output as it comes.
// A command that ran and exited non-zero returns *ExitError.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// ExitError is a remote command's non-zero exit.
type ExitError struct {
	Code int
	// Command is the command line that failed, for the message.
	Command []string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("command %q exited with code %d", e.Command, e.Code)
}

// RemoteExecutor is the real Executor: WebSocket with SPDY fallback, as kubectl exec does.
type RemoteExecutor struct {
	Config *restclient.Config
	Client kubernetes.Interface
}

var _ Executor = (*RemoteExecutor)(nil)

// NewExecutor returns the real Executor for config.
func NewExecutor(config *restclient.Config, client kubernetes.Interface) *RemoteExecutor {
	return &RemoteExecutor{Config: config, Client: client}
}

// Exec implements Executor.
func (e *RemoteExecutor) Exec(ctx context.Context, namespace, pod, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	req := e.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   cmd,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, scheme.ParameterCodec)
	exec, err := createExecutor(req.URL(), e.Config)
	if err != nil {
		return fmt.Errorf("setting up exec in pod %s/%s: %w", namespace, pod, err)
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	if err == nil {
		return nil
	}
	var code utilexec.CodeExitError
	if errors.As(err, &code) {
		return &ExitError{Code: code.Code, Command: cmd}
	}
	var codePtr *utilexec.CodeExitError
	if errors.As(err, &codePtr) {
		return &ExitError{Code: codePtr.Code, Command: cmd}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, ctx.Err())
	}
	return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
}

// createExecutor is kubectl's (pkg/cmd/exec/exec.go): WebSocket first, SPDY when the upgrade fails
// or an HTTPS proxy is in the way.
func createExecutor(u *url.URL, config *restclient.Config) (remotecommand.Executor, error) {
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return nil, err
	}
	// WebSocketExecutor must be "GET" method as described in RFC 6455 Sec. 4.1 (page 17).
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}
