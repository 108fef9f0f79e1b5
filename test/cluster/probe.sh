#!/usr/bin/env bash
# The pod network's readiness probe, sourced by up.sh and runnable alone on a running cluster:
#   bash test/cluster/probe.sh          the cheap check, then the full probe if it fails
#   bash test/cluster/probe.sh --full   the full probe only
# The cluster is up only when a new pod resolves Service names through the cluster DNS and connects
# through Services (DNS, kube-proxy's rules, the EndpointSlice of a pod that just became ready, the
# bridge): what every test's first client does. Node Ready and the API's /readyz say nothing of it.
#
# NetworkPolicies must be enforced too (the netpol daemon, common.sh): a pod that the probe's policy
# does not admit must not connect.
#
# Objects, in namespace pgbr-probe (kept between runs, so a warm cluster's check is one exec):
#   Service probe:80 -> Pod probe-server, `nc -lk 8080` from the PostgreSQL image
#   NetworkPolicy probe: probe-server admits only pods labelled app=probe or app=probe-client
#   Pod probe-outsider (app=probe-outsider): sleeps; probe:80 must not answer it
#   Pod probe-client-*: a fresh pod that resolves and connects, then is deleted
if [ -z "${PGBR_CLUSTER_DIR:-}" ] || ! declare -F k >/dev/null; then
  . "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
fi

PROBE_NS=pgbr-probe
PROBE_SVC=probe.$PROBE_NS.svc.cluster.local
# How long a new pod may take to reach both Services before cluster-up gives up.
PROBE_TIMEOUT=${PROBE_TIMEOUT:-90}

probe_security='
  securityContext:
    runAsNonRoot: true
    runAsUser: 999
    runAsGroup: 999
    seccompProfile: {type: RuntimeDefault}'
probe_container_security='
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}'

probe_server() {
  local pod
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $PROBE_NS
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Service
metadata: {name: probe, namespace: $PROBE_NS}
spec:
  selector: {app: probe}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: probe, namespace: $PROBE_NS}
spec:
  podSelector: {matchLabels: {app: probe}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [probe, probe-client]}]}}]
    ports: [{port: 8080, protocol: TCP}]
YAML
  # A new namespace's pods are refused until its default ServiceAccount exists, which the
  # controller manager makes a moment after the namespace (a cold start's first namespace).
  wait_for 60 "ServiceAccount $PROBE_NS/default" k -n "$PROBE_NS" get serviceaccount default
  local outsider
  outsider=$(cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe-outsider, namespace: $PROBE_NS, labels: {app: probe-outsider}}
spec:$probe_security
  terminationGracePeriodSeconds: 1
  containers:
  - name: outsider
    image: $PG_IMAGE
    imagePullPolicy: IfNotPresent$probe_container_security
    command: [sleep, "2147483647"]
    resources: {requests: {cpu: 1m, memory: 4Mi}, limits: {memory: 16Mi}}
YAML
)
  apply_pod "$outsider" probe-outsider
  pod=$(cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe-server, namespace: $PROBE_NS, labels: {app: probe}}
spec:$probe_security
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: $PG_IMAGE
    imagePullPolicy: IfNotPresent$probe_container_security
    command: [nc, -lk, "8080"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
    resources: {requests: {cpu: 5m, memory: 8Mi}, limits: {memory: 32Mi}}
YAML
)
  apply_pod "$pod" probe-server
}

# apply_pod YAML NAME: a pod's spec is mostly immutable, so when this recipe changed the old pod
# gives way to the new one.
apply_pod() {
  k apply -f - >/dev/null 2>&1 <<<"$1" || {
    k -n "$PROBE_NS" delete pod "$2" --wait=true >/dev/null 2>&1 || true
    k apply -f - >/dev/null <<<"$1"
  }
}

