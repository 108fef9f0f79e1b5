package cmd

import (
	"strings"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
)

// A PostgreSQL major without an image is refused with exit status 2 before any client is built
// (the kubeconfig here does not exist), naming the flag and the majors that exist.
func TestCreatePGVersionWithoutImageExits2(t *testing.T) {
	for _, v := range []string{"16", "13", "18"} {
		_, _, err := run(t, "create", "pg1", "--pg-version", v)
		if exitcode.For(err) != exitcode.UsageError || err == nil ||
			!strings.Contains(err.Error(), "invalid --pg-version "+v) || !strings.Contains(err.Error(), "use 15 or 17") {
			t.Errorf("--pg-version %s: exit %d, err %v", v, exitcode.For(err), err)
		}
	}
	if _, _, err := run(t, "create", "pg1", "--pg-version", "seventeen"); exitcode.For(err) != exitcode.UsageError {
		t.Errorf("--pg-version seventeen: exit %d, err %v", exitcode.For(err), err)
	}
	// 15 passes validation and gets as far as the missing kubeconfig.
	if _, _, err := run(t, "create", "pg1", "--pg-version", "15"); err == nil || exitcode.For(err) == exitcode.UsageError && strings.Contains(err.Error(), "--pg-version") {
		t.Errorf("--pg-version 15: %v", err)
	}
}
