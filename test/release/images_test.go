package release

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	dockerfilePath = root + "/manifests/image/Dockerfile"
	installDocPath = root + "/docs/install.md"
)

// defaultImageFromDocs is the default image reference docs/install.md promises, for major and
// plugin version v.
func defaultImageFromDocs(t *testing.T, major, v string) string {
	t.Helper()
	doc := readFile(t, installDocPath)
	const pattern = "ghcr.io/kubectl-pgbackrest/postgres:<major>-<plugin version>"
	if !strings.Contains(doc, pattern) {
		t.Fatalf("%s no longer says the default image is %s", installDocPath, pattern)
	}
	return strings.NewReplacer("<major>", major, "<plugin version>", v).Replace(pattern)
}

// recipeSuites are the PostgreSQL majors the recipe's header documents, with their Debian suite
// ("PG_MAJOR=17 DEBIAN_SUITE=trixie").
func recipeSuites(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile(`(?m)^#\s+PG_MAJOR=(\d+) DEBIAN_SUITE=(\w+)`)
	for _, m := range re.FindAllStringSubmatch(readFile(t, dockerfilePath), -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatalf("%s documents no PG_MAJOR=N DEBIAN_SUITE=S pair", dockerfilePath)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(b)
}

// The images the workflow publishes are the ones the plugin and the docs name, built from the
// recipe's stages with the recipe's build arguments, for amd64 and arm64.
func TestReleaseImagesAreTheDocumentedDefaults(t *testing.T) {
	suites := recipeSuites(t)
	var majors []string
	plugins := 0
	for _, img := range builtImages(t, loadWorkflow(t)) {
		if !slices.Equal(img.Platforms, []string{"linux/amd64", "linux/arm64"}) {
			t.Errorf("%s: platforms %v, want linux/amd64 and linux/arm64", img.Name, img.Platforms)
		}
		switch img.Target {
		case "postgres":
			major := img.BuildArgs["PG_MAJOR"]
			majors = append(majors, major)
			if want := defaultImageFromDocs(t, major, testVersion); img.Ref != want {
				t.Errorf("%s: pushes %s; the default image of PostgreSQL %s is %s", img.Name, img.Ref, major, want)
			}
			if got, want := img.BuildArgs["DEBIAN_SUITE"], suites[major]; got != want {
				t.Errorf("%s: DEBIAN_SUITE=%s; the recipe builds PostgreSQL %s on %q", img.Name, got, major, want)
			}
			if img.Context != "manifests/image" {
				t.Errorf("%s: build context %s, want manifests/image", img.Name, img.Context)
			}
		case "plugin":
			plugins++
			if want := "ghcr.io/kubectl-pgbackrest/kubectl-pgbackrest:" + testVersion; img.Ref != want {
				t.Errorf("%s: pushes %s, want %s", img.Name, img.Ref, want)
			}
			// make image-bin writes bin/image/linux-<arch>/kubectl-pgbackrest, what the plugin
			// stage copies.
			if img.Context != "bin/image" {
				t.Errorf("%s: build context %s, want bin/image (make image-bin)", img.Name, img.Context)
			}
			if len(img.BuildArgs) != 0 {
				t.Errorf("%s: build args %v; the plugin stage takes none", img.Name, img.BuildArgs)
			}
		default:
			t.Errorf("%s: target %q is not a stage of the recipe (postgres, plugin)", img.Name, img.Target)
		}
	}
	if plugins != 1 {
		t.Errorf("the workflow builds %d plugin images, want 1", plugins)
	}
	var recipe []string
	for m := range suites {
		recipe = append(recipe, m)
	}
	slices.SortFunc(recipe, byNumber)
	slices.SortFunc(majors, byNumber)
	if !slices.Equal(majors, recipe) {
		t.Errorf("the workflow builds PostgreSQL %v; the recipe builds %v", majors, recipe)
	}
}

func byNumber(a, b string) int {
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	return x - y
}

// Every stage the workflow builds exists in the recipe.
func TestReleaseTargetsAreRecipeStages(t *testing.T) {
	dockerfile := readFile(t, dockerfilePath)
	for _, img := range builtImages(t, loadWorkflow(t)) {
		re := regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+` + regexp.QuoteMeta(img.Target) + `\s*$`)
		if !re.MatchString(dockerfile) {
			t.Errorf("%s: %s has no stage %q", img.Name, dockerfilePath, img.Target)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// make image (the lab's build) and the workflow build the same PostgreSQL majors, and make
// image-bin writes a plugin binary for every architecture the workflow publishes.
func TestReleaseBuildsWhatMakeImageBuilds(t *testing.T) {
	makefile := readFile(t, root+"/Makefile")
	makeVar := func(name string) []string {
		m := regexp.MustCompile(`(?m)^` + name + `\s*\?=\s*(.*)$`).FindStringSubmatch(makefile)
		if m == nil {
			t.Fatalf("the Makefile no longer sets %s", name)
		}
		return strings.Fields(m[1])
	}
	majors, arches := makeVar("IMAGE_MAJORS"), makeVar("IMAGE_ARCHES")
	var built []string
	for _, img := range builtImages(t, loadWorkflow(t)) {
		if img.Target == "postgres" {
			built = append(built, img.BuildArgs["PG_MAJOR"])
		}
		var platforms []string
		for _, a := range arches {
			platforms = append(platforms, "linux/"+a)
		}
		if !slices.Equal(img.Platforms, platforms) {
			t.Errorf("%s: platforms %v; make image-bin builds %v (IMAGE_ARCHES)", img.Name, img.Platforms, platforms)
		}
	}
	slices.SortFunc(built, byNumber)
	slices.SortFunc(majors, byNumber)
	if !slices.Equal(built, majors) {
		t.Errorf("the workflow builds PostgreSQL %v; make image builds %v (IMAGE_MAJORS)", built, majors)
	}
}

// BuildKit (docker buildx, the workflow's builder) keeps a default given to a predefined platform
// ARG: `ARG TARGETARCH=amd64` would put the amd64 binary into the arm64 plugin image.
func TestRecipePlatformArgsHaveNoDefault(t *testing.T) {
	re := regexp.MustCompile(`(?m)^ARG\s+((?:TARGET|BUILD)(?:PLATFORM|OS|ARCH|VARIANT))\s*=`)
	for _, m := range re.FindAllStringSubmatch(readFile(t, dockerfilePath), -1) {
		t.Errorf("%s: ARG %s has a default; buildx would use it for every platform (declare it bare)", dockerfilePath, m[1])
	}
	if !regexp.MustCompile(`(?m)^ARG\s+TARGETARCH\s*$`).MatchString(readFile(t, dockerfilePath)) {
		t.Errorf("%s: the plugin stage no longer declares ARG TARGETARCH", dockerfilePath)
	}
}
