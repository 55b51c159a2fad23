#!/bin/sh
# Redis backup and restore, one file so that both speak of the same RDB snapshot.
#
# backup (no argument: what the backup CronJob runs): asks a Sentinel which node is the master now,
# streams an RDB snapshot of it with `redis-cli --rdb` (the replication stream, so it works whatever the
# `save` rules are), checks the file's RDB signature, writes it under a temporary name and renames it
# once complete, then prunes old snapshots.
# Environment: REDIS_SENTINEL_HOST REDIS_SENTINEL_PORT (26379) REDIS_MASTER_SET REDISCLI_AUTH (the password,
# read by redis-cli itself) with REDIS_USER (an ACL user: the CronJob's, which may only take the replication
# stream on the nodes and discover the master on the Sentinels; unset: the `default` user); the Sentinels
# take the same login unless REDIS_SENTINEL_PASSWORD is set (their own password, empty for none)
# BACKUP_DIR RETENTION_DAYS.
#
# restore RDB_FILE DATA_DIR: turns a snapshot of the backup into a Redis data directory that a node
# starts from, with appendonly yes or no.
# Why not just copy the file to dump.rdb: Redis 7 started with `appendonly yes` (redis.persistence.aof,
# on by default) loads only the AOF; with no appendonlydir it starts EMPTY and ignores dump.rdb. So this
# puts the snapshot in DATA_DIR as dump.rdb, loads it into a private redis-server (unix socket in a
# private directory, no TCP port) with appendonly off, turns the AOF on (Redis writes appendonlydir/
# from the loaded data), shuts it down, then starts it again with appendonly yes and checks that it
# holds the snapshot's keys (every key without a TTL; keys with one may expire meanwhile).
# Needs redis-server and redis-cli of the backup's Redis version or newer (the Redis image has both);
# redis-check-rdb is used when present.
#   DATA_DIR (created if missing) must hold no dump.rdb and no appendonlydir: move old data away first.
#   Other files (users.acl) are left alone. ACL users are not in an RDB.
# Environment: optional REDIS_RESTORE_TIMEOUT_SECONDS (600): for each load and for the AOF rewrite.
#
# drill (what the restore-drill CronJob runs): `restore` of the newest snapshot of REDIS_MASTER_SET found
# in DRILL_DIR into a scratch data directory in SCRATCH_DIR (redis-check-rdb, a load from the RDB, an AOF
# written from it and a second load from that), then one line, `drill passed: ...` with the key count,
# also the pod's termination message; or exit 1 saying why. No login to the live servers.
# Environment: REDIS_MASTER_SET DRILL_DIR SCRATCH_DIR.
set -eu

usage() {
  echo "usage: sh redis.sh [backup] | sh redis.sh restore RDB_FILE DATA_DIR | sh redis.sh drill" >&2
  exit 2
}

backup() {
  sentinel_port="${REDIS_SENTINEL_PORT:-26379}"
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
  if ! log=$(login_cli -h "$master_host" -p "$master_port" --rdb "$out.partial" 2>&1); then
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
}

# redis-cli as REDIS_USER when it is set (its password in REDISCLI_AUTH), else as `default`.
login_cli() {
  if [ -n "${REDIS_USER:-}" ]; then
    redis-cli --user "$REDIS_USER" "$@"
  else
    redis-cli "$@"
  fi
}

