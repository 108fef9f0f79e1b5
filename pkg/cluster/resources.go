package cluster

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources are the primary's PostgreSQL container's requests and, where given, limits
// (--cpu, --memory: REQUEST[:LIMIT]). They live in the spec, so every primary the plugin builds
// (create, update, every restore) gets them; "" keeps the plugin's floor (manifest's defaults)
// or sets no limit.
type Resources struct {
	CPU         string `json:"cpu,omitempty"`
	CPULimit    string `json:"cpuLimit,omitempty"`
	Memory      string `json:"memory,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`
}

// IsZero says no resource was set.
func (r Resources) IsZero() bool { return r == Resources{} }

// ParseResource reads a --cpu or --memory value, REQUEST or REQUEST:LIMIT, each a positive
// Kubernetes quantity with the limit at least the request.
func ParseResource(flag, value string) (request, limit string, err error) {
	example := "500m or 500m:2"
	if flag == "--memory" {
		example = "1Gi or 1Gi:2Gi"
	}
	req, lim, hasLimit := strings.Cut(value, ":")
	rq, err := resource.ParseQuantity(req)
	if err != nil || rq.Sign() <= 0 {
		return "", "", fmt.Errorf("invalid %s %q: %q is not a positive quantity; use REQUEST[:LIMIT], e.g. %s", flag, value, req, example)
	}
	if !hasLimit {
		return rq.String(), "", nil
	}
	lq, err := resource.ParseQuantity(lim)
	if err != nil || lq.Sign() <= 0 {
		return "", "", fmt.Errorf("invalid %s %q: limit %q is not a positive quantity; use REQUEST[:LIMIT], e.g. %s", flag, value, lim, example)
	}
	if lq.Cmp(rq) < 0 {
		return "", "", fmt.Errorf("invalid %s %q: the limit %s is below the request %s; give a limit at least the request", flag, value, lim, req)
	}
	return rq.String(), lq.String(), nil
}

// Validate checks stored resources (the spec is read back from an editable ConfigMap).
func (r Resources) Validate() error {
	for _, f := range []struct{ flag, req, lim string }{{"--cpu", r.CPU, r.CPULimit}, {"--memory", r.Memory, r.MemoryLimit}} {
		if f.req == "" && f.lim == "" {
			continue
		}
		v := f.req
		if f.lim != "" {
			v += ":" + f.lim
		}
		if _, _, err := ParseResource(f.flag, v); err != nil {
			return err
		}
	}
	return nil
}
