package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Output is what one command printed and how long its whole process took.
type Output struct {
	Stdout, Stderr string
	Wall           time.Duration
}

// Command runs programs with a fixed environment and optional user, timing each whole process.
type Command struct {
	// Env is added to this process's environment.
	Env []string
	// User, when set, runs the program as that user through runuser (for the host PostgreSQL).
	User string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Log, when set, receives stderr as it is written (progress of long commands).
	Log io.Writer
}

// Run runs name with args and returns its output; a non-zero exit is an error carrying the end of
// stderr.
func (c Command) Run(ctx context.Context, name string, args ...string) (Output, error) {
	if c.User != "" {
		args = append([]string{"-u", c.User, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if c.Log != nil {
		cmd.Stderr = io.MultiWriter(&stderr, c.Log)
	}
	start := time.Now()
	err := cmd.Run()
	out := Output{Stdout: stdout.String(), Stderr: stderr.String(), Wall: time.Since(start)}
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.Stderr+out.Stdout, 20))
	}
	return out, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logf prints the bench's own progress on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
