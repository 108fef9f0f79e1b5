#!/usr/bin/env bash
# A diagnostic for the TLS failure of docs/architecture.md ("The local cluster's network"): what a
# pod's TLS connection to the Service range reaches when kube-proxy has not translated it, as for
# a Service made a moment ago or one that is just getting its first ready endpoint. It asks from
# the running probe-server pod at an address where no Service is. Without the node's fence
# (service_fence_up in common.sh) the connection leaves the node and this machine's egress proxy
# answers with its own certificate, the "[19] self-signed certificate in certificate chain" that
# pgBackRest reported; with the fence nothing answers. Exit 0 when nothing answers.
#   bash test/cluster/leak-check.sh
set -uo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
target=$SERVICE_UNUSED_IP:8432
# shellcheck disable=SC2016 # expanded in the pod
out=$(k -n pgbr-probe exec probe-server -- sh -c \
  'timeout 5 openssl s_client -connect "$1" </dev/null 2>&1 | grep -E "^(subject|issuer)=|Verify return code"' sh "$target" 2>/dev/null)
if [ -n "$out" ]; then
  log "a pod's TLS connection to $target, where no Service is, was answered:"
  sed 's/^/    /' <<<"$out" >&2
  log "what kube-proxy does not translate leaves the node: see service_fence_up in test/cluster/common.sh"
  exit 1
fi
log "nothing answers $target from a pod: untranslated Service traffic stays on the node"
