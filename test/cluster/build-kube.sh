#!/usr/bin/env bash
# Builds the Kubernetes components from the Go module proxy into $BIN_CACHE/kube-$KUBE_VERSION.
# `go install k8s.io/kubernetes/cmd/...` is refused (its go.mod replaces k8s.io/* with ./staging),
# so a throwaway build module requires k8s.io/kubernetes and pins every staging module instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

out=$BIN_CACHE/kube-$KUBE_VERSION
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
missing=()
for c in "${components[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then log "kubernetes $KUBE_VERSION: cached"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init kubebuild >/dev/null 2>&1
go mod edit -go=1.24 -require=k8s.io/kubernetes@$KUBE_VERSION
modfile=$(GOFLAGS=-mod=mod go mod download -json k8s.io/kubernetes@$KUBE_VERSION | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging/ {print $1}' "$modfile"); do
  go mod edit -replace="$m=$m@$KUBE_STAGING_VERSION"
done
printf 'package main\nimport (\n' > tools.go
for c in "${components[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >> tools.go; done
printf ')\nfunc main() {}\n' >> tools.go
GOFLAGS=-mod=mod go mod tidy >/dev/null

major=${KUBE_VERSION#v}; minor=${major#*.}; major=${major%%.*}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
mkdir -p "$out.tmp"
for c in "${missing[@]}"; do
  start=$SECONDS
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp/$c" "k8s.io/kubernetes/cmd/$c"
  log "built $c ($((SECONDS - start))s)"
done
mkdir -p "$out"
mv "$out.tmp"/* "$out/" && rmdir "$out.tmp"