# The client's script: each target in turn, resolved with getent (the libc resolver, as psql and
# pgBackRest do) and connected to with nc, until the deadline; on failure it prints what it saw last.
# A target "!ADDR:PORT" must not answer at all (service_fence_up in common.sh).
# shellcheck disable=SC2016 # expanded in the pod
probe_client_script='
deadline=$(($(date +%s) + $1)); shift
start=$(date +%s)
for target in "$@"; do
  case $target in
  !*) # an address nothing may answer
    target=${target#!}
    if nc -z -w 2 "${target%:*}" "${target##*:}" 2>/dev/null; then
      echo "$target, where no Service is, accepted a connection: what kube-proxy does not translate leaves the node"
      exit 1
    fi
    echo "nothing answers $target, where no Service is"
    continue ;;
  esac
  host=${target%:*} port=${target##*:} n=0
  while :; do
    n=$((n + 1))
    if ! addr=$(getent hosts "$host"); then
      last="cannot resolve $host"
    elif out=$(nc -z -v -w 2 "$host" "$port" 2>&1); then
      echo "reached $host:$port (${addr%% *}) after $(($(date +%s) - start))s, attempt $n"
      break
    else
      last="resolved $host to ${addr%% *}, but: $out"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "gave up on $host:$port after $n attempts; last: $last"
      exit 1
    fi
    sleep 0.5
  done
done'

# network_probe: a new pod must reach the API server's Service and the probe Service by name.
network_probe() {
  local start=$SECONDS pod phase
  probe_server
  # Clients of earlier probes that failed were kept for a look: they are of no use now.
  k -n "$PROBE_NS" delete pod -l app=probe-client --wait=false >/dev/null 2>&1 || true
  pod=probe-client-$(date +%s)
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $pod, namespace: $PROBE_NS, labels: {app: probe-client}}
spec:$probe_security
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  activeDeadlineSeconds: $((PROBE_TIMEOUT + 30))
  containers:
  - name: client
    image: $PG_IMAGE
    imagePullPolicy: IfNotPresent$probe_container_security
    command: [/bin/sh, -c]
    args:
    - |
$(sed 's/^/      /' <<<"$probe_client_script")
    - probe
    - "$PROBE_TIMEOUT"
    - kubernetes.default.svc.cluster.local:443
    - $PROBE_SVC:80
    - "!$SERVICE_UNUSED_IP:8432"
YAML
  phase=
  while ((SECONDS - start < PROBE_TIMEOUT + 30)); do
    phase=$(k -n "$PROBE_NS" get pod "$pod" -o jsonpath='{.status.phase}' 2>/dev/null) || phase=
    case $phase in Succeeded | Failed) break ;; esac
    sleep 0.5
  done
  if [ "$phase" = Succeeded ]; then
    k -n "$PROBE_NS" logs "$pod" 2>/dev/null | while read -r line; do log "  probe: $line"; done
    k -n "$PROBE_NS" delete pod "$pod" --wait=false >/dev/null 2>&1 || true
    log "a new pod resolves and connects through Services ($((SECONDS - start))s)"
    return 0
  fi
  log "a new pod could not connect through Services within ${PROBE_TIMEOUT}s (pod $PROBE_NS/$pod, phase ${phase:-unknown}):"
  k -n "$PROBE_NS" logs "$pod" 2>&1 | sed 's/^/    /' >&2
  k -n "$PROBE_NS" get pods,endpointslices -o wide 2>&1 | sed 's/^/    /' >&2
  k -n "$PROBE_NS" get events --sort-by=.lastTimestamp 2>&1 | tail -8 | sed 's/^/    /' >&2
  log "look at $LOGS/kube-proxy.log and $LOGS/coredns.log; the pod is kept for a look"
  return 1
}

# network_check: the cheap check for a warm cluster, one exec into the running probe server: it
# resolves the probe Service and connects to itself through it. Fails when the server is missing.
network_check() {
  k -n "$PROBE_NS" exec probe-server -- nc -z -w 2 "$PROBE_SVC" 80 >/dev/null 2>&1
}

# netpol_enforced: probe-outsider resolves the probe Service but cannot connect to it. It prints
# the exit status of nc, 1 for a connection that timed out; nothing when the pod is not running yet.
netpol_enforced() {
  # shellcheck disable=SC2016 # expanded in the pod
  [ "$(k -n "$PROBE_NS" exec probe-outsider -- sh -c 'getent hosts "$1" >/dev/null || exit; nc -z -w 2 "$1" 80 >/dev/null 2>&1; echo $?' sh "$PROBE_SVC" 2>/dev/null)" = 1 ]
}

# policy_probe: the probe's NetworkPolicy keeps probe-outsider out, while network_check passes.
policy_probe() {
  local start=$SECONDS
  probe_server
  if wait_for "$PROBE_TIMEOUT" "NetworkPolicy enforcement" netpol_enforced && network_check; then
    log "NetworkPolicies are enforced: a pod the policy does not admit cannot connect ($((SECONDS - start))s)"
    return 0
  fi
  log "NetworkPolicies are not enforced: pod $PROBE_NS/probe-outsider reaches $PROBE_SVC:80, or the probe server is unreachable"
  log "is the netpol daemon running (pid file $PIDS/netpol.pid)? look at $LOGS/netpol.log and iptables -t mangle -S $NETPOL_CHAIN"
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "${1:-}" != --full ] && network_check; then
    log "network check passed (pod -> Service -> pod)"
  else
    network_probe
  fi
  if [ "${1:-}" != --full ] && netpol_enforced; then
    log "NetworkPolicies are enforced (probe-outsider cannot reach the probe Service)"
  else
    policy_probe
  fi
fi
