#!/usr/bin/env bash
# Builds the release archives into $DIST_DIR (default dist/): one per platform, each holding the
# kubectl-pgbackrest binary (.exe on windows), LICENSE and, on unix, the completion shim
# kubectl_complete-pgbackrest; then $DIST_DIR/checksums.txt (sha256sum format).
# Called by `make dist` (krew/release.mk), which sets the environment below.
#
# Reproducible: CGO_ENABLED=0, -trimpath and -buildvcs=false for the binaries (the version is in
# -ldflags; go build stamps git's revision, time and dirtiness by default in a clone, not in a
# linked worktree or an unpacked tarball, so the same commit would give different bytes); archive
# members sorted, owned by 0:0, with normalised modes and SOURCE_DATE_EPOCH as their mtime; gzip -n
# (no name, no time); zip -X -D (no extra attributes, no directory entries) with TZ=UTC so the DOS
# times do not depend on the host.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

: "${RELEASE_VERSION:?set by krew/release.mk}"
: "${RELEASE_LDFLAGS:?set by krew/release.mk}"
: "${SOURCE_DATE_EPOCH:?set by krew/release.mk (the last commit time)}"
DIST_DIR=${DIST_DIR:-dist}
DIST_PLATFORMS=${DIST_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
LICENSE_FILE=${LICENSE_FILE:-LICENSE}
GO=${GO:-go}
BIN=kubectl-pgbackrest
SHIM=plugins/kubectl_complete-pgbackrest

log() { printf 'dist: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$LICENSE_FILE" ] || die "$LICENSE_FILE is missing: every archive must carry the license"
[ -f "$SHIM" ] || die "$SHIM is missing"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed (--sort=name); on macOS use gtar"
command -v zip >/dev/null || die "zip is needed for the windows archive (apt-get install zip)"
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$@"; }; else sha256() { shasum -a 256 "$@"; }; fi

mkdir -p "$DIST_DIR"
out=$(cd "$DIST_DIR" && pwd)
rm -f "$out/$BIN"_*.tar.gz "$out/$BIN"_*.zip "$out/checksums.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

archives=()
for platform in $DIST_PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  stage=$work/${os}_${arch}
  mkdir -p "$stage"
  exe=$BIN
  [ "$os" = windows ] && exe=$BIN.exe
  log "building $platform ($RELEASE_VERSION)"
  build() {
    GOOS=$os GOARCH=$arch CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -ldflags "$RELEASE_LDFLAGS" \
      -o "$stage/$exe" ./cmd/kubectl-pgbackrest
  }
  # One retry: with other builds sharing the Go build cache, a build sometimes fails with
  # "could not import X (open : no such file or directory)" and passes when run again.
  build || { log "building $platform failed; retrying once"; build; }
  chmod 0755 "$stage/$exe"
  install -m 0644 "$LICENSE_FILE" "$stage/LICENSE"
  files=("$exe" LICENSE)
  if [ "$os" != windows ]; then
    install -m 0755 "$SHIM" "$stage/kubectl_complete-pgbackrest"
    files+=(kubectl_complete-pgbackrest)
  fi
  name=${BIN}_${os}_${arch}
  if [ "$os" = windows ]; then
    archive=$name.zip
    (
      cd "$stage"
      TZ=UTC touch -d "@$SOURCE_DATE_EPOCH" "${files[@]}"
      # zip adds members in the order given: sort them, as tar does.
      printf '%s\n' "${files[@]}" | LC_ALL=C sort | TZ=UTC zip -q -X -D "$out/$archive" -@
    )
  else
    archive=$name.tar.gz
    tar -C "$stage" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
      --mode='u+rwX,go+rX,go-w' --format=gnu -cf - "${files[@]}" | gzip -9 -n >"$out/$archive"
  fi
  archives+=("$archive")
  log "wrote $DIST_DIR/$archive"
done

(cd "$out" && sha256 "${archives[@]}" >checksums.txt)
log "wrote $DIST_DIR/checksums.txt"
cat "$out/checksums.txt"
