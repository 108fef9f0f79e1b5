package main

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Step is one workflow step the plugin reported as done, with the time it took.
type Step struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"durationNs"`
}

// stepLine matches the plugin's "✓ name (1.2s)" progress lines; "(already done)" does not match.
var stepLine = regexp.MustCompile(`^✓ (.+) \(([0-9][0-9.hms]*)\)$`)

// ParseSteps reads the steps the plugin reported done from its stderr, in order.
func ParseSteps(stderr string) []Step {
	var steps []Step
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		m := stepLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			continue
		}
		steps = append(steps, Step{Name: m[1], Duration: d})
	}
	return steps
}

// commandEnd matches pgBackRest's last line of a successful command, e.g.
// "INFO: restore command end: completed successfully (5123ms)".
var commandEnd = regexp.MustCompile(`(\w[\w-]*) command end: completed successfully \((\d+)ms\)`)

// PGBackRestDuration finds how long pgBackRest says command took in its log; ok is false when the
// log holds no successful end of that command.
func PGBackRestDuration(log, command string) (time.Duration, bool) {
	var found time.Duration
	ok := false
	for _, m := range commandEnd.FindAllStringSubmatch(log, -1) {
		if m[1] != command {
			continue
		}
		ms, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			continue
		}
		found, ok = time.Duration(ms)*time.Millisecond, true
	}
	return found, ok
}

// restoreID matches the 14-digit restore ids in step names (PVC, Job and restore names).
var restoreID = regexp.MustCompile(`\d{14}`)

// stepKey names a step the same way in every run: restore ids become ID.
func stepKey(name string) string { return restoreID.ReplaceAllString(name, "ID") }
