#!/usr/bin/env bash
# pack-image.sh ROOTFS IMAGE_REF OUT.tar [ENV...]: packs a directory as a one-layer docker-archive
# (manifest.json + config + layer), the format `ctr images import` and `docker load` read.
# PACK_CMD is the image's command as a JSON array (default ["/bin/sh"]).
set -euo pipefail
rootfs=$1 ref=$2 out=$3; shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar --numeric-owner --xattrs -C "$rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
cmd_json=${PACK_CMD:-'["/bin/sh"]'}
env_json=""
for e in "$@"; do env_json+="${env_json:+,}\"$e\""; done
cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":[${env_json}],"Cmd":${cmd_json}},"rootfs":{"type":"layers","diff_ids":["sha256:${diff_id}"]}}
JSON
cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$cfg.json"
mv "$work/layer.tar" "$work/$diff_id.tar"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s.tar"]}]\n' "$cfg" "$ref" "$diff_id" >"$work/manifest.json"
tar -C "$work" -cf "$out.tmp" manifest.json "$cfg.json" "$diff_id.tar"
mv "$out.tmp" "$out"
