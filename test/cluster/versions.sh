# Pinned versions and shared paths of the local test cluster. Sourced by every script here.
# Changing a version changes the cache key, so the next cluster-up rebuilds just that part.
KUBE_VERSION=v1.34.4
KUBE_STAGING_VERSION=v0.34.4
COREDNS_VERSION=v1.14.0
VERSITYGW_VERSION=v1.8.0
PROVISIONER_LIB_VERSION=v11.0.1
DISTRIBUTION_VERSION=v3.1.2
# The PostgreSQL majors the image recipe (manifests/image/Dockerfile) is built for; its archives
# are keyed by a hash of the Dockerfile, so a changed recipe rebuilds by itself.
PG_MAJORS="15 17"
# Bump BASE_REV when the debootstrap base (build-image.sh base) changes.
BASE_REV=1
# The lab's stable tags of the PostgreSQL images, pulled through containerd's mirror for ghcr.io
# (registry.sh); the probes use the newest major.
LAB_IMAGE_15=ghcr.io/kubectl-pgbackrest/postgres:15-lab
LAB_IMAGE_17=ghcr.io/kubectl-pgbackrest/postgres:17-lab
PG_IMAGE=$LAB_IMAGE_17
PAUSE_IMAGE=registry.k8s.io/pause:3.10

PGBR_CACHE_DIR=${PGBR_CACHE_DIR:-$HOME/.cache/kubectl-pgbackrest}
PGBR_CLUSTER_DIR=${PGBR_CLUSTER_DIR:-$PGBR_CACHE_DIR/cluster}
BIN_CACHE=$PGBR_CACHE_DIR/bin
IMAGE_CACHE=$PGBR_CACHE_DIR/images

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# phase NAME CMD...: runs one phase and prints how long it took. Called outside any `||`, so that
# errexit still applies inside the phase's functions; the ERR trap names the phase that failed.
phase() {
  local start=$SECONDS
  CURRENT_PHASE=$1; shift
  log "… $CURRENT_PHASE"
  "$@"
  log "✓ $CURRENT_PHASE ($((SECONDS - start))s)"
  CURRENT_PHASE=
}
CURRENT_PHASE=
set -E
trap '[ -n "$CURRENT_PHASE" ] && log "✗ $CURRENT_PHASE failed (logs: ${LOGS:-$PGBR_CLUSTER_DIR/logs})"; CURRENT_PHASE=' ERR
