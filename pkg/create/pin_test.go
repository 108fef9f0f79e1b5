package create

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// assertPinned checks the stored spec and both Deployments run image's repository at digest.
func assertPinned(t *testing.T, cs *fake.Clientset, repo, digest string, pullSecrets ...string) {
	t.Helper()
	ctx := context.Background()
	spec, _, err := cluster.Get(ctx, cs, ns, "pg1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.ImageDigest != digest {
		t.Errorf("spec imageDigest = %q, want %q", spec.ImageDigest, digest)
	}
	for _, name := range []string{"pg1-backrest-shared-repo", "pg1"} {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != repo+"@"+digest {
				t.Errorf("Deployment %s container %s runs %q, want %s@%s", name, c.Name, c.Image, repo, digest)
			}
		}
		var got []string
		for _, r := range d.Spec.Template.Spec.ImagePullSecrets {
			got = append(got, r.Name)
		}
		if strings.Join(got, ",") != strings.Join(pullSecrets, ",") {
			t.Errorf("Deployment %s imagePullSecrets = %q, want %q", name, got, pullSecrets)
		}
	}
}

// The digest comes from the first pod's imageID, joined to the repository asked for (not the
// name containerd reports), and every pod ends up on it, the repository host included.
func TestCreatePinsTheFirstPodsDigest(t *testing.T) {
	cs := newClient(t)
	cfg := config(pgbackrest.Local)
	cfg.Image = "registry.lab:5000/pg/postgres:17"
	cfg.ImagePullSecrets = []string{"lab-pull"}
	if _, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil {
		t.Fatal(err)
	}
	assertPinned(t, cs, "registry.lab:5000/pg/postgres", fakeDigest(cfg.Image), "lab-pull")
}

// An image given by digest is its own pin.
func TestCreateWithADigestPinsIt(t *testing.T) {
	cs := newClient(t)
	cfg := config(pgbackrest.Local)
	d := "sha256:" + strings.Repeat("ab", 32)
	cfg.Image = "registry.lab:5000/pg/postgres:17@" + d
	if _, err := Run(context.Background(), deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil {
		t.Fatal(err)
	}
	assertPinned(t, cs, "registry.lab:5000/pg/postgres", d)
}

// A create interrupted after the pin was recorded and before the repository host was re-applied
// (or before the primary) still ends with every pod on the digest; a third run changes nothing.
func TestPinInterruptedThenResumed(t *testing.T) {
	for _, failAt := range []string{"pg1-backrest-shared-repo", "pg1"} {
		t.Run(failAt, func(t *testing.T) {
			ctx := context.Background()
			cs := newClient(t)
			// Fail the first apply of failAt that carries the digest.
			fired := false
			cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
				p := a.(k8stesting.PatchAction)
				if fired || p.GetName() != failAt || !strings.Contains(string(p.GetPatch()), "@sha256:") {
					return false, nil, nil
				}
				fired = true
				return true, nil, apierrors.NewInternalError(errors.New("injected"))
			})
			cfg := config(pgbackrest.Local)
			if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err == nil || !fired {
				t.Fatalf("first run: err %v, fault fired %v", err, fired)
			}
			spec, _, _ := cluster.Get(ctx, cs, ns, "pg1")
			if spec.ImageDigest == "" {
				t.Fatal("the pin was not recorded before the failure")
			}
			r := &reporter{}
			if _, err := Run(ctx, deps(cs, &fakeExec{}, r), cfg); err != nil {
				t.Fatalf("re-run: %v\n%s", err, strings.Join(r.lines, "\n"))
			}
			assertPinned(t, cs, "img", fakeDigest("img:1"))
			cs.ClearActions()
			if res, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil || res.Changed || len(writes(cs)) > 0 {
				t.Errorf("third run: err %v, changed %v, writes %q", err, res.Changed, writes(cs))
			}
		})
	}
}

// A node that knows the image only by its config ID (kind load, ctr import) gives nothing to pin:
// create warns, says how to pin it, records no digest and runs the tag.
func TestNoRegistryDigest(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	cfg := config(pgbackrest.Local)
	cfg.Image = "local/postgres:17"
	var warned []string
	d := deps(cs, &fakeExec{}, &reporter{})
	d.Warn = func(msg string) { warned = append(warned, msg) }
	if _, err := Run(ctx, d, cfg); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "not pinned") || !strings.Contains(warned[0], "repository@sha256:<digest>") {
		t.Errorf("warnings %q, want one saying the image is not pinned and how to pin it", warned)
	}
	if spec, _, _ := cluster.Get(ctx, cs, ns, "pg1"); spec.ImageDigest != "" {
		t.Errorf("digest %q recorded", spec.ImageDigest)
	}
	dep, _ := cs.AppsV1().Deployments(ns).Get(ctx, "pg1", metav1.GetOptions{})
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "local/postgres:17" {
		t.Errorf("primary runs %q, want the tag", got)
	}
}

// A create that never finished takes the --image-pull-secret given at the re-run (its pull needed
// them); a finished cluster keeps its own.
func TestPullSecretsAdoptedOnlyBeforeFinished(t *testing.T) {
	ctx := context.Background()
	cs := newClient(t)
	stuckPulls(cs, "registry.lab:5000/pg/postgres:17")
	cfg := config(pgbackrest.Local)
	cfg.Image = "registry.lab:5000/pg/postgres:17"
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err == nil {
		t.Fatal("first run succeeded despite the stuck pull")
	}
	cs.ReactionChain = cs.ReactionChain[1:] // the credentials fix the pull
	cfg.ImagePullSecrets = []string{"lab-pull"}
	if _, err := Run(ctx, deps(cs, &fakeExec{}, &reporter{}), cfg); err != nil {
		t.Fatal(err)
	}
	assertPinned(t, cs, "registry.lab:5000/pg/postgres", fakeDigest(cfg.Image), "lab-pull")
	cfg.ImagePullSecrets = []string{"other"}
	spec, _, err := Prepare(ctx, cs, cfg)
	if err != nil || strings.Join(spec.ImagePullSecrets, ",") != "lab-pull" {
		t.Errorf("Prepare on a finished cluster: pull secrets %q, err %v; want lab-pull kept", spec.ImagePullSecrets, err)
	}
}

// A missing pull Secret, or one that is not a registry credential, is a warning: it may be
// written by another tool meanwhile.
func TestPullSecretWarnings(t *testing.T) {
	cs := newClient(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "opaque", Namespace: ns}, Type: corev1.SecretTypeOpaque},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson})
	var warned []string
	d := deps(cs, &fakeExec{}, &reporter{})
	d.Warn = func(msg string) { warned = append(warned, msg) }
	cfg := config(pgbackrest.Local)
	cfg.ImagePullSecrets = []string{"good", "missing", "opaque"}
	if _, err := Run(context.Background(), d, cfg); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warned, "\n")
	if len(warned) != 2 || !strings.Contains(all, "Secret ns1/missing does not exist yet") || !strings.Contains(all, `Secret ns1/opaque has type "Opaque"`) {
		t.Errorf("warnings:\n%s\nwant one for missing and one for opaque", all)
	}
}
