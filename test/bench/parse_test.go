package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseSteps(t *testing.T) {
	stderr := "… take lease bench-pgbackrest\n" +
		"✓ take lease bench-pgbackrest (35ms)\n" +
		"✓ suspend backup schedules (already done)\n" +
		"✓ restore from local (repo1) with Job bench-restore-1 (12.4s)\n" +
		"  ✓ not a step line\n" +
		"✗ create primary: boom\n" +
		"✓ wait until it is available (2m5s)\n"
	got := ParseSteps(stderr)
	want := []Step{
		{"take lease bench-pgbackrest", 35 * time.Millisecond},
		{"restore from local (repo1) with Job bench-restore-1", 12400 * time.Millisecond},
		{"wait until it is available", 125 * time.Second},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseSteps = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPGBackRestDuration(t *testing.T) {
	log := `2026-11-25 10:00:00.000 P00   INFO: restore command begin 2.45: --stanza=db
2026-11-25 10:00:09.000 P00   INFO: archive-get command end: completed successfully (12ms)
2026-11-25 10:00:12.345 P00   INFO: restore command end: completed successfully (12345ms)
`
	if d, ok := PGBackRestDuration(log, "restore"); !ok || d != 12345*time.Millisecond {
		t.Errorf("restore = %v, %v; want 12.345s, true", d, ok)
	}
	if _, ok := PGBackRestDuration(log, "backup"); ok {
		t.Error("found a backup end in a restore log")
	}
	if _, ok := PGBackRestDuration("P00 ERROR: [056]: restore command end: aborted with exception [056]", "restore"); ok {
		t.Error("a failed command counted as completed")
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{3, 1, 2})
	if s.Median != 2 || s.Min != 1 || s.Max != 3 || s.N != 3 {
		t.Errorf("odd count: %+v", s)
	}
	if s.Values[0] != 3 {
		t.Errorf("values lost their order: %v", s.Values)
	}
	if s := Summarize([]float64{4, 1, 2, 3}); s.Median != 2.5 {
		t.Errorf("even count median = %v, want 2.5", s.Median)
	}
	if s := Summarize(nil); s.Valid() || s.Format(1) != "—" {
		t.Errorf("empty: %+v %q", s, s.Format(1))
	}
	if got := Summarize([]float64{10, 12, 11}).Format(1); got != "11.0 (10.0–12.0)" {
		t.Errorf("Format = %q", got)
	}
	if got := FormatRatio(Ratio(Summarize([]float64{50}), Summarize([]float64{100}))); got != "0.50" {
		t.Errorf("ratio = %q", got)
	}
	if got := FormatRatio(Ratio(Summarize(nil), Summarize([]float64{100}))); got != "—" {
		t.Errorf("ratio of nothing = %q", got)
	}
}

func TestStepKey(t *testing.T) {
	got := stepKey("restore from s3 (repo2) with Job bench-restore-20261125041122")
	if want := "restore from s3 (repo2) with Job bench-restore-ID"; got != want {
		t.Errorf("stepKey = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	cases := map[string]string{
		"GET /api/v1/namespaces/ns/configmaps?labelSelector=x":              "list configmaps",
		"GET /api/v1/namespaces/ns/configmaps/bench-pgbackrest":             "get configmaps",
		"GET /api/v1/namespaces/ns/pods?watch=true&resourceVersion=1":       "watch pods",
		"POST /api/v1/namespaces/ns/pods/repo-0/exec?command=pgbackrest":    "exec pods/exec",
		"GET /api/v1/namespaces/ns/pods/repo-0/exec?command=pgbackrest":     "exec pods/exec",
		"GET /api/v1/namespaces/ns/pods/job-0/log?follow=true":              "get pods/log",
		"PATCH /apis/apps/v1/namespaces/ns/deployments/bench?fieldManager=": "patch deployments",
		"PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/bench":       "update leases",
		"DELETE /apis/batch/v1/namespaces/ns/jobs/bench-restore-1":          "delete jobs",
		"POST /apis/batch/v1/namespaces/ns/jobs":                            "create jobs",
		"GET /api/v1/namespaces/ns":                                         "get namespaces",
		"GET /apis/apps/v1/deployments":                                     "list deployments",
		"GET /version":                                                      "GET /version",
	}
	for in, want := range cases {
		method, target, _ := strings.Cut(in, " ")
		r := httptest.NewRequest(method, target, nil)
		if got := classify(r); got != want {
			t.Errorf("classify(%s) = %q, want %q", in, got, want)
		}
	}
}
