#!/bin/sh
# Redis backup: asks a Sentinel which node is the master now, streams an RDB snapshot of it with
# `redis-cli --rdb` (the replication stream, so it works whatever the `save` rules are), checks the file's
# RDB signature, writes it under a temporary name and renames it once complete, then prunes old snapshots.
# Environment: REDIS_SENTINEL_HOST REDIS_SENTINEL_PORT (26379) REDIS_MASTER_SET REDISCLI_AUTH (password of
# the nodes, read by redis-cli itself; the Sentinels take the same one unless REDIS_SENTINEL_PASSWORD is set,
# empty for Sentinels without a password) BACKUP_DIR RETENTION_DAYS.
set -eu
sentinel_port="${REDIS_SENTINEL_PORT:-26379}"

ask_sentinel() {
  if [ "${REDIS_SENTINEL_PASSWORD+set}" = set ]; then
    if [ -n "$REDIS_SENTINEL_PASSWORD" ]; then
      REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD" redis-cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@"
    else
      (unset REDISCLI_AUTH && redis-cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@")
    fi
  else
    redis-cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@"
  fi
}

reply=$(ask_sentinel --raw SENTINEL get-master-addr-by-name "$REDIS_MASTER_SET" 2>&1) || true
master_host=$(printf '%s\n' "$reply" | sed -n 1p)
master_port=$(printf '%s\n' "$reply" | sed -n 2p)
case "$master_port" in
  '' | *[!0-9]*)
    echo "no master for set '$REDIS_MASTER_SET' from Sentinel $REDIS_SENTINEL_HOST:$sentinel_port: ${reply:-it does not monitor that set}" >&2
    exit 1
    ;;
esac

# The snapshot holds every key: readable by the backup user only.
umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$BACKUP_DIR/redis-$REDIS_MASTER_SET-$stamp.rdb"
trap 'rm -f "$out.partial"' EXIT
if ! log=$(redis-cli -h "$master_host" -p "$master_port" --rdb "$out.partial" 2>&1); then
  echo "redis-cli --rdb from $master_host:$master_port failed: $log" >&2
  exit 1
fi
if [ "$(head -c 5 "$out.partial")" != "REDIS" ]; then
  echo "the snapshot from $master_host:$master_port is not an RDB file: $log" >&2
  exit 1
fi
mv "$out.partial" "$out"
echo "backup written: $out ($(wc -c <"$out") bytes) from master $master_host:$master_port"
# .rdb* takes the .partial of a killed run too (SIGKILL skips the EXIT trap).
find "$BACKUP_DIR" -maxdepth 1 -name "redis-$REDIS_MASTER_SET-*.rdb*" -mtime +"$RETENTION_DAYS" -print -delete
