// Package release checks .github/workflows/release.yml against the rest of the repository: the
// workflow cannot run outside GitHub, so what it would publish is checked here, by running its own
// scripts, instead of being trusted to stay in step with the code and the docs.
package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	root         = "../.."
	workflowPath = root + "/.github/workflows/release.yml"
	// testVersion stands for the tag being released (github.ref_name).
	testVersion = "v0.3.0"
)

type workflow struct {
	Env         map[string]string `json:"env"`
	Permissions map[string]string `json:"permissions"`
	Jobs        map[string]job    `json:"jobs"`
}

type job struct {
	Permissions map[string]string `json:"permissions"`
	Strategy    struct {
		Matrix struct {
			Include []map[string]string `json:"include"`
		} `json:"matrix"`
	} `json:"strategy"`
	Steps []step `json:"steps"`
}

type step struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	If   string            `json:"if"`
	Run  string            `json:"run"`
	Env  map[string]string `json:"env"`
	With map[string]string `json:"with"`
}

func loadWorkflow(t *testing.T) workflow {
	t.Helper()
	b, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatalf("reading the release workflow: %v", err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("parsing %s: %v", workflowPath, err)
	}
	return w
}

// builtImage is what one leg of the images job builds and pushes, as its own steps compute it.
type builtImage struct {
	Name      string // the matrix leg
	Target    string // Dockerfile stage
	Ref       string // the tag pushed
	Context   string
	BuildArgs map[string]string
	Platforms []string
}

// builtImages runs, for each leg of the images job's matrix, the step that names the image (with
// the leg's matrix values and testVersion as the tag) and evaluates the build-push step's inputs
// from its outputs: the images the workflow would publish for testVersion.
func builtImages(t *testing.T, w workflow) []builtImage {
	t.Helper()
	images, ok := w.Jobs["images"]
	if !ok {
		t.Fatalf("%s has no images job", workflowPath)
	}
	naming := findStep(t, images, func(s step) bool { return s.ID == "ref" })
	build := findStep(t, images, func(s step) bool { return strings.HasPrefix(s.Uses, "docker/build-push-action@") })
	if len(images.Strategy.Matrix.Include) == 0 {
		t.Fatal("the images job's matrix lists no image")
	}
	var out []builtImage
	for _, leg := range images.Strategy.Matrix.Include {
		ctx := exprContext{matrix: leg, env: w.Env}
		env := []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range w.Env {
			env = append(env, k+"="+ctx.eval(t, v))
		}
		for k, v := range naming.Env {
			env = append(env, k+"="+ctx.eval(t, v))
		}
		ghOutput := filepath.Join(t.TempDir(), "output")
		env = append(env, "GITHUB_OUTPUT="+ghOutput)
		cmd := exec.Command("bash", "-e", "-c", naming.Run)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("matrix leg %s: the step %q failed: %v\n%s", leg["name"], naming.Name, err, b)
		}
		ctx.outputs = readGitHubOutput(t, ghOutput)

		img := builtImage{
			Name:      leg["name"],
			Target:    ctx.eval(t, build.With["target"]),
			Ref:       ctx.eval(t, build.With["tags"]),
			Context:   ctx.eval(t, build.With["context"]),
			BuildArgs: map[string]string{},
		}
		for _, line := range strings.Split(ctx.eval(t, build.With["build-args"]), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				img.BuildArgs[k] = v
			}
		}
		for _, p := range strings.Split(ctx.eval(t, build.With["platforms"]), ",") {
			img.Platforms = append(img.Platforms, strings.TrimSpace(p))
		}
		if file := build.With["file"]; file != "manifests/image/Dockerfile" {
			t.Errorf("build-push-action builds %q, not the one recipe manifests/image/Dockerfile", file)
		}
		out = append(out, img)
	}
	return out
}

func findStep(t *testing.T, j job, match func(step) bool) step {
	t.Helper()
	for _, s := range j.Steps {
		if match(s) {
			return s
		}
	}
	t.Fatalf("%s: a step is missing from the images job", workflowPath)
	return step{}
}

// exprContext evaluates the few ${{ }} expressions the naming and build steps use. Any other
// expression fails the test, so a change of their shape is noticed here rather than on GitHub.
type exprContext struct {
	matrix  map[string]string
	outputs map[string]string
	env     map[string]string
}

var exprRE = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

func (c exprContext) eval(t *testing.T, s string) string {
	t.Helper()
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRE.FindStringSubmatch(m)[1]
		switch {
		case e == "github.ref_name":
			return testVersion
		case strings.HasPrefix(e, "matrix."):
			return c.matrix[strings.TrimPrefix(e, "matrix.")]
		case strings.HasPrefix(e, "steps.ref.outputs."):
			v, ok := c.outputs[strings.TrimPrefix(e, "steps.ref.outputs.")]
			if !ok {
				t.Fatalf("%s: the naming step sets no output for %s", workflowPath, m)
			}
			return v
		case strings.HasPrefix(e, "env."):
			if v, ok := c.env[strings.TrimPrefix(e, "env.")]; ok {
				return v
			}
		}
		t.Fatalf("%s: unexpected expression %s (teach test/release about it)", workflowPath, m)
		return ""
	})
}

// readGitHubOutput parses $GITHUB_OUTPUT: NAME=VALUE lines and NAME<<DELIM ... DELIM blocks.
func readGitHubOutput(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the step's outputs: %v", err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if name, delim, ok := strings.Cut(lines[i], "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		if name, val, ok := strings.Cut(lines[i], "="); ok {
			out[name] = val
		}
	}
	return out
}
