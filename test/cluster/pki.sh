# Sourced by up.sh: the cluster's PKI, made once with openssl and kept in $PKI.
# make_pki NODE_NAME NODE_IP
cert() { # cert NAME SUBJECT [SANS]: a leaf signed by the cluster CA, usable as server and client
  local name=$1 subj=$2 sans=${3:-}
  [ -s "$PKI/$name.crt" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [ -n "$sans" ] && echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/${4:-ca}.crt" -CAkey "$PKI/${4:-ca}.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ca() { # ca NAME CN
  [ -s "$PKI/$1.crt" ] && return 0
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$PKI/$1.key" -subj "/CN=$2" -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

kubeconfig() { # kubeconfig FILE USER_CERT_NAME
  local file=$1 user=$2
  kubectl config --kubeconfig="$file" set-cluster local --server="https://$NODE_IP:6443" \
    --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig="$file" set-credentials "$user" --client-certificate="$PKI/$user.crt" \
    --client-key="$PKI/$user.key" --embed-certs >/dev/null
  kubectl config --kubeconfig="$file" set-context local --cluster=local --user="$user" >/dev/null
  kubectl config --kubeconfig="$file" use-context local >/dev/null
}

make_pki() {
  mkdir -p "$PKI"
  # Addresses are baked into certificates: a new node address means a new PKI.
  if [ -s "$PKI/node-ip" ] && [ "$(cat "$PKI/node-ip")" != "$NODE_IP" ]; then
    log "node address changed: making a new PKI"
    rm -rf "$PKI" && mkdir -p "$PKI"
  fi
  echo "$NODE_IP" >"$PKI/node-ip"
  ca ca "kubectl-pgbackrest local cluster CA"
  cert apiserver "/CN=kube-apiserver" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBE_SVC_IP"
  cert admin "/O=system:masters/CN=kubernetes-admin"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kube-proxy "/CN=system:kube-proxy"
  if [ ! -s "$PKI/sa.key" ]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  # The S3 server has a CA of its own, as a user's private S3 endpoint would. pgBackRest matches the
  # host against DNS SANs only, so the node address is a DNS SAN too.
  ca s3-ca "kubectl-pgbackrest test S3 CA"
  cert s3 "/CN=$S3_SERVICE_HOST" \
    "DNS:$S3_SERVICE_HOST,DNS:$S3_SERVICE.$S3_NAMESPACE.svc,DNS:$S3_SERVICE.$S3_NAMESPACE,DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1,IP:$NODE_IP,DNS:$NODE_IP" s3-ca
  for u in admin controller-manager scheduler kubelet kube-proxy; do
    [ -s "$STATE/$u.kubeconfig" ] || kubeconfig "$STATE/$u.kubeconfig" "$u"
  done
  cp "$STATE/admin.kubeconfig" "$PGBR_CLUSTER_DIR/kubeconfig"
}
