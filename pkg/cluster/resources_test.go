package cluster

import (
	"strings"
	"testing"
)

func TestParseResource(t *testing.T) {
	tests := []struct {
		flag, value string
		req, lim    string
		wantErr     string
	}{
		{"--cpu", "500m", "500m", "", ""},
		{"--cpu", "0.5:2", "500m", "2", ""},
		{"--memory", "1Gi:2Gi", "1Gi", "2Gi", ""},
		{"--memory", "1x", "", "", `invalid --memory "1x"`},
		{"--memory", "1Gi:lots", "", "", `limit "lots" is not a positive quantity`},
		{"--memory", "2Gi:1Gi", "", "", "the limit 1Gi is below the request 2Gi"},
		{"--cpu", "0", "", "", "not a positive quantity"},
		{"--cpu", "", "", "", "e.g. 500m or 500m:2"},
	}
	for _, tt := range tests {
		req, lim, err := ParseResource(tt.flag, tt.value)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseResource(%s, %q) = %v, want an error containing %q", tt.flag, tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || req != tt.req || lim != tt.lim {
			t.Errorf("ParseResource(%s, %q) = %q, %q, %v; want %q, %q", tt.flag, tt.value, req, lim, err, tt.req, tt.lim)
		}
	}
}

func TestResourcesValidate(t *testing.T) {
	if err := (Resources{CPU: "1", MemoryLimit: "1Gi", Memory: "2Gi"}).Validate(); err == nil || !strings.Contains(err.Error(), "--memory") {
		t.Errorf("a stored limit below its request: %v", err)
	}
	if err := (Resources{CPU: "250m", Memory: "1Gi", MemoryLimit: "1Gi"}).Validate(); err != nil {
		t.Error(err)
	}
}
