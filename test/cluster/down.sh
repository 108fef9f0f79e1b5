#!/usr/bin/env bash
# Stops the local cluster: every daemon by its PID, then what they leave behind outside their
# directories (containers, mounts, the pod bridge, iptables chains, CNI results). Keeps the
# cluster's state (etcd, volumes, PKI) and the build caches; `down.sh --wipe` removes the state too.
# Safe to run on a cluster that is not running or that died without a clean stop.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

start=$SECONDS
# Stop order: the workload's makers first so nothing restarts pods, the kubelet before the runtime,
# the API server last but one and etcd last.
for d in netpol provisioner coredns kube-proxy kube-scheduler kube-controller-manager kubelet; do
  stop_daemon "$d" 10
done

# Containers: stop what the kubelet left, through containerd while it still runs.
if daemon_running containerd; then
  ctr() { command ctr --address "$CTR_SOCK" -n k8s.io "$@"; }
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1; done
fi
stop_daemon containerd 10
# Shims of a containerd that died keep their containers running: end them by their address.
pkill -9 -f "containerd-shim.*$PGBR_CLUSTER_DIR" 2>/dev/null || true
stop_daemon versitygw 5
stop_daemon registry 5
stop_daemon registry-auth 5
stop_daemon kube-apiserver 10 # it ignores SIGTERM for several seconds; stop_daemon then kills it
stop_daemon etcd 10
# Daemons whose PID file was lost (two cluster-ups racing, a file removed by hand) still name the
# cluster's directory on their command line.
for d in netpol provisioner coredns kube-proxy kube-scheduler kube-controller-manager kubelet containerd versitygw registry registry-auth kube-apiserver etcd; do
  pkill -9 -f "^([^ ]*/)?$d(-v[^ ]*)? .*$PGBR_CLUSTER_DIR" 2>/dev/null || true
done
pkill -9 -f "containerd-shim.*$PGBR_CLUSTER_DIR" 2>/dev/null || true
sleep 0.5

# Mounts under the cluster's directories and containerd's fixed ones, innermost first.
awk -v d="$PGBR_CLUSTER_DIR" '$2 ~ "^"d || $2 ~ "^/run/containerd/" || $2 ~ "^/var/lib/kubelet/" {print $2}' /proc/mounts |
  sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done

# Network: the pod bridge, CNI allocations and the chains kube-proxy and the portmap plugin made.
ip link del cni0 2>/dev/null || true
service_fence_down
netpol_queue_down
# Every pod is gone, so every address is free again, but host-local's last_reserved_ip is kept: it
# allocates round robin from there, so the next run's pods get addresses no pod of this run had
# (until the /24 wraps), as on a long-lived node, rather than this run's addresses in the same order.
find "/var/lib/cni/networks/$CNI_NETWORK" -maxdepth 1 -type f ! -name 'last_reserved_ip.*' ! -name lock -delete 2>/dev/null
rm -rf /var/lib/cni/results
# Connection tracking entries of this run's pods and Services (established TCP ones live 24 h, as
# kube-proxy sets them): none may steer a connection of the next run, which may reuse these addresses.
for flt in "-s $CLUSTER_CIDR" "-d $CLUSTER_CIDR" "-d $SERVICE_CIDR"; do
  # shellcheck disable=SC2086 # two words each
  conntrack -D $flt >/dev/null 2>&1 || true
done
for table in nat filter mangle; do
  rules=$(iptables-save -t "$table" 2>/dev/null) || continue
  if grep -qE 'KUBE-|CNI-' <<<"$rules"; then
    grep -vE 'KUBE-|CNI-' <<<"$rules" | iptables-restore -T "$table" 2>/dev/null ||
      log "warning: could not clean iptables table $table"
  fi
done
rm -rf /var/lib/kubelet/device-plugins /var/log/containers /var/log/pods

if [ "${1:-}" = "--wipe" ]; then
  rm -rf "$PGBR_CLUSTER_DIR"
  log "cluster wiped: $PGBR_CLUSTER_DIR removed (build caches kept in $PGBR_CACHE_DIR)"
else
  log "cluster stopped in $((SECONDS - start))s (state kept in $PGBR_CLUSTER_DIR)"
fi
