#!/usr/bin/env bash
# A diagnostic for cross-talk between namespaces on the running local cluster (see
# docs/architecture.md, "The local cluster's network"). Namespace A holds a server that keeps
# serving while it terminates and a client that keeps connecting; A is deleted and namespace B of
# the same shape is created at once. B's client then records which server answers through B's
# Service: each server answers with its namespace and address, so any "A" line is cross-talk.
#   bash test/cluster/reuse-check.sh TAG                  B's Service gets a new ClusterIP
#   bash test/cluster/reuse-check.sh TAG same-clusterip   B's Service takes A's ClusterIP once freed
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
tag=$1 mode=${2:-}
sec='
  securityContext: {runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, seccompProfile: {type: RuntimeDefault}}'
csec='
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}'
shape() { # shape NS [CLUSTER_IP]
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $1}
---
apiVersion: v1
kind: Service
metadata: {name: srv, namespace: $1}
spec:
  ${2:+clusterIP: $2}
  selector: {app: srv}
  ports: [{port: 8432, targetPort: 8432}]
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: $1, labels: {app: srv}}
spec:$sec
  terminationGracePeriodSeconds: 40
  containers:
  - name: s
    image: $PG_IMAGE
    imagePullPolicy: IfNotPresent$csec
    env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
    command: [/bin/sh, -c, 'trap "" TERM; while :; do echo "$1 \$IP" | nc -N -l 8432 >/dev/null; done', sh, $1]
    readinessProbe: {exec: {command: ['true']}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: $1}
spec:$sec
  terminationGracePeriodSeconds: 40
  containers:
  - name: c
    image: $PG_IMAGE
    imagePullPolicy: IfNotPresent$csec
    command: [/bin/sh, -c, 'trap "" TERM; while :; do echo "\$(date +%T.%N | cut -c1-12) \$(nc -w 1 srv 8432 </dev/null 2>&1 | head -1)"; sleep 0.1; done']
YAML
}
a=h11-$tag-a b=h11-$tag-b
shape "$a"
k -n "$a" wait --for=condition=Ready pod/server pod/client --timeout=60s >/dev/null
sleep 2
aip=$(k -n "$a" get svc srv -o jsonpath='{.spec.clusterIP}')
k -n "$a" get pods -o wide --no-headers | awk '{print "A pod", $1, $6}'
echo "A svc $aip; A client saw: $(k -n "$a" logs client --tail=1)"
t0=$(date +%T.%N | cut -c1-12)
k delete namespace "$a" --wait=false >/dev/null
if [ "$mode" = same-clusterip ]; then
  # Wait until A's Service is gone, then take its ClusterIP for B's.
  until ! k -n "$a" get svc srv >/dev/null 2>&1; do sleep 0.1; done
  shape "$b" "$aip"
else
  shape "$b"
fi
echo "A deleted at $t0; B created at $(date +%T.%N | cut -c1-12)"
k -n "$b" wait --for=condition=Ready pod/server pod/client --timeout=60s >/dev/null
sleep 10
k -n "$b" get pods -o wide --no-headers | awk '{print "B pod", $1, $6}'
echo "B svc $(k -n "$b" get svc srv -o jsonpath='{.spec.clusterIP}')"
k -n "$a" get pods -o wide --no-headers 2>/dev/null | awk '{print "A pod still", $1, $3, $6}' || true
echo "B client saw (counts of answers):"
k -n "$b" logs client | awk '{$1=""; print}' | sort | uniq -c
echo "B client's first answers:"; k -n "$b" logs client | head -5
k delete namespace "$b" --wait=false >/dev/null
