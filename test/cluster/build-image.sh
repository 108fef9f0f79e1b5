#!/usr/bin/env bash
# Builds the images of manifests/image/Dockerfile (the one recipe the release publishes) here, with
# no Docker engine and no outside registry: buildah (Debian's package) builds the Dockerfile, with a
# debootstrap rootfs of the same Debian suite as its base in place of debian:<suite>-slim.
#   build-image.sh postgres MAJOR   -> $IMAGE_CACHE/postgres-MAJOR.oci.tar (OCI archive, cached by
#                                      a hash of the Dockerfile and the base)
#   build-image.sh plugin BINDIR    -> $IMAGE_CACHE/plugin.oci.tar (BINDIR/linux-amd64/kubectl-pgbackrest)
# Prints the archive's path on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
recipe=$here/../../manifests/image/Dockerfile
mkdir -p "$IMAGE_CACHE"

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
security=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep security | head -1)
security=${security:-http://deb.debian.org/debian-security}

# base SUITE: a minbase rootfs with apt sources, packed as a docker-archive (what debian:SUITE-slim
# is, give or take the docs and locales slim strips).
base() {
  local suite=$1 out=$IMAGE_CACHE/base-$1-r$BASE_REV.tar
  if [ -s "$out" ]; then echo "$out"; return; fi
  local rootfs=$IMAGE_CACHE/rootfs-$suite.tmp
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  debootstrap --variant=minbase --include=passwd "$suite" "$rootfs" "$mirror" >"$IMAGE_CACHE/debootstrap-$suite.log" 2>&1 ||
    { tail -20 "$IMAGE_CACHE/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs/etc/resolv.conf"
  "$here/pack-image.sh" "$rootfs" "localhost/debian:$suite-slim" "$out.tmp" \
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "$rootfs"
  mv "$out.tmp" "$out"
  log "base debian:$suite-slim: $(du -h "$out" | cut -f1)"
  echo "$out"
}

# bud OUT ARGS...: one buildah build into an OCI archive, in a throwaway store (the archive is
# what is kept; layers are not reused between builds).
bud() {
  local out=$1; shift
  local store
  store=$(mktemp -d "$IMAGE_CACHE/buildah.XXXXXX")
  local b=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  # shellcheck disable=SC2064
  trap "${b[*]} rm -a >/dev/null 2>&1 || true; rm -rf '$store'" RETURN
  "${b[@]}" bud --isolation chroot --layers=false --format oci -f "$recipe" -t localhost/build "$@" >&2
  "${b[@]}" push localhost/build "oci-archive:$out.tmp" >&2
  mv "$out.tmp" "$out"
}

postgres() {
  local major=$1 suite
  case $major in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    *) die "no recipe for PostgreSQL $major here: 15 (bookworm) or 17 (trixie)" ;;
  esac
  local b key out
  b=$(base "$suite")
  key=$( { sha256sum "$recipe" | cut -d' ' -f1; basename "$b"; } | sha256sum | cut -c1-12)
  out=$IMAGE_CACHE/postgres-$major-$key.oci.tar
  if [ ! -s "$out" ]; then
    local start=$SECONDS
    bud "$out" --target postgres --build-arg "PG_MAJOR=$major" --build-arg "DEBIAN_SUITE=$suite" \
      --build-arg "BASE=docker-archive:$b" "$(dirname "$recipe")"
    log "image postgres $major ($suite): $(du -h "$out" | cut -f1), $((SECONDS - start))s"
  fi
  ln -sfn "$(basename "$out")" "$IMAGE_CACHE/postgres-$major.oci.tar"
  echo "$out"
}

plugin() {
  local dir=$1 out=$IMAGE_CACHE/plugin.oci.tar
  [ -x "$dir/linux-amd64/kubectl-pgbackrest" ] || die "no $dir/linux-amd64/kubectl-pgbackrest: make image-bin"
  bud "$out" --target plugin --platform linux/amd64 "$dir"
  echo "$out"
}

case ${1:-} in
  postgres) postgres "$2" ;;
  plugin) plugin "$2" ;;
  *) die "usage: build-image.sh postgres MAJOR | plugin BINDIR" ;;
esac