ask_sentinel() {
  if [ "${REDIS_SENTINEL_PASSWORD+set}" = set ]; then
    if [ -n "$REDIS_SENTINEL_PASSWORD" ]; then
      REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD" redis-cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@"
    else
      (unset REDISCLI_AUTH && redis-cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@")
    fi
  else
    login_cli -h "$REDIS_SENTINEL_HOST" -p "$sentinel_port" "$@"
  fi
}

restore() {
  [ $# -eq 2 ] || usage
  rdb=$1
  dir=$2
  timeout="${REDIS_RESTORE_TIMEOUT_SECONDS:-600}"
  if [ ! -r "$rdb" ] || [ "$(head -c 5 "$rdb")" != REDIS ]; then
    echo "redis restore: '$rdb' is not a readable RDB file" >&2
    exit 2
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -e "$dir/dump.rdb" ] || [ -e "$dir/appendonlydir" ]; then
    echo "redis restore: $dir already holds Redis data (dump.rdb or appendonlydir); move it away first" >&2
    exit 2
  fi
  if command -v redis-check-rdb >/dev/null 2>&1; then
    if ! check=$(redis-check-rdb "$rdb" 2>&1); then
      echo "redis restore: redis-check-rdb rejects $rdb:" >&2
      printf '%s\n' "$check" | tail -n 5 >&2
      exit 1
    fi
  fi

  # The data is only as private as the backup: files readable by their owner only.
  umask 077
  work=$(mktemp -d)
  sock="$work/redis.sock"
  pid=""
  trap 'stop_server; rm -rf "$work"' EXIT
  trap 'exit 1' HUP INT TERM
  # The private server has no password: a REDISCLI_AUTH of the caller would only make redis-cli complain.
  unset REDISCLI_AUTH

  cp "$rdb" "$dir/dump.rdb.partial"
  mv "$dir/dump.rdb.partial" "$dir/dump.rdb"

  start_server no
  set -- $(counts)
  keys=$1
  persistent=$(($1 - $2))
  if [ "$(cli CONFIG SET appendonly yes)" != OK ]; then
    echo "redis restore: CONFIG SET appendonly yes was refused" >&2
    exit 1
  fi
  wait_until "the AOF rewrite" aof_rewritten
  if [ "$(persistence aof_last_bgrewrite_status)" != ok ]; then
    echo "redis restore: the AOF rewrite failed:" >&2
    tail -n 10 "$work/redis.log" >&2
    exit 1
  fi
  stop_server

  # The proof: what a node with appendonly yes loads.
  start_server yes
  set -- $(counts)
  stop_server
  # Keys with a TTL may expire between the two loads; the others must all be there.
  if [ "$(($1 - $2))" != "$persistent" ] || [ "$1" -gt "$keys" ]; then
    echo "redis restore: the snapshot loads as $keys keys ($persistent without TTL) but the AOF as $1 ($(($1 - $2)) without TTL)" >&2
    exit 1
  fi
  echo "redis restore: $dir holds the $keys keys of $rdb (dump.rdb and appendonlydir/); start Redis with dir $dir"
}

cli() { redis-cli -s "$sock" "$@"; }
persistence() { cli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }
# counts: "<keys> <keys with a TTL>", summed over every database (INFO keyspace).
counts() {
  cli INFO keyspace | tr -d '\r' | awk -F '[:=,]' '/^db[0-9]+:/ { k += $3; e += $5 } END { print k + 0, e + 0 }'
}

# wait_until WHAT CHECK...: runs CHECK every 0.1 s until it succeeds, for at most $timeout seconds.
wait_until() {
  what=$1
  shift
  waited=0
  until "$@"; do
    if [ "$waited" -ge $((timeout * 10)) ]; then
      echo "redis restore: $what did not finish within ${timeout}s" >&2
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# start_server yes|no: a private redis-server on DATA_DIR with that appendonly, once it has loaded its data.
start_server() {
  appendonly=$1
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" --dbfilename dump.rdb \
    --appendonly "$appendonly" --appenddirname appendonlydir --save "" --daemonize no --logfile "$work/redis.log" &
  pid=$!
  wait_until "loading (appendonly $appendonly)" server_ready
}

# server_ready: the private server answers; exits when it stopped instead.
server_ready() {
  [ "$(cli PING 2>/dev/null)" != PONG ] || return 0
  kill -0 "$pid" 2>/dev/null && return 1
  pid=""
  echo "redis restore: redis-server stopped while loading (appendonly $appendonly):" >&2
  tail -n 10 "$work/redis.log" >&2
  exit 1
}

# aof_rewritten: the rewrite that writes appendonlydir/ from the loaded data is neither running nor
# scheduled and the manifest is there.
aof_rewritten() {
  [ "$(persistence aof_rewrite_in_progress)" = 0 ] && [ "$(persistence aof_rewrite_scheduled)" = 0 ] &&
    [ -f "$dir/appendonlydir/appendonly.aof.manifest" ]
}

stop_server() {
  if [ -n "$pid" ]; then
    cli SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}

drill_fail() {
  echo "drill failed: redis: $*" >&2
  if [ -w /dev/termination-log ]; then echo "drill failed: redis: $*" >/dev/termination-log || true; fi
  exit 1
}

drill() {
  : "${REDIS_MASTER_SET:?}" "${DRILL_DIR:?}" "${SCRATCH_DIR:?}"
  # The stamp in the name orders the snapshots; a .partial is never one.
  rdb=$(find "$DRILL_DIR" -maxdepth 1 -name "redis-$REDIS_MASTER_SET-*.rdb" | sort | tail -n 1)
  [ -n "$rdb" ] || drill_fail "no snapshot redis-$REDIS_MASTER_SET-*.rdb in $DRILL_DIR"
  scratch="$SCRATCH_DIR/redis-drill"
  rm -rf "$scratch"
  mkdir -p "$scratch/tmp"
  # restore's private socket and logs go to the scratch volume too.
  if ! out=$(TMPDIR="$scratch/tmp" restore "$rdb" "$scratch/data" 2>&1); then
    # restore's own verdict, and the last line of the detail it printed after it.
    reason=$(printf '%s\n' "$out" | grep -m 1 '^redis restore:' || true)
    detail=$(printf '%s\n' "$out" | grep -v '^$' | tail -n 1)
    if [ -n "$reason" ] && [ "$reason" != "$detail" ]; then reason="$reason $detail"; fi
    drill_fail "${reason:-$detail}"
  fi
  keys=$(printf '%s\n' "$out" | sed -n 's/.* holds the \([0-9][0-9]*\) keys of .*/\1/p')
  rm -rf "$scratch"
  summary="drill passed: redis $(basename "$rdb") ($(wc -c <"$rdb" | tr -d ' ') bytes): $keys keys, loaded from the RDB and again from the AOF written of it"
  echo "$summary"
  if [ -w /dev/termination-log ]; then printf '%s\n' "$summary" >/dev/termination-log || true; fi
}

case "${1:-backup}" in
  backup) [ $# -le 1 ] || usage; backup ;;
  restore) shift; restore "$@" ;;
  drill) [ $# -le 1 ] || usage; drill ;;
  *) usage ;;
esac
