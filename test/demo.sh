#!/usr/bin/env bash
# The main job, as a user would run it on the local cluster: configure S3, create a cluster that
# archives to a local repository and to S3, write rows, back up to both, look at the backups, write
# more rows, restore from S3 to a time between the two batches, and count the rows.
# `make demo` starts the cluster, builds the plugin and sources the cluster's env file first.
set -euo pipefail
: "${PGBR_S3_ENDPOINT:?run through make demo (it sources the local cluster env file)}"
NS=${DEMO_NAMESPACE:-pgbr-demo}
CLUSTER=demo

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "\$ $*"; "$@"; }
missing=()
have() { kubectl pgbackrest "$1" --help >/dev/null 2>&1 || { missing+=("$1"); echo "(skipped: 'kubectl pgbackrest $1' does not exist yet)"; return 1; }; }
sql() { kubectl -n "$NS" exec "deploy/$CLUSTER" -c postgres -- psql -h /var/run/postgresql -v ON_ERROR_STOP=1 -Atc "$1"; }
# psql STATEMENT: runs it in the primary, showing the command a user would type.
psql() { echo; bold "\$ kubectl -n $NS exec deploy/$CLUSTER -c postgres -- psql -c \"$1\""; sql "$1"; }

# A fresh start on every run: the previous demo's namespace and, on the test S3 server, its
# repository (a new cluster of the same name must not meet the old stanza in the bucket).
if kubectl get namespace "$NS" >/dev/null 2>&1; then
  echo "removing the previous demo (namespace $NS)"
  kubectl delete namespace "$NS" --wait=true --timeout=180s >/dev/null
fi
rm -rf "${PGBR_S3_DATA_DIR:?}/$PGBR_S3_BUCKET/backrestrepo/$CLUSTER-backrest-shared-repo"
kubectl create namespace "$NS" >/dev/null
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
export KUBECTL_NAMESPACE=$NS

if have s3; then
  PGBR_S3_KEY_ID=$PGBR_S3_KEY AWS_ACCESS_KEY_ID=$PGBR_S3_KEY AWS_SECRET_ACCESS_KEY=$PGBR_S3_KEY_SECRET \
    step kubectl pgbackrest -n "$NS" s3 configure --bucket "$PGBR_S3_BUCKET" --endpoint "$PGBR_S3_ENDPOINT" \
    --region "$PGBR_S3_REGION" --uri-style path --ca-bundle "$PGBR_S3_CA" --key-from-env
  step kubectl pgbackrest -n "$NS" s3 show
fi
if have create; then
  step kubectl pgbackrest -n "$NS" create "$CLUSTER" --storage=local,s3 --pgdata-size 1Gi --repo-size 2Gi
  psql "create table if not exists demo (id serial primary key, batch int, at timestamptz default now())"
  psql "insert into demo (batch) select 1 from generate_series(1, 1000)"
fi
if have backup; then
  step kubectl pgbackrest -n "$NS" backup "$CLUSTER" --storage=local,s3 --type=full
fi
if have info; then
  step kubectl pgbackrest -n "$NS" info "$CLUSTER"
fi
if have create; then
  sleep 1
  target=$(sql "select to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
  echo "restore target: $target (after batch 1, before batch 2)"
  sleep 1
  psql "insert into demo (batch) select 2 from generate_series(1, 500)"
  psql "select batch, count(*) from demo group by batch order by batch"
fi
if have restore; then
  step kubectl pgbackrest -n "$NS" restore "$CLUSTER" --storage=s3 --target-time="$target" --yes
  psql "select batch, count(*) from demo group by batch order by batch"
fi
echo
if [ ${#missing[@]} -gt 0 ]; then
  bold "demo ran what exists; not built yet: ${missing[*]}"
else
  bold "demo complete: the cluster is back at $target (namespace $NS; 'kubectl delete namespace $NS' removes it)"
fi
