package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fatih/color"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// run executes the root command as a user would, with no cluster anywhere.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams)
	root.SetArgs(append([]string{"--kubeconfig", "/nonexistent/kubeconfig"}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestVersionJSON(t *testing.T) {
	out, _, err := run(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got version.Info
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got != version.Get() {
		t.Errorf("got %+v, want %+v", got, version.Get())
	}
}

func TestVersionText(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "kubectl-pgbackrest dev\n") || !strings.Contains(out, "platform:") {
		t.Errorf("err %v, out:\n%s", err, out)
	}
}

func TestHelpReadsAsKubectlPlugin(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kubectl pgbackrest [command]",
		"Cluster Commands:", "Backup Commands:", "Restore Commands:", "Other Commands:",
		"  s3 ", "  version ", "  completion ",
		"--namespace", "--context", "--color",
		`Use "kubectl pgbackrest [command] --help"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := [][]string{
		{"no-such-verb"},
		{"version", "--no-such-flag"},
		{"version", "extra-arg"},
		{"version", "-o", "table"},
		{"--color", "sometimes", "version"},
		{"s3", "configur"},
		{"s3", "configure", "--bucket", "b"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, err := run(t, args...)
			if got := exitcode.For(err); got != exitcode.UsageError {
				t.Errorf("exit code %d (err %v), want %d", got, err, exitcode.UsageError)
			}
		})
	}
}

func TestUnknownSubcommandSuggests(t *testing.T) {
	_, _, err := run(t, "s3", "configur")
	if err == nil || !strings.Contains(err.Error(), "Did you mean this?\n\tconfigure") {
		t.Errorf("err = %v", err)
	}
}

func TestColorFlagSetsErrorColour(t *testing.T) {
	defer func(old bool) { color.NoColor = old }(color.NoColor)
	for mode, wantNoColor := range map[string]bool{"always": false, "never": true, "auto": true} {
		if _, _, err := run(t, "--color="+mode, "version"); err != nil {
			t.Fatal(err)
		}
		if color.NoColor != wantNoColor {
			t.Errorf("--color=%s: NoColor = %v", mode, color.NoColor)
		}
	}
}

func TestVersionBuildsNoClient(t *testing.T) {
	// A kubeconfig that cannot load must not matter to version or completion.
	if _, _, err := run(t, "version"); err != nil {
		t.Errorf("version: %v", err)
	}
	out, _, err := run(t, "completion", "bash")
	if err != nil || !bytes.Contains([]byte(out), []byte("bash completion")) {
		t.Errorf("completion: %v", err)
	}
}

// A missing or extra CLUSTER gets the plugin's own message, not cobra's "accepts 1 arg(s)", on
// every verb that takes one.
func TestMissingClusterArgument(t *testing.T) {
	for _, verb := range [][]string{{"create"}, {"backup"}, {"restore"}, {"delete"}, {"check"}, {"info"}, {"show", "backup"},
		{"promote"}, {"retired"}, {"cleanup"}} {
		t.Run(strings.Join(verb, " "), func(t *testing.T) {
			_, _, err := run(t, verb...)
			if exitcode.For(err) != exitcode.UsageError {
				t.Fatalf("exit %d, want 2: %v", exitcode.For(err), err)
			}
			want := "CLUSTER is required: kubectl pgbackrest " + strings.Join(verb, " ") + " CLUSTER"
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "arg(s)") {
				t.Errorf("err = %v, want %q", err, want)
			}
			_, _, err = run(t, append(verb, "a", "b")...)
			if exitcode.For(err) != exitcode.UsageError || !strings.Contains(err.Error(), `unexpected argument "b"`) {
				t.Errorf("two arguments: exit %d, %v", exitcode.For(err), err)
			}
		})
	}
}
