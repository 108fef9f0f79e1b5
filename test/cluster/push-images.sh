#!/usr/bin/env bash
# push-images.sh REPOSITORY VERSION: pushes the images `make image` built (OCI archives in
# $IMAGE_CACHE) to REPOSITORY, tagged for plugin version VERSION, as the release names them:
#   REPOSITORY/postgres:<major>-VERSION     for every major of PG_MAJORS
#   REPOSITORY/kubectl-pgbackrest:VERSION   the plugin image
# e.g. `make image-push REGISTRY=registry.example.com/db` for a private mirror. skopeo's own
# credential lookup applies (`skopeo login`, or REGISTRY_AUTH_FILE); REGISTRY_CERT_DIR names a
# directory of CA files for a registry with a private CA. Blobs the registry has are not sent
# again, so pushing another tag of the same build is quick.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
repo=${1:?usage: push-images.sh REPOSITORY VERSION}
version=${2:?usage: push-images.sh REPOSITORY VERSION}
[[ $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}$ ]] || die "VERSION $version is not a valid image tag"
flags=(--quiet)
[ -n "${REGISTRY_AUTH_FILE:-}" ] && flags+=(--dest-authfile "$REGISTRY_AUTH_FILE")
[ -n "${REGISTRY_CERT_DIR:-}" ] && flags+=(--dest-cert-dir "$REGISTRY_CERT_DIR")
push() { # push ARCHIVE REF
  [ -s "$1" ] || die "no image archive $1: run make image first"
  skopeo copy "${flags[@]}" "oci-archive:$(readlink -f "$1")" "docker://$2"
  log "pushed $2"
}
for major in $PG_MAJORS; do
  push "$IMAGE_CACHE/postgres-$major.oci.tar" "$repo/postgres:$major-$version"
done
push "$IMAGE_CACHE/plugin.oci.tar" "$repo/kubectl-pgbackrest:$version"
