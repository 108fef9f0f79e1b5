# Pinned versions and shared paths of the local test cluster. Sourced by every script here.
# Changing a version changes the cache key, so the next cluster-up rebuilds just that part.
KUBE_VERSION=v1.34.4
KUBE_STAGING_VERSION=v0.34.4
COREDNS_VERSION=v1.14.0
VERSITYGW_VERSION=v1.8.0
PROVISIONER_LIB_VERSION=v11.0.1
DEBIAN_SUITE=bookworm
# Bump IMAGE_REV when the image recipe (build-image.sh) changes.
IMAGE_REV=1
PG_IMAGE=localhost/kubectl-pgbackrest/postgres:15-pgbackrest-r${IMAGE_REV}
PAUSE_IMAGE=registry.k8s.io/pause:3.10
VERSITYGW_IMAGE=localhost/kubectl-pgbackrest/versitygw:${VERSITYGW_VERSION}

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
