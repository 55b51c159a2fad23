#!/bin/sh
# Redis restore: turns an RDB snapshot written by redis.sh (the backup CronJob) into a Redis data
# directory that a node starts from, with appendonly yes or no.
# Why not just copy the file to dump.rdb: Redis 7 started with `appendonly yes` (redis.persistence.aof,
# on by default) loads only the AOF; with no appendonlydir it starts EMPTY and ignores dump.rdb. So this
# script puts the snapshot in DATA_DIR as dump.rdb, loads it into a private redis-server (unix socket in
# a private directory, no TCP port) with appendonly off, turns the AOF on (Redis writes appendonlydir/
# from the loaded data), shuts it down, then starts it again with appendonly yes and checks that it
# holds the snapshot's keys (every key without a TTL; keys with one may expire meanwhile).
# Needs redis-server and redis-cli of the backup's Redis version or newer (the Redis image has both);
# redis-check-rdb is used when present.
#
# Usage: sh redis-restore.sh RDB_FILE DATA_DIR
#   DATA_DIR (created if missing) must hold no dump.rdb and no appendonlydir: move old data away first.
#   Other files (users.acl) are left alone. ACL users are not in an RDB.
# Environment: optional REDIS_RESTORE_TIMEOUT_SECONDS (600): for each load and for the AOF rewrite.
set -eu
if [ $# -ne 2 ]; then
  echo "usage: sh redis-restore.sh RDB_FILE DATA_DIR" >&2
  exit 2
fi
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
stop_server() {
  if [ -n "$pid" ]; then
    redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# The private server has no password: a REDISCLI_AUTH of the caller would only make redis-cli complain.
unset REDISCLI_AUTH
cli() { redis-cli -s "$sock" "$@"; }
# counts: "<keys> <keys with a TTL>", summed over every database (INFO keyspace).
counts() {
  cli INFO keyspace | tr -d '\r' | awk -F '[:=,]' '/^db[0-9]+:/ { k += $3; e += $5 } END { print k + 0, e + 0 }'
}

# start_server yes|no: a private redis-server on DATA_DIR, waits until it has loaded its data.
start_server() {
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" --dbfilename dump.rdb \
    --appendonly "$1" --appenddirname appendonlydir --save "" --daemonize no --logfile "$work/redis.log" &
  pid=$!
  waited=0
  while [ "$(cli PING 2>/dev/null)" != PONG ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      pid=""
      echo "redis restore: redis-server stopped while loading (appendonly $1):" >&2
      tail -n 10 "$work/redis.log" >&2
      exit 1
    fi
    if [ "$waited" -ge $((timeout * 10)) ]; then
      echo "redis restore: redis-server still loading after ${timeout}s (appendonly $1)" >&2
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

persistence() { cli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }

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
# The rewrite that writes appendonlydir/ from the loaded data: done once neither running nor scheduled
# and the manifest is there.
waited=0
while [ "$(persistence aof_rewrite_in_progress)" != 0 ] || [ "$(persistence aof_rewrite_scheduled)" != 0 ] ||
  [ ! -f "$dir/appendonlydir/appendonly.aof.manifest" ]; do
  if [ "$waited" -ge $((timeout * 10)) ]; then
    echo "redis restore: the AOF rewrite did not finish within ${timeout}s" >&2
    exit 1
  fi
  sleep 0.1
  waited=$((waited + 1))
done
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
