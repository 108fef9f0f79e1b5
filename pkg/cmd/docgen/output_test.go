package docgen

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/list"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/s3"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/restore"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/status"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/update"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/version"
)

// TestDocsUpToDateOutputFields is the drift test of docs/output.md, which is written by hand: each
// section's field table must name exactly the json fields of the struct that command prints, so a
// field added or renamed in Go fails here until the page says so. Its name starts with
// TestDocsUpToDate so that `make docs-check` runs it too.
func TestDocsUpToDateOutputFields(t *testing.T) {
	sections := map[string]reflect.Type{
		"backup":               reflect.TypeFor[backup.Result](),
		"info and show backup": reflect.TypeFor[pgbackrest.Summary](),
		"list":                 reflect.TypeFor[list.Result](),
		"retired":              reflect.TypeFor[restore.RetiredList](),
		"s3 show":              reflect.TypeFor[s3.View](),
		"status":               reflect.TypeFor[status.Status](),
		"version":              reflect.TypeFor[version.Info](),
		"update":               reflect.TypeFor[update.Result](),
		"expire":               reflect.TypeFor[backup.ExpireResult](),
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "output.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := fieldTables(string(b))
	for title, typ := range sections {
		want := jsonPaths(typ, "")
		got, ok := documented[title]
		if !ok {
			t.Errorf("docs/output.md has no section %q for %s", "## "+title, typ)
			continue
		}
		for _, p := range want {
			if !slices.Contains(got, p) {
				t.Errorf("docs/output.md, %s: field `%s` of %s is not documented", title, p, typ)
			}
		}
		for _, p := range got {
			if !slices.Contains(want, p) {
				t.Errorf("docs/output.md, %s: documents `%s`, which %s does not have", title, p, typ)
			}
		}
	}
}

// fieldTables maps each "## title" of the page to the first cells (`path`) of its table rows.
func fieldTables(page string) map[string][]string {
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	out := map[string][]string{}
	title := ""
	for _, line := range strings.Split(page, "\n") {
		if t, ok := strings.CutPrefix(line, "## "); ok {
			title = t
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && title != "" {
			out[title] = append(out[title], m[1])
		}
	}
	return out
}

// jsonPaths lists the json paths of t the way the page writes them: `a`, `a[].b`, `a.c`.
func jsonPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := prefix + name
		out = append(out, p)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice {
			if e := ft.Elem(); e.Kind() == reflect.Struct && e != reflect.TypeFor[time.Time]() {
				out = append(out, jsonPaths(e, p+"[].")...)
			}
			continue
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			out = append(out, jsonPaths(ft, p+".")...)
		}
	}
	return out
}
