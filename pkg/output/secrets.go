package output

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// SecretValues says what a printed Secret shows of its values.
type SecretValues int

const (
	// RedactSecrets replaces each value by its size: the default of every -o.
	RedactSecrets SecretValues = iota
	// PlaceholderSecrets replaces each value by a placeholder: --show-secrets on a dry run, whose
	// values (freshly generated keys, the key just typed) must never be printed as usable ones.
	PlaceholderSecrets
	// ShowSecrets prints the values: --show-secrets on a real run.
	ShowSecrets
)

// SecretValuesFor is the mode of a command with --show-secrets show on a dry run or not.
func SecretValuesFor(show, dryRun bool) SecretValues {
	switch {
	case !show:
		return RedactSecrets
	case dryRun:
		return PlaceholderSecrets
	default:
		return ShowSecrets
	}
}

// Secrets returns objs for printing: every Secret a copy with its values handled as mode says
// (in stringData, readable, with data emptied), everything else as it is.
func Secrets(objs []runtime.Object, mode SecretValues) []runtime.Object {
	out := slices.Clone(objs)
	for i, o := range out {
		if s, ok := o.(*corev1.Secret); ok {
			out[i] = Secret(s, mode)
		}
	}
	return out
}

// Secret is Secrets for one Secret.
func Secret(s *corev1.Secret, mode SecretValues) *corev1.Secret {
	if mode == ShowSecrets {
		return s
	}
	c := s.DeepCopy()
	values := map[string]int{}
	for k, v := range c.Data {
		values[k] = len(v)
	}
	for k, v := range c.StringData {
		values[k] = len(v)
	}
	c.Data, c.StringData = nil, nil
	if len(values) > 0 {
		c.StringData = map[string]string{}
	}
	for k, n := range values {
		if mode == PlaceholderSecrets {
			c.StringData[k] = "PLACEHOLDER (a dry run never prints secret values)"
		} else {
			c.StringData[k] = fmt.Sprintf("REDACTED (%d bytes; --show-secrets prints it)", n)
		}
	}
	return c
}
