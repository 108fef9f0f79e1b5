# Sourced by up.sh: the lab's OCI registry (distribution v3, built from Go modules) and how the
# node's containerd pulls from it. Two instances share one storage directory:
#   $NODE_IP:$REGISTRY_PORT       anonymous and read-only: what containerd's mirror for ghcr.io and
#                                 registry.k8s.io points at, so `create` with no --image pulls the
#                                 default image by its real name, as a user's node pulls it from ghcr.io
#   $NODE_IP:$REGISTRY_AUTH_PORT  htpasswd credentials, read-write: images are pushed here, and
#                                 pulls by this name need an imagePullSecret (a private registry)
# Both serve TLS with a certificate of the registry CA (a CA of its own, like a company's).

REGISTRY_DIR=$PGBR_CLUSTER_DIR/registry
REGISTRY_CERTS=$STATE/registry-certs
REGISTRY_AUTH_FILE=$STATE/registry-auth.json
CONTAINERD_HOSTS=$STATE/certs.d

registry_pki() {
  ca registry-ca "kubectl-pgbackrest test registry CA"
  cert registry "/CN=$NODE_IP" "IP:$NODE_IP,DNS:$NODE_IP,DNS:localhost,IP:127.0.0.1" registry-ca
  # skopeo's --cert-dir takes a directory of CA files.
  mkdir -p "$REGISTRY_CERTS"
  cp "$PKI/registry-ca.crt" "$REGISTRY_CERTS/ca.crt"
}

# registry_credentials: a user and password made once, kept for root only; the htpasswd file (bcrypt)
# and a docker config file (what skopeo and a kubernetes.io/dockerconfigjson Secret take).
registry_credentials() {
  local creds=$STATE/registry-credentials
  [ -s "$creds" ] || (umask 077 && printf '%s %s\n' "pgbr" "$(openssl rand -hex 16)" >"$creds")
  read -r REGISTRY_USER REGISTRY_PASSWORD <"$creds"
  (
    umask 077
    # The password reaches htpasswd on stdin, never in its argv.
    printf '%s\n' "$REGISTRY_PASSWORD" | htpasswd -iBc "$STATE/registry.htpasswd" "$REGISTRY_USER" 2>/dev/null
    printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$NODE_IP:$REGISTRY_AUTH_PORT" \
      "$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)" >"$REGISTRY_AUTH_FILE"
  )
}

registry_config() { # registry_config NAME PORT AUTH(yes|no)
  local readonly=true auth=""
  if [ "$3" = yes ]; then
    readonly=false
    auth="auth: {htpasswd: {realm: kubectl-pgbackrest-lab, path: $STATE/registry.htpasswd}}"
  fi
  cat >"$STATE/$1.yaml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR}
  delete: {enabled: false}
  maintenance:
    uploadpurging: {enabled: false}
    readonly: {enabled: $readonly}
http:
  addr: $NODE_IP:$2
  secret: $(openssl rand -hex 16)
  tls: {certificate: $PKI/registry.crt, key: $PKI/registry.key}
$auth
YAML
}

start_registry() {
  registry_pki
  registry_credentials
  mkdir -p "$REGISTRY_DIR"
  registry_config registry "$REGISTRY_PORT" no
  registry_config registry-auth "$REGISTRY_AUTH_PORT" yes
  local d
  for d in registry registry-auth; do
    # No tracing collector here: without this it logs a failed export every few minutes.
    daemon_running "$d" || OTEL_TRACES_EXPORTER=none start_daemon "$d" "$BIN_CACHE/registry-$DISTRIBUTION_VERSION" serve "$STATE/$d.yaml"
  done
  wait_for 30 registry curl -fsS --cacert "$PKI/registry-ca.crt" "https://$NODE_IP:$REGISTRY_PORT/v2/"
  # Without credentials the private instance answers 401; with them, 200.
  wait_for 30 "registry (credentials)" registry_auth_check
}
registry_auth_check() {
  [ "$(curl -sS --cacert "$PKI/registry-ca.crt" -o /dev/null -w '%{http_code}' "https://$NODE_IP:$REGISTRY_AUTH_PORT/v2/")" = 401 ] &&
    printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$REGISTRY_PASSWORD" |
    curl -K - -fsS --cacert "$PKI/registry-ca.crt" -o /dev/null "https://$NODE_IP:$REGISTRY_AUTH_PORT/v2/"
}

# containerd_hosts: containerd's registry configuration (config_path). The default image's host
# (ghcr.io) and the sandbox image's (registry.k8s.io) are served by the lab registry and never
# leave this machine; the registry's own name is trusted through its CA.
containerd_hosts() {
  local h
  rm -rf "$CONTAINERD_HOSTS"
  for h in ghcr.io registry.k8s.io "$NODE_IP:$REGISTRY_PORT" "$NODE_IP:$REGISTRY_AUTH_PORT"; do
    mkdir -p "$CONTAINERD_HOSTS/$h"
    local to=$NODE_IP:$REGISTRY_PORT
    [ "$h" = "$NODE_IP:$REGISTRY_AUTH_PORT" ] && to=$h
    # containerd 1.6 wants a [host] table (a file with only server and ca is "invalid host tree").
    cat >"$CONTAINERD_HOSTS/$h/hosts.toml" <<TOML
server = "https://$h"
[host."https://$to"]
  capabilities = ["pull", "resolve"]
  ca = "$PKI/registry-ca.crt"
TOML
  done
}

# push_lab_images: the images the cluster itself needs (the sandbox image) and the stable lab tags
# of the PostgreSQL images (postgres:<major>-lab), which the probes and PGBR_IMAGE_<major> use.
# `make lab-images` adds the tags of a plugin build (push-images.sh).
push_lab_images() {
  local reg=$NODE_IP:$REGISTRY_AUTH_PORT major
  skopeo copy --quiet --dest-authfile "$REGISTRY_AUTH_FILE" --dest-cert-dir "$REGISTRY_CERTS" \
    "docker-archive:$(readlink -f "$IMAGE_CACHE/pause.tar")" "docker://$reg/${PAUSE_IMAGE#*/}"
  for major in $PG_MAJORS; do
    skopeo copy --quiet --dest-authfile "$REGISTRY_AUTH_FILE" --dest-cert-dir "$REGISTRY_CERTS" \
      "oci-archive:$(readlink -f "$IMAGE_CACHE/postgres-$major.oci.tar")" "docker://$reg/kubectl-pgbackrest/postgres:$major-lab"
  done
}
