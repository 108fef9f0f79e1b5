#!/usr/bin/env bash
# Builds the PostgreSQL 15 + pgBackRest image of docs/image.md from Debian's packages, with no
# registry: a debootstrap rootfs packed as a docker-archive tarball that `ctr images import` reads.
# Output: $IMAGE_CACHE/postgres-r$IMAGE_REV.tar (cached; bump IMAGE_REV in versions.sh to rebuild).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

out=$IMAGE_CACHE/postgres-r$IMAGE_REV.tar
if [ -s "$out" ]; then log "image $PG_IMAGE: cached"; exit 0; fi
mkdir -p "$IMAGE_CACHE"

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
security=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep security | head -1)
security=${security:-http://deb.debian.org/debian-security}

rootfs=$IMAGE_CACHE/rootfs-postgres.tmp
cleanup() {
  for m in proc sys dev/pts dev; do umount "$rootfs/$m" 2>/dev/null || true; done
  rm -rf "$rootfs"
}
trap cleanup EXIT
cleanup
mkdir -p "$rootfs"

debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$mirror" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
  { tail -20 "$IMAGE_CACHE/debootstrap.log"; die "debootstrap failed"; }

cat >"$rootfs/etc/apt/sources.list" <<SRC
deb $mirror $DEBIAN_SUITE main
deb $mirror $DEBIAN_SUITE-updates main
deb $security $DEBIAN_SUITE-security main
SRC
# Nothing may start inside the chroot, and no cluster is baked into the image.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod +x "$rootfs/usr/sbin/policy-rc.d"
mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' >"$rootfs/etc/postgresql-common/createcluster.d/no-main-cluster.conf"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

mount -t proc proc "$rootfs/proc"
in_chroot() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
# The official postgres image's user is 999:999; create it first so both images behave the same.
in_chroot groupadd -r -g 999 postgres
in_chroot useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/bash postgres
in_chroot apt-get update -qq
in_chroot apt-get install -y -qq --no-install-recommends \
  postgresql-15 pgbackrest procps iproute2 netcat-openbsd ca-certificates >/dev/null
in_chroot apt-get clean
umount "$rootfs/proc"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf"
mkdir -p "$rootfs"/{pgdata,pgbackrest,var/run/postgresql,var/log/pgbackrest,var/spool/pgbackrest,etc/pgbackrest}
chown 999:999 "$rootfs"/{pgdata,pgbackrest,var/run/postgresql,var/log/pgbackrest,var/spool/pgbackrest}

"$here/pack-image.sh" "$rootfs" "$PG_IMAGE" "$out" \
  'PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  'PGDATA=/pgdata/pg15' 'LANG=C.UTF-8'
log "image $PG_IMAGE: $(du -h "$out" | cut -f1)"
