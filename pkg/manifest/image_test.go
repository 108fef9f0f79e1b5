package manifest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Every pod the plugin makes runs the pinned digest with the cluster's pull Secrets.
func TestEveryPodRunsThePinnedImage(t *testing.T) {
	spec := testSpec(t, "local,s3")
	spec.Image = "registry.lab:5000/pg/postgres:17"
	spec.ImageDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	spec.ImagePullSecrets = []string{"lab-pull", "other"}
	want := "registry.lab:5000/pg/postgres@" + spec.ImageDigest
	pods := map[string]corev1.PodSpec{
		"primary":   PrimaryDeployment(spec).Spec.Template.Spec,
		"repo host": RepoHostDeployment(spec, "conf").Spec.Template.Spec,
		"restore":   RestoreJob(spec, "20260102030405", "pg1-x", []string{"pgbackrest", "restore"}).Spec.Template.Spec,
	}
	for what, p := range pods {
		for _, c := range append(p.InitContainers, p.Containers...) {
			if c.Image != want || c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("%s container %s: image %q (%s), want %q (IfNotPresent)", what, c.Name, c.Image, c.ImagePullPolicy, want)
			}
		}
		if len(p.ImagePullSecrets) != 2 || p.ImagePullSecrets[0].Name != "lab-pull" || p.ImagePullSecrets[1].Name != "other" {
			t.Errorf("%s imagePullSecrets = %v, want lab-pull, other", what, p.ImagePullSecrets)
		}
	}
}

// The probe runs the image asked for (not yet the pin) with the cluster's pull Secrets, as a
// restricted pod that never retries.
func TestImageProbeJob(t *testing.T) {
	spec := testSpec(t, "local")
	spec.ImagePullSecrets = []string{"lab-pull"}
	j := ImageProbeJob(spec, "pg1-image-probe", "reg/pg:17-new")
	p := j.Spec.Template.Spec
	if p.Containers[0].Image != "reg/pg:17-new" || len(p.ImagePullSecrets) != 1 || p.ImagePullSecrets[0].Name != "lab-pull" ||
		p.RestartPolicy != corev1.RestartPolicyNever || *j.Spec.BackoffLimit != 0 || p.SecurityContext == nil || !*p.SecurityContext.RunAsNonRoot {
		t.Errorf("probe Job pod: %+v", p)
	}
}
