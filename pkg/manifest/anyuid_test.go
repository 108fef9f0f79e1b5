package manifest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// anyUIDSpec is a cluster created in an OpenShift project (create's PodUser).
func anyUIDSpec(t *testing.T, storage string) *cluster.Spec {
	t.Helper()
	s := testSpec(t, storage)
	s.RunAsUser, s.FSGroup = 1000680000, 1000690000
	return s
}

// pods are the pod specs of every pod the plugin makes for s: primary, repository host, restore Job.
func pods(t *testing.T, s *cluster.Spec) map[string]corev1.PodSpec {
	t.Helper()
	_, repo := configs(t, s)
	args := []string{"pgbackrest", "--stanza=db", "--repo=1", "restore"}
	return map[string]corev1.PodSpec{
		"primary":    PrimaryDeployment(s).Spec.Template.Spec,
		"repository": RepoHostDeployment(s, repo).Spec.Template.Spec,
		"restore":    RestoreJob(s, "20250102030405", "pg1-20250102030405", args).Spec.Template.Spec,
	}
}

func env(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// The image's user: 999:999 with fsGroup 999 and the commands as they always were, no nss_wrapper.
func TestPodsRunAsImageUser(t *testing.T) {
	for _, storage := range []string{"local", "s3"} {
		for role, p := range pods(t, testSpec(t, storage)) {
			sc := p.SecurityContext
			if *sc.RunAsUser != 999 || sc.RunAsGroup == nil || *sc.RunAsGroup != 999 || *sc.FSGroup != 999 || !*sc.RunAsNonRoot {
				t.Errorf("%s %s: security context %+v", storage, role, sc)
			}
			for _, c := range p.Containers {
				if _, ok := env(c)["LD_PRELOAD"]; ok {
					t.Errorf("%s %s/%s preloads nss_wrapper for the image's own user", storage, role, c.Name)
				}
				if strings.Contains(strings.Join(c.Command, " "), "NSS_WRAPPER") {
					t.Errorf("%s %s/%s command writes a passwd file for the image's own user", storage, role, c.Name)
				}
			}
		}
	}
}

// Any other uid: every pod runs as it with the spec's fsGroup and no runAsGroup (gid 0), and
// every container preloads nss_wrapper with files of its own that its command writes first, then
// runs what it ran before.
func TestPodsRunAsAnyUID(t *testing.T) {
	for _, storage := range []string{"local", "s3", "local,s3"} {
		plain := pods(t, testSpec(t, storage))
		for role, p := range pods(t, anyUIDSpec(t, storage)) {
			sc := p.SecurityContext
			if *sc.RunAsUser != 1000680000 || *sc.FSGroup != 1000690000 || sc.RunAsGroup != nil || !*sc.RunAsNonRoot ||
				sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s %s: security context %+v", storage, role, sc)
			}
			for i, c := range p.Containers {
				e := env(c)
				dir := "/tmp/nss_wrapper/" + c.Name
				if e["LD_PRELOAD"] != "libnss_wrapper.so" || e["NSS_WRAPPER_PASSWD"] != dir+"/passwd" || e["NSS_WRAPPER_GROUP"] != dir+"/group" {
					t.Errorf("%s %s/%s env %v", storage, role, c.Name, e)
				}
				if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" && m.Name == volTmp }) {
					t.Errorf("%s %s/%s has no /tmp emptyDir for its passwd file", storage, role, c.Name)
				}
				want := append([]string{"/bin/sh", "-c", passwdScript + "exec \"$@\"\n", "sh"}, plain[role].Containers[i].Command...)
				if !slices.Equal(c.Command, want) {
					t.Errorf("%s %s/%s command %q, want the passwd script then %q", storage, role, c.Name, c.Command, plain[role].Containers[i].Command)
				}
			}
		}
	}
}

