package release

import (
	"slices"
	"strconv"
	"testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// The images the workflow publishes for a tag are the code's default images of that version: a
// postgres image for exactly the PostgreSQL majors create accepts, each tagged as the plugin of
// that version names it, and the plugin image.
func TestReleaseImagesAreTheCodesDefaults(t *testing.T) {
	var built []int
	for _, img := range builtImages(t, loadWorkflow(t)) {
		switch img.Target {
		case "postgres":
			major, err := strconv.Atoi(img.BuildArgs["PG_MAJOR"])
			if err != nil {
				t.Fatalf("%s: PG_MAJOR=%q: %v", img.Name, img.BuildArgs["PG_MAJOR"], err)
			}
			built = append(built, major)
			if want := cluster.ImageFor(major, testVersion); img.Ref != want {
				t.Errorf("%s: pushes %s; kubectl pgbackrest %s creates PostgreSQL %d clusters from %s",
					img.Name, img.Ref, testVersion, major, want)
			}
		case "plugin":
			if want := cluster.PluginImageFor(testVersion); img.Ref != want {
				t.Errorf("%s: pushes %s; the code's plugin image of %s is %s", img.Name, img.Ref, testVersion, want)
			}
		}
	}
	slices.Sort(built)
	accepted := slices.Sorted(slices.Values(cluster.SupportedPGVersions))
	if !slices.Equal(built, accepted) {
		t.Errorf("the workflow builds PostgreSQL %v; create --pg-version accepts %v", built, accepted)
	}
}
