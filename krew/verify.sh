#!/usr/bin/env bash
# verify.sh MANIFEST: proves the krew manifest with krew itself, offline. Called by
# `make krew-verify` (krew/release.mk) after `make dist` and `make krew`.
#  1. installs krew and validate-krew-manifest (pinned, cached in $KREW_TOOLS_DIR) and links krew as
#     kubectl-krew on a temporary PATH directory, so `kubectl krew` works;
#  2. runs krew's validator on the manifest (structure, semver, sha256, selectors, no overlaps);
#  3. for every platform, does what the validator's own install test does — `kubectl krew install`
#     into a fresh KREW_ROOT with KREW_OS/KREW_ARCH set, checking LICENSE is installed — but from the
#     archive in dist/ (--archive) instead of the release URL, which does not exist before a release;
#  4. on this machine's platform, runs `kubectl pgbackrest version` through the krew-installed
#     plugin and checks it prints $RELEASE_VERSION.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

manifest=${1:-krew/pgbackrest.yaml}
: "${RELEASE_VERSION:?set by krew/release.mk}"
DIST_DIR=${DIST_DIR:-dist}
KREW_TOOLS_VERSION=${KREW_TOOLS_VERSION:-v0.4.3}
KREW_TOOLS_DIR=${KREW_TOOLS_DIR:-$HOME/.cache/kubectl-pgbackrest/tools/krew-$KREW_TOOLS_VERSION}
BIN=kubectl-pgbackrest

log() { printf 'krew-verify: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$manifest" ] || die "$manifest is missing: run make krew first"
command -v kubectl >/dev/null || die "kubectl is needed on PATH"

if [ ! -x "$KREW_TOOLS_DIR/krew" ] || [ ! -x "$KREW_TOOLS_DIR/validate-krew-manifest" ]; then
  log "installing krew and validate-krew-manifest $KREW_TOOLS_VERSION into $KREW_TOOLS_DIR"
  mkdir -p "$KREW_TOOLS_DIR"
  GOBIN=$KREW_TOOLS_DIR go install \
    "sigs.k8s.io/krew/cmd/krew@$KREW_TOOLS_VERSION" \
    "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_TOOLS_VERSION"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/path"
ln -s "$KREW_TOOLS_DIR/krew" "$tmp/path/kubectl-krew"
# No ambient krew state: every krew command below gets its own KREW_ROOT.
unset KREW_ROOT KREW_OS KREW_ARCH
export PATH="$tmp/path:$PATH"
KREW_ROOT=$tmp/root-probe kubectl krew version >/dev/null 2>&1 || die "kubectl does not find the krew plugin at $tmp/path/kubectl-krew"

log "validate-krew-manifest -manifest $manifest"
# -skip-install: its install test downloads each platform's release URL; step 3 does the same
# install from the local archives instead.
"$KREW_TOOLS_DIR/validate-krew-manifest" -manifest "$manifest" -skip-install >"$tmp/validate.log" 2>&1 ||
  { cat "$tmp/validate.log" >&2; die "validate-krew-manifest refused $manifest"; }

host_os=$(go env GOHOSTOS)
host_arch=$(go env GOHOSTARCH)
host_root=
while read -r _ file; do
  file=${file#\*}
  osarch=${file#"${BIN}_"}
  osarch=${osarch%.tar.gz}
  osarch=${osarch%.zip}
  os=${osarch%_*} arch=${osarch#*_}
  krew_root=$tmp/root-${os}_$arch
  KREW_ROOT=$krew_root KREW_OS=$os KREW_ARCH=$arch kubectl krew install \
    --manifest="$manifest" --archive="$DIST_DIR/$file" </dev/null >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; die "kubectl krew install of $file ($os/$arch) failed"; }
  license=$(find "$krew_root/store/pgbackrest" -type f -name LICENSE | head -1)
  [ -n "$license" ] || die "$file ($os/$arch): LICENSE is not installed"
  exe=$BIN
  [ "$os" = windows ] && exe=$BIN.exe
  [ -e "$krew_root/bin/$exe" ] || die "$file ($os/$arch): krew did not link $exe into \$KREW_ROOT/bin"
  log "✓ $os/$arch: kubectl krew install --archive=$DIST_DIR/$file"
  if [ "$os" = "$host_os" ] && [ "$arch" = "$host_arch" ]; then host_root=$krew_root; fi
done <"$DIST_DIR/checksums.txt"

[ -n "$host_root" ] || die "no archive for this machine ($host_os/$host_arch) in $DIST_DIR/checksums.txt"
export KREW_ROOT=$host_root
export PATH="$KREW_ROOT/bin:$PATH"
found=$(command -v "$BIN")
[ "$found" = "$KREW_ROOT/bin/$BIN" ] || die "kubectl would run $found, not the krew-installed plugin"
# krew writes its receipt last, once the install is complete (`kubectl krew list` would need an index).
[ -s "$KREW_ROOT/receipts/pgbackrest.yaml" ] || die "krew wrote no receipt for pgbackrest"
out=$(kubectl pgbackrest version 2>&1) || { printf '%s\n' "$out" >&2; die "kubectl pgbackrest version failed"; }
printf '%s\n' "$out" | grep -qF -- "$RELEASE_VERSION" ||
  { printf '%s\n' "$out" >&2; die "kubectl pgbackrest version does not print $RELEASE_VERSION"; }
log "✓ kubectl pgbackrest version (installed by krew): $(printf '%s' "$out" | head -1)"
log "✓ $manifest is valid and installs on every platform"