// The whole of the pods of an OpenShift project's cluster, for review.
func TestGoldenAnyUID(t *testing.T) {
	s := anyUIDSpec(t, "local")
	_, repo := configs(t, s)
	got := toYAML(t, []runtime.Object{PrimaryDeployment(s), RepoHostDeployment(s, repo),
		RestoreJob(s, "20250102030405", "pg1-20250102030405", []string{"pgbackrest", "--stanza=db", "--repo=1", "restore"})})
	path := filepath.Join("testdata", "anyuid.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/manifest -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs; if the change is intended, run go test ./pkg/manifest -update\n%s", path, firstDiff(string(want), string(got)))
	}
}

// fakeID is an id(1) for a uid without a passwd entry: -un answers once the nss_wrapper files
// name the uid (as nss_wrapper would), or never when nss is "missing".
const fakeID = `#!/bin/sh
uid=1000680000
case "$1" in
-u) echo $uid ;;
-g) echo 0 ;;
-G) echo "0 1000690000" ;;
-un)
  [ "$FAKE_NSS" = missing ] && exit 1
  [ -n "$FAKE_KNOWN" ] && { echo known; exit 0; }
  name=$(grep "^[^:]*:[^:]*:$uid:" "$NSS_WRAPPER_PASSWD" 2>/dev/null | head -n1 | cut -d: -f1)
  [ -n "$name" ] || exit 1
  echo "$name" ;;
esac
`

// runWrapped runs the container command of withPasswd around `id -un; echo ran` with fakeID.
func runWrapped(t *testing.T, extraEnv ...string) (dir, out string, err error) {
	t.Helper()
	dir = t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "id"), []byte(fakeID), 0o755); err != nil {
		t.Fatal(err)
	}
	c := corev1.Container{Name: "postgres", Command: []string{"/bin/sh", "-c", `echo "ran as $(id -un)"`}}
	withPasswd(anyUIDSpec(t, "local"), &c)
	cmd := exec.Command(c.Command[0], c.Command[1:]...)
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin",
		"NSS_WRAPPER_PASSWD=" + filepath.Join(dir, "nss", "postgres", "passwd"),
		"NSS_WRAPPER_GROUP=" + filepath.Join(dir, "nss", "postgres", "group")}
	cmd.Env = append(cmd.Env, extraEnv...)
	b, err := cmd.CombinedOutput()
	return dir, string(b), err
}

func TestPasswdScript(t *testing.T) {
	dir, out, err := runWrapped(t)
	if err != nil || out != "ran as postgres\n" {
		t.Fatalf("wrapped command: %v\n%s", err, out)
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "nss", "postgres", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(passwd)), "\n")
	if lines[0] != "postgres:x:1000680000:0:PostgreSQL:/var/lib/postgresql:/bin/sh" {
		t.Errorf("first passwd line %q", lines[0])
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "postgres:") {
			t.Errorf("the image's postgres entry is still there: %q", l)
		}
	}
	if !slices.Contains(lines, "root:x:0:0:root:/root:/bin/bash") && !strings.Contains(string(passwd), "\nroot:") {
		t.Errorf("the image's other users are missing:\n%s", passwd)
	}
	group, err := os.ReadFile(filepath.Join(dir, "nss", "postgres", "group"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(group), "\ngroup1000690000:x:1000690000:\n") || strings.Contains(string(group), "group0:") {
		t.Errorf("group file: the fsGroup has no entry, or root's group got a second one:\n%s", group)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "nss", "postgres", "*.new")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// A uid the image knows writes nothing.
func TestPasswdScriptKnownUser(t *testing.T) {
	dir, out, err := runWrapped(t, "FAKE_KNOWN=1")
	if err != nil || out != "ran as known\n" {
		t.Fatalf("wrapped command: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "nss")); !os.IsNotExist(err) {
		t.Errorf("passwd files written for a known uid: %v", err)
	}
}

// An image without nss_wrapper stops the container before the command, saying why.
func TestPasswdScriptWithoutNSSWrapper(t *testing.T) {
	_, out, err := runWrapped(t, "FAKE_NSS=missing")
	if err == nil || strings.Contains(out, "ran as") || !strings.Contains(out, "uid 1000680000 has no passwd entry") ||
		!strings.Contains(out, "nss_wrapper") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}
