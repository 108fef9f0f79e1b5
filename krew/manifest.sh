#!/usr/bin/env bash
# manifest.sh TEMPLATE OUT: writes the krew plugin manifest OUT from TEMPLATE, filling in the
# version (@VERSION@) and one platform entry per archive listed in $DIST_DIR/checksums.txt
# (@PLATFORMS@), each with its release URL and sha256. Called by `make krew` (krew/release.mk).
#
# krew needs a semver with a leading v: a VERSION like 0.1.0 becomes v0.1.0; one that is no semver
# at all (a bare commit, "dev") becomes v0.0.0-dev+<commit>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tmpl=${1:?usage: manifest.sh TEMPLATE OUT}
out=${2:?usage: manifest.sh TEMPLATE OUT}
: "${RELEASE_VERSION:?set by krew/release.mk}"
DIST_DIR=${DIST_DIR:-dist}
RELEASE_COMMIT=${RELEASE_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
RELEASE_URL=${RELEASE_URL:-https://github.com/kubectl-pgbackrest/kubectl-pgbackrest/releases/download}
BIN=kubectl-pgbackrest

log() { printf 'krew: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
if [[ $RELEASE_VERSION =~ $semver ]]; then
  version=$RELEASE_VERSION
elif [[ v$RELEASE_VERSION =~ $semver ]]; then
  version=v$RELEASE_VERSION
else
  version=v0.0.0-dev+$(printf '%s' "$RELEASE_COMMIT" | tr -c '0-9A-Za-z.\n-' '.')
  log "VERSION $RELEASE_VERSION is not a semver; the manifest says $version"
fi

sums=$DIST_DIR/checksums.txt
[ -s "$sums" ] || die "$sums is missing: run make dist first"

platforms=$(mktemp)
trap 'rm -f "$platforms" "$out.tmp"' EXIT
n=0
while read -r sha file; do
  file=${file#\*}
  [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "bad sha256 line in $sums: $sha $file"
  [ -f "$DIST_DIR/$file" ] || die "$sums lists $file, which is not in $DIST_DIR"
  osarch=${file#"${BIN}_"}
  osarch=${osarch%.tar.gz}
  osarch=${osarch%.zip}
  os=${osarch%_*} arch=${osarch#*_}
  exe=$BIN
  shim=
  if [ "$os" = windows ]; then
    exe=$BIN.exe
  else
    shim=$'\n    - from: kubectl_complete-pgbackrest\n      to: .'
  fi
  cat >>"$platforms" <<ENTRY
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $RELEASE_URL/$version/$file
    sha256: $sha
    files:
    - from: $exe
      to: .
    - from: LICENSE
      to: .$shim
    bin: $exe
ENTRY
  n=$((n + 1))
done <"$sums"
[ "$n" -gt 0 ] || die "$sums lists no archive"

# Drop the template's leading comment; fill in the version and the platform entries.
awk -v version="$version" -v platforms="$platforms" '
  !body && /^#/ { next }
  { body = 1 }
  /^@PLATFORMS@$/ { while ((getline line < platforms) > 0) print line; next }
  { gsub(/@VERSION@/, version); print }
' "$tmpl" >"$out.tmp"

if grep -n '@[A-Z_]*@' "$out.tmp" >&2; then die "placeholders left in $out"; fi
long=$(awk 'length > 80 && !/https?:\/\// { print FILENAME ":" FNR ": " length " columns" }' "$out.tmp")
[ -z "$long" ] || die "lines wider than 80 columns (wrap the template): $long"
short=$(sed -n 's/^  shortDescription: //p' "$out.tmp")
[ "${#short}" -le 50 ] || die "shortDescription is ${#short} characters; krew-index wants at most 50"

mv "$out.tmp" "$out"
log "wrote $out (version $version, $n platforms)"
