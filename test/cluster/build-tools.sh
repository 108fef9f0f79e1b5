#!/usr/bin/env bash
# Builds the cluster's small host programs from Go modules into $BIN_CACHE (cached by version):
# CoreDNS, versitygw (the S3 server), the OCI registry, the project's hostPath provisioner, the
# NetworkPolicy enforcer and the pause program.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
mkdir -p "$BIN_CACHE"

# go_install MODULE@VERSION BINARY OUTPUT
go_install() {
  local out=$3
  [ -x "$out" ] && return 0
  local start=$SECONDS gobin
  gobin=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$gobin go install -trimpath -ldflags "-s -w" "$1"
  mv "$gobin/$2" "$out"
  rm -rf "$gobin"
  log "built $2 ($((SECONDS - start))s)"
}

go_install "github.com/coredns/coredns@$COREDNS_VERSION" coredns "$BIN_CACHE/coredns-$COREDNS_VERSION"
go_install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" versitygw "$BIN_CACHE/versitygw-$VERSITYGW_VERSION"
go_install "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION" registry "$BIN_CACHE/registry-$DISTRIBUTION_VERSION"

# The project's own programs are keyed by a hash of their source.
src_hash() { cat "$@" | sha256sum | cut -c1-12; }
prov_src=("$here"/provisioner/*.go "$here"/provisioner/go.mod "$here"/provisioner/go.sum)
prov=$BIN_CACHE/provisioner-$(src_hash "${prov_src[@]}")
if [ ! -x "$prov" ]; then
  (cd "$here/provisioner" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$prov" .)
  log "built provisioner"
fi
ln -sf "$prov" "$BIN_CACHE/provisioner"

# The NetworkPolicy enforcer: kube-network-policies (its version is in netpol/go.mod) behind a main
# of the project's own.
np_src=("$here"/netpol/main.go "$here"/netpol/go.mod "$here"/netpol/go.sum)
np=$BIN_CACHE/netpol-$(src_hash "${np_src[@]}")
if [ ! -x "$np" ]; then
  start=$SECONDS
  (cd "$here/netpol" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$np.tmp" . && mv "$np.tmp" "$np")
  log "built netpol ($((SECONDS - start))s)"
fi
ln -sf "$np" "$BIN_CACHE/netpol"

pause_tar=$IMAGE_CACHE/pause-$(src_hash "$here"/pause/main.go "$here"/pack-image.sh).tar
if [ ! -s "$pause_tar" ]; then
  mkdir -p "$IMAGE_CACHE"
  root=$(mktemp -d)
  (cd "$here/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$root/pause" main.go)
  PACK_CMD='["/pause"]' "$here/pack-image.sh" "$root" "$PAUSE_IMAGE" "$pause_tar"
  rm -rf "$root"
  log "built pause image"
fi
ln -sf "$pause_tar" "$IMAGE_CACHE/pause.tar"
