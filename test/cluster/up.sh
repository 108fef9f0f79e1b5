#!/usr/bin/env bash
# Starts a real single-node Kubernetes cluster on this machine, with an S3 server behind TLS and the
# PostgreSQL + pgBackRest images in an OCI registry, all built from Debian packages and Go modules (see
# shared/LOCAL-CLUSTER.md for the facts this rests on). Idempotent: on a healthy running cluster it
# returns at once; after an abrupt end (stale PIDs, containers, mounts) it cleans up and starts.
# Writes $PGBR_CLUSTER_DIR/kubeconfig and $PGBR_CLUSTER_DIR/env (S3 endpoint, bucket, credentials).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/pki.sh"
. "$here/probe.sh"
. "$here/registry.sh"
[ "$(id -u)" = 0 ] || die "the local cluster needs root (containerd, kubelet, iptables)"

DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns provisioner versitygw registry registry-auth)

# cluster_state prints "running" (every daemon alive), "stopped" (none) or "broken" (some).
cluster_state() {
  local alive=0 d
  for d in "${DAEMONS[@]}"; do daemon_running "$d" && alive=$((alive + 1)); done
  if ((alive == ${#DAEMONS[@]})); then echo running; elif ((alive == 0)); then echo stopped; else echo broken; fi
}

ready() {
  k get --raw /readyz >/dev/null 2>&1 && node_ready
}

packages() {
  local need=() p
  for p in etcd-server etcd-client containerd runc containernetworking-plugins iptables conntrack \
    socat ethtool ebtables iproute2 debootstrap openssl curl buildah skopeo apache2-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

host_setup() {
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  service_fence_up
  mkdir -p "$STATE" "$PGBR_CLUSTER_DIR"/{containerd,cni/net.d,kubelet,pod-logs,volumes,s3data} "$LOGS"
}

start_containerd() {
  cat >"$STATE/containerd.toml" <<TOML
version = 2
root = "$PGBR_CLUSTER_DIR/containerd/root"
state = "$PGBR_CLUSTER_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CTR_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: runc cannot give the sandbox a negative oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".registry]
    # hosts.toml per registry host (registry.sh): ghcr.io and registry.k8s.io are the lab registry.
    config_path = "$CONTAINERD_HOSTS"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$PGBR_CLUSTER_DIR/cni/net.d"
TOML
  cat >"$PGBR_CLUSTER_DIR/cni/net.d/10-pgbr.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "$CNI_NETWORK", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
JSON
  start_daemon containerd containerd --config "$STATE/containerd.toml"
  wait_for 30 containerd ctr --address "$CTR_SOCK" version
}

start_etcd() {
  start_daemon etcd etcd --name pgbr --data-dir "$PGBR_CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster pgbr=http://127.0.0.1:23800 --listen-metrics-urls http://127.0.0.1:23810
  wait_for 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

start_control_plane() {
  start_daemon kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" --advertise-address="$NODE_IP" --secure-port=6443 \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname
  wait_for 90 kube-apiserver k get --raw /readyz
  start_daemon kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$STATE/controller-manager.kubeconfig" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
    --service-cluster-ip-range="$SERVICE_CIDR" --bind-address=127.0.0.1
  start_daemon kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$STATE/scheduler.kubeconfig" --leader-elect=false --bind-address=127.0.0.1
}

start_node() {
  cat >"$STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTR_SOCK
imageServiceEndpoint: unix://$CTR_SOCK
clusterDNS: ["$DNS_SVC_IP"]
clusterDomain: cluster.local
podLogsDir: $PGBR_CLUSTER_DIR/pod-logs
# Images come from the lab registry and could be pulled again, but a collected image would make a
# test's pod wait on a pull: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
serializeImagePulls: false
maxPods: 60
YAML
  KUBELET_STARTED=$(date +%s)
  start_daemon kubelet "$KUBE_BIN/kubelet" --config="$STATE/kubelet.yaml" \
    --kubeconfig="$STATE/kubelet.kubeconfig" --root-dir="$PGBR_CLUSTER_DIR/kubelet" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
  cat >"$STATE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$STATE/kube-proxy.kubeconfig"}
mode: iptables
clusterCIDR: "$CLUSTER_CIDR"
hostnameOverride: "$NODE_NAME"
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
YAML
  start_daemon kube-proxy "$KUBE_BIN/kube-proxy" --config="$STATE/kube-proxy.yaml"
  # After a restart the Node object still says Ready from before: ask the kubelet itself first.
  wait_for 120 "kubelet healthz" curl -fsS http://127.0.0.1:10248/healthz
  wait_for 120 "node $NODE_NAME Ready" node_ready
}
# node_ready: the Node is Ready by a heartbeat of the kubelet started now. After a restart the
# object still holds the old kubelet's Ready until the controller manager notices it went quiet.
node_ready() {
  local ready beat
  ready=$(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}') || return 1
  beat=${ready#* }
  [ "${ready%% *}" = True ] && [ "$(date -d "$beat" +%s 2>/dev/null || echo 0)" -ge "${KUBELET_STARTED:-0}" ]
}

# Host services (CoreDNS, the S3 server) are reached from pods through a Service whose
# EndpointSlice points at the node's address: real Service names, real kube-proxy rules.
host_service() { # host_service NAMESPACE NAME CLUSTER_IP PORTS_JSON ENDPOINT_PORTS_JSON
  k get namespace "$1" >/dev/null 2>&1 || k create namespace "$1" >/dev/null
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: $2, namespace: $1}
spec:
  ${3:+clusterIP: $3}
  ports: $4
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $2-host
  namespace: $1
  labels: {kubernetes.io/service-name: $2, endpointslice.kubernetes.io/managed-by: kubectl-pgbackrest-test}
addressType: IPv4
endpoints: [{addresses: ["$NODE_IP"], conditions: {ready: true}}]
ports: $5
YAML
}

start_dns() {
  host_service kube-system kube-dns "$DNS_SVC_IP" \
    '[{name: dns, port: 53, protocol: UDP, targetPort: '$DNS_PORT'}, {name: dns-tcp, port: 53, protocol: TCP, targetPort: '$DNS_PORT'}]' \
    '[{name: dns, port: '$DNS_PORT', protocol: UDP}, {name: dns-tcp, port: '$DNS_PORT', protocol: TCP}]'
  # Cluster names only: nothing is forwarded upstream, so no traffic leaves this machine.
  cat >"$STATE/Corefile" <<COREFILE
.:$DNS_PORT {
    bind $NODE_IP
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/admin.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
COREFILE
  start_daemon coredns "$BIN_CACHE/coredns-$COREDNS_VERSION" -conf "$STATE/Corefile"
  wait_for 30 coredns curl -fsS http://127.0.0.1:18181/ready
}

start_storage() {
  start_daemon provisioner "$BIN_CACHE/provisioner" -kubeconfig "$STATE/admin.kubeconfig" \
    -root "$PGBR_CLUSTER_DIR/volumes"
  k apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubectl-pgbackrest.dev/hostpath
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
YAML
}

start_s3() {
  local creds=$STATE/s3-credentials
  # Only root reads the key pair (and the env file below): the machine may have other users.
  [ -s "$creds" ] || (umask 077 && printf '%s %s\n' "pgbr$(openssl rand -hex 6)" "$(openssl rand -hex 20)" >"$creds")
  chmod 600 "$creds"
  read -r S3_KEY S3_KEY_SECRET <"$creds"
  # Credentials go through the environment, not the command line that ps shows.
  ROOT_ACCESS_KEY=$S3_KEY ROOT_SECRET_KEY=$S3_KEY_SECRET start_daemon versitygw \
    "$BIN_CACHE/versitygw-$VERSITYGW_VERSION" --port "$NODE_IP:$S3_PORT" \
    --cert "$PKI/s3.crt" --key "$PKI/s3.key" posix "$PGBR_CLUSTER_DIR/s3data"
  wait_for 30 versitygw curl -sS --cacert "$PKI/s3-ca.crt" -o /dev/null "https://$NODE_IP:$S3_PORT/"
  host_service "$S3_NAMESPACE" "$S3_SERVICE" "" \
    '[{name: https, port: 443, protocol: TCP, targetPort: '$S3_PORT'}]' '[{name: https, port: '$S3_PORT', protocol: TCP}]'
  # Creating a bucket that exists answers 409: fine.
  # The key pair reaches curl on stdin (a config file), not in its argv.
  printf 'user = "%s:%s"\n' "$S3_KEY" "$S3_KEY_SECRET" |
  curl -K - -sS --cacert "$PKI/s3-ca.crt" --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    -X PUT "https://$NODE_IP:$S3_PORT/$S3_BUCKET" -o /dev/null -w '%{http_code}' | grep -qE '^(200|409)$' ||
    die "creating bucket $S3_BUCKET failed"
  umask 077
  cat >"$PGBR_CLUSTER_DIR/env" <<ENV
# The local test cluster: source this file.
export KUBECONFIG=$PGBR_CLUSTER_DIR/kubeconfig
# The lab's PostgreSQL images (the recipe's stable lab tags); tests that test --image use these.
# \`make lab-images\` pushes the default image of a plugin build (postgres:<major>-<version>).
export PGBR_IMAGE=$LAB_IMAGE_17
export PGBR_IMAGE_15=$LAB_IMAGE_15
export PGBR_IMAGE_17=$LAB_IMAGE_17
# The lab registry: the mirror containerd pulls ghcr.io from (anonymous, read-only) and the private
# instance (credentials in the docker config file PGBR_REGISTRY_AUTH_FILE; CA in PGBR_REGISTRY_CERT_DIR).
export PGBR_REGISTRY_MIRROR=$NODE_IP:$REGISTRY_PORT
export PGBR_REGISTRY=$NODE_IP:$REGISTRY_AUTH_PORT
export PGBR_REGISTRY_AUTH_FILE=$REGISTRY_AUTH_FILE
export PGBR_REGISTRY_CERT_DIR=$REGISTRY_CERTS
export PGBR_S3_ENDPOINT=$S3_SERVICE_HOST
export PGBR_S3_HOST_ENDPOINT=$NODE_IP:$S3_PORT
export PGBR_S3_BUCKET=$S3_BUCKET
export PGBR_S3_REGION=$S3_REGION
export PGBR_S3_URI_STYLE=path
export PGBR_S3_CA=$PKI/s3-ca.crt
export PGBR_S3_DATA_DIR=$PGBR_CLUSTER_DIR/s3data
export PGBR_S3_KEY=$S3_KEY
export PGBR_S3_KEY_SECRET=$S3_KEY_SECRET
# For tests that run an S3 server of their own (an outage they can cause): the same binary and
# certificate (its SANs include DNS:$NODE_IP), on another port of the node.
export PGBR_S3_SERVER_BIN=$BIN_CACHE/versitygw-$VERSITYGW_VERSION
export PGBR_S3_CERT=$PKI/s3.crt
export PGBR_S3_CERT_KEY=$PKI/s3.key
ENV
  umask 022
}

wait_image() {
  wait "$1" || { tail -20 "$IMAGE_CACHE.build.log" >&2; return 1; }
}

# build_images: the PostgreSQL images of every major, one after the other (each mostly waits on
# the package mirror and dpkg, beside the Go builds).
build_images() {
  local major
  for major in $PG_MAJORS; do "$here/build-image.sh" postgres "$major" >/dev/null; done
}

main() {
  mkdir -p "$PGBR_CACHE_DIR"
  # One cluster-up at a time: concurrent `make e2e` runs share the cluster.
  exec 9>"$PGBR_CACHE_DIR/cluster-up.lock"
  flock 9
  # A running cluster is never torn down here, even when slow to answer: others may be using it.
  if [ -d "$PIDS" ] && [ "$(cluster_state)" = running ]; then
    wait_for 120 "the running cluster to answer" ready ||
      die "the cluster's daemons run but it is not ready; see $LOGS, or restart it with make cluster-down cluster-up"
    # A cluster started before the fence existed gets it too.
    service_fence_up
    # And one started before the NetworkPolicy enforcer, or whose enforcer died, gets it now.
    netpol_queue_up
    if ! daemon_running netpol; then
      phase "coredns, versitygw, registry, provisioner, netpol, pause image" "$here/build-tools.sh"
      phase "network policy enforcer" start_netpol
    fi
    # The cheap check (one exec through the probe Service); the full probe only when it fails.
    if ! network_check; then
      phase "pod network (a new pod connects through Services)" network_probe
    fi
    if ! netpol_enforced; then
      phase "network policies (a pod a policy does not admit cannot connect)" policy_probe
    fi
    log "cluster already running and ready (KUBECONFIG=$PGBR_CLUSTER_DIR/kubeconfig)"
    return 0
  fi
  local total=$SECONDS
  phase "packages" packages
  mkdir -p "$IMAGE_CACHE"
  build_images >"$IMAGE_CACHE.build.log" 2>&1 9>&- &
  local image_pid=$!
  phase "kubernetes $KUBE_VERSION binaries" "$here/build-kube.sh"
  phase "coredns, versitygw, registry, provisioner, netpol, pause image" "$here/build-tools.sh"
  phase "postgres images ($PG_MAJORS)" wait_image "$image_pid"
  # PID files left behind mean the cluster ended without cluster-down: containers, mounts, the
  # bridge and iptables rules may still be there.
  if ls "$PIDS"/*.pid >/dev/null 2>&1; then
    phase "clean up after a cluster that did not stop cleanly" "$here/down.sh"
  fi
  phase "host setup" host_setup
  phase "pki" make_pki
  phase "registry" start_registry
  phase "push images" push_lab_images
  containerd_hosts
  phase "containerd" start_containerd
  phase "etcd" start_etcd
  phase "control plane" start_control_plane
  phase "node" start_node
  phase "network policy enforcer" start_netpol
  phase "dns" start_dns
  phase "storage" start_storage
  phase "s3 server" start_s3
  phase "pod network (a new pod connects through Services)" network_probe
  phase "network policies (a pod a policy does not admit cannot connect)" policy_probe
  log "cluster up in $((SECONDS - total))s: source $PGBR_CLUSTER_DIR/env"
}
main "$@"
