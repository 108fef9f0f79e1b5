package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Format is the value of -o for results that are not Kubernetes objects.
type Format string

// Output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
)

// ParseFormat validates the value of -o against allowed (all three when none is given).
// The empty string means the first allowed format.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	if len(allowed) == 0 {
		allowed = []Format{Table, JSON, YAML}
	}
	if s == "" {
		return allowed[0], nil
	}
	names := make([]string, len(allowed))
	for i, f := range allowed {
		if string(f) == s {
			return f, nil
		}
		names[i] = string(f)
	}
	return "", fmt.Errorf("-o/--output must be one of %s; got %q", strings.Join(names, ", "), s)
}

// Tabler is implemented by results that can render as a table.
type Tabler interface {
	// Table returns the column headers and the rows.
	Table() (headers []string, rows [][]string)
}

// Print renders v (a json-tagged struct) to w. For Table, v must implement Tabler.
// json and yaml render the same struct, so the table and -o json never disagree.
func Print(w io.Writer, format Format, v any) error {
	switch format {
	case JSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("rendering json: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case YAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("rendering yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	case Table, "":
		t, ok := v.(Tabler)
		if !ok {
			return fmt.Errorf("%T cannot render as a table: use -o json or -o yaml", v)
		}
		headers, rows := t.Table()
		return WriteTable(w, headers, rows)
	}
	return fmt.Errorf("unknown output format %q", format)
}

// WriteTable writes an aligned table, headers upper-cased as kubectl does. No headers → rows only.
// Cells are Cleaned: they hold names and messages read from the cluster.
func WriteTable(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if len(headers) > 0 {
		up := make([]string, len(headers))
		for i, h := range headers {
			up[i] = strings.ToUpper(h)
		}
		fmt.Fprintln(tw, strings.Join(up, "\t"))
	}
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = Clean(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
