package docgen

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDocsUpToDate is the drift test: docs/commands/ must be what Generate writes today.
func TestDocsUpToDate(t *testing.T) {
	committed := filepath.Join("..", "..", "..", "docs", "commands")
	tmp := t.TempDir()
	if err := Generate(tmp); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, tmp)
	got := readDir(t, committed)
	for _, name := range sortedKeys(want) {
		if _, ok := got[name]; !ok {
			t.Errorf("docs/commands/%s is missing: run make docs", name)
		} else if got[name] != want[name] {
			t.Errorf("docs/commands/%s is out of date: run make docs", name)
		}
	}
	for _, name := range sortedKeys(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/commands/%s documents no command: run make docs", name)
		}
	}
}

func TestGenerateIsStable(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := Generate(a); err != nil {
		t.Fatal(err)
	}
	if err := Generate(b); err != nil {
		t.Fatal(err)
	}
	pa, pb := readDir(t, a), readDir(t, b)
	if len(pa) == 0 {
		t.Fatal("no pages generated")
	}
	for name, body := range pa {
		if pb[name] != body {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if _, ok := pa["kubectl_pgbackrest_restore.md"]; !ok {
		t.Errorf("no page for restore; got %v", sortedKeys(pa))
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
