# Sourced by up.sh and down.sh: the cluster's layout and daemon handling.
. "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

STATE=$PGBR_CLUSTER_DIR/state
PKI=$PGBR_CLUSTER_DIR/pki
PIDS=$PGBR_CLUSTER_DIR/pids
LOGS=$PGBR_CLUSTER_DIR/logs
CTR_SOCK=$PGBR_CLUSTER_DIR/containerd/containerd.sock
KUBE_BIN=${KUBE_BIN:-$BIN_CACHE/kube-$KUBE_VERSION}

POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
# The Service range's broadcast address: the API server never gives it to a Service.
SERVICE_UNUSED_IP=10.96.255.255
KUBE_SVC_IP=10.96.0.1
DNS_SVC_IP=10.96.0.10
DNS_PORT=1053
ETCD_PORT=23790
S3_PORT=9443
REGISTRY_PORT=5000
REGISTRY_AUTH_PORT=5001
S3_NAMESPACE=pgbr-s3
S3_SERVICE=s3
S3_SERVICE_HOST=$S3_SERVICE.$S3_NAMESPACE.svc.cluster.local
S3_BUCKET=pgbackrest
S3_REGION=us-east-1
CNI_NETWORK=pgbr

NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
# The node's address: the first global IPv4 address that is not on the pod bridge.
NODE_IP=$(ip -4 -o addr show scope global | awk '$2 != "cni0" {sub(/\/.*/, "", $4); print $4; exit}')

export KUBECONFIG=$PGBR_CLUSTER_DIR/kubeconfig

# A packet from a pod to a Service address that kube-proxy did not translate (a Service made a
# moment ago, or the instant between kube-proxy's filter and nat commits when a Service gets its
# first ready endpoint) would follow the default route and be masqueraded off the node. This
# machine's egress is a transparent proxy that accepts any address and port and answers TLS with
# its own certificate chain, so pgBackRest got "[19] self-signed certificate in certificate chain"
# from 'pgX:8432' (docs/architecture.md). Such packets are dropped on the node instead, as on a
# network where the Service range leads nowhere: TCP resends the SYN a second later, through
# kube-proxy's rules by then. Appended to FORWARD, so kube-proxy's own rules (prepended) come
# first: a Service without endpoints is still refused at once by kube-proxy's REJECT.
SERVICE_FENCE=(FORWARD -i cni0 -d "$SERVICE_CIDR" -m comment --comment "pgbr: untranslated Service traffic stays on the node" -j DROP)
service_fence_up() { # idempotent: exactly one rule afterwards, last in FORWARD
  service_fence_down
  iptables -A "${SERVICE_FENCE[@]}"
}
service_fence_down() {
  while iptables -D "${SERVICE_FENCE[@]}" 2>/dev/null; do :; done
  # The first version was a routing rule, which also beat kube-proxy's REJECT: gone wherever it was set.
  while ip rule del priority 1000 iif cni0 to "$SERVICE_CIDR" blackhole 2>/dev/null; do :; done
}

# NetworkPolicies are enforced by the netpol daemon (netpol/main.go, kube-network-policies): it
# judges the packets queued here. Only a connection's first packet is queued (replies and the rest
# are ESTABLISHED), only from or to pods, and nothing the node's root sends (the kubelet's probes).
# In mangle POSTROUTING: after kube-proxy's DNAT, so the destination is the pod a Service chose,
# and before the masquerade, so the source is still the pod. --queue-bypass: while no daemon reads
# the queue, packets pass, as on a CNI that does not enforce policies (probe.sh then says so).
NETPOL_QUEUE=100
NETPOL_CHAIN=PGBR-NETPOL
netpol_queue_up() { # idempotent
  iptables -t mangle -N "$NETPOL_CHAIN" 2>/dev/null || iptables -t mangle -F "$NETPOL_CHAIN"
  iptables -t mangle -A "$NETPOL_CHAIN" -m owner --uid-owner 0 -j RETURN
  iptables -t mangle -A "$NETPOL_CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  iptables -t mangle -A "$NETPOL_CHAIN" -s "$CLUSTER_CIDR" -j NFQUEUE --queue-num "$NETPOL_QUEUE" --queue-bypass
  iptables -t mangle -A "$NETPOL_CHAIN" -d "$CLUSTER_CIDR" -j NFQUEUE --queue-num "$NETPOL_QUEUE" --queue-bypass
  iptables -t mangle -C POSTROUTING -j "$NETPOL_CHAIN" 2>/dev/null || iptables -t mangle -A POSTROUTING -j "$NETPOL_CHAIN"
}
netpol_queue_down() {
  while iptables -t mangle -D POSTROUTING -j "$NETPOL_CHAIN" 2>/dev/null; do :; done
  iptables -t mangle -F "$NETPOL_CHAIN" 2>/dev/null || true
  iptables -t mangle -X "$NETPOL_CHAIN" 2>/dev/null || true
}
start_netpol() {
  netpol_queue_up
  start_daemon netpol "$BIN_CACHE/netpol" -kubeconfig "$STATE/admin.kubeconfig" -node "$NODE_NAME" -nfqueue-id "$NETPOL_QUEUE"
}

# Daemons are started detached in their own session, so a `timeout` or Ctrl-C around the caller
# does not kill them, and stopped by the PID recorded here.
start_daemon() { # start_daemon NAME CMD...
  local name=$1; shift
  mkdir -p "$PIDS" "$LOGS"
  # fd 9 is cluster-up's lock: a daemon must not hold it after the script ends.
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDS/$name.pid"
}

daemon_running() { # daemon_running NAME
  local pid
  pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stop_daemon() { # stop_daemon NAME [GRACE_SECONDS]
  local name=$1 grace=${2:-10} pid i
  pid=$(cat "$PIDS/$name.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...: runs CMD until it succeeds, by the wall clock
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  log "timed out waiting for $what"
  return 1
}

k() { kubectl --kubeconfig="$KUBECONFIG" --request-timeout=15s "$@"; }
