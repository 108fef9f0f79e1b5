package manifest

import (
	"path"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// Any uid (docs/openshift.md): OpenShift's restricted SCCs admit only a uid and fsGroup of the
// namespace's ranges, so a cluster may run as a uid the image does not know. Such a uid runs with
// gid 0 (no runAsGroup: the runtime gives a uid without a passwd entry group 0, as OpenShift
// does, and the image's paths are group-0 writable) and gets its passwd entry from nss_wrapper.

// NSSWrapperDir holds each container's passwd and group files (in its own subdirectory) when its
// uid has no passwd entry in the image: on the /tmp emptyDir, the one place the read-only root
// filesystem lets a start script write.
const NSSWrapperDir = "/tmp/nss_wrapper"

// NSSWrapperLibrary is preloaded (by name: the dynamic loader finds it in the image's library
// path) in a container whose uid is not the image's postgres user.
const NSSWrapperLibrary = "libnss_wrapper.so"

// podSecurityContext is the one place that says who a cluster's pods run as: the spec's uid and
// fsGroup; the image's 999:999 by default.
func podSecurityContext(spec *cluster.Spec) *corev1.PodSecurityContext {
	u := spec.PodUser()
	sc := &corev1.PodSecurityContext{
		RunAsNonRoot: ptr(true),
		RunAsUser:    ptr(u.RunAsUser),
		// fsGroup makes the volumes writable by the uid whoever provisioned them, and the TLS
		// Secret's files readable (commonVolumes).
		FSGroup:             ptr(u.FSGroup),
		FSGroupChangePolicy: ptr(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if u.Default() {
		sc.RunAsGroup = ptr(int64(PostgresUID))
	}
	return sc
}

// withPasswd gives a container whose uid is not the image's postgres user a passwd entry, named
// postgres: initdb names the database superuser after the OS user, peer authentication (psql -U
// postgres over the socket) needs the names to match, and psql and pgBackRest look the user up.
// The environment preloads nss_wrapper, so every process of the container has the entry,
// including what the plugin and users run with kubectl exec and the probes; the command first
// writes the files the environment names (passwdScript). The image's 999 pods are left exactly
// as they were.
func withPasswd(spec *cluster.Spec, c *corev1.Container) {
	if spec.PodUser().Default() {
		return
	}
	dir := path.Join(NSSWrapperDir, c.Name)
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "LD_PRELOAD", Value: NSSWrapperLibrary},
		corev1.EnvVar{Name: "NSS_WRAPPER_PASSWD", Value: path.Join(dir, "passwd")},
		corev1.EnvVar{Name: "NSS_WRAPPER_GROUP", Value: path.Join(dir, "group")},
	)
	c.Command = append([]string{"/bin/sh", "-c", passwdScript + `exec "$@"` + "\n", "sh"}, c.Command...)
}

// passwdScript writes the passwd and group files of NSS_WRAPPER_PASSWD and NSS_WRAPPER_GROUP
// when the running uid has no entry (id -un fails), each by rename so that no process reads a
// half-written file: the image's users without its postgres (whose name the running uid takes),
// and a group for each of the process's groups the image lacks (the fsGroup). A container that
// restarts finds them in place. It fails, saying why, when the entry still cannot be found: an
// image without nss_wrapper. Its lookups before the files exist are quiet: nss_wrapper logs every
// lookup that cannot open them.
const passwdScript = `if ! id -un >/dev/null 2>&1; then
  uid=$(id -u 2>/dev/null) gid=$(id -g 2>/dev/null)
  mkdir -p "${NSS_WRAPPER_PASSWD%/*}" "${NSS_WRAPPER_GROUP%/*}" || exit 1
  { echo "postgres:x:$uid:$gid:PostgreSQL:/var/lib/postgresql:/bin/sh"; grep -v '^postgres:' /etc/passwd; } >"$NSS_WRAPPER_PASSWD.new" &&
    mv -f "$NSS_WRAPPER_PASSWD.new" "$NSS_WRAPPER_PASSWD" || exit 1
  { cat /etc/group
    for g in $(id -G 2>/dev/null); do
      grep -q "^[^:]*:[^:]*:$g:" /etc/group || echo "group$g:x:$g:"
    done
  } >"$NSS_WRAPPER_GROUP.new" && mv -f "$NSS_WRAPPER_GROUP.new" "$NSS_WRAPPER_GROUP" || exit 1
  if ! id -un >/dev/null 2>&1; then
    echo "uid $uid has no passwd entry in this image, and nss_wrapper (LD_PRELOAD=$LD_PRELOAD) did not give it one: an image for any uid needs libnss_wrapper.so (docs/image.md)" >&2
    exit 1
  fi
fi
`
