#!/bin/sh
# MongoDB backup: one gzipped mongodump archive of every database, written under a temporary name and
# renamed once complete, then old archives pruned. Restore with
#   mongorestore --gzip --archive=FILE --oplogReplay   (--oplogReplay only for replica-set archives)
# On a replica set the dump reads from a secondary when one is up (readPreference=secondaryPreferred) and
# adds --oplog, which makes the archive a point-in-time snapshot: --oplog needs a replica-set member (the
# oplog is local.oplog.rs) and a full dump (mongodump refuses it together with --db), hence every database.
# Without MONGODB_REPLICA_SET (a standalone server) it dumps without --oplog.
# The password never reaches the command line: mongodump (database tools >= 100.3.0) reads it from a
# private --config file, which is deleted on exit.
# Environment: MONGODB_HOSTS (host:port[,host:port...]) MONGODB_USER MONGODB_PASSWORD MONGODB_AUTH_DB
#   MONGODB_REPLICA_SET (may be empty) BACKUP_DIR RETENTION_DAYS.
#
# drill (what the restore-drill CronJob runs): restores the newest archive in DRILL_DIR into a scratch
# mongod started in the pod (data in SCRATCH_DIR, 127.0.0.1 only, no users: nothing else can reach it,
# gone when the pod ends) and reports the documents of every collection in one line, `drill passed: ...`,
# also the pod's termination message; or exits 1 saying why. No --oplogReplay (the drill checks the dump,
# not the moments it ran during), no indexes (they are the initialiser's, from config; building them
# would only multiply the drill's time and memory) and no users or roles (admin.system.*: the scratch
# server needs none, and their password hashes have no business there). It needs mongod and mongorestore (the MongoDB image)
# and no login to the live replica set.
# Environment: DRILL_DIR SCRATCH_DIR; optional DRILL_TIMEOUT_SECONDS (120) for mongod to take connections.
set -eu

# For the URI: a name made of unreserved characters as is, any other one with every byte
# percent-encoded (always valid), so a user such as "ops@team" cannot break the URI.
pct() {
  case $1 in
    *[!A-Za-z0-9._~-]*) printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../%&/g' ;;
    *) printf '%s' "$1" ;;
  esac
}

backup() {
  : "${MONGODB_HOSTS:?}" "${MONGODB_USER:?}" "${MONGODB_PASSWORD:?}" "${MONGODB_AUTH_DB:?}"
  : "${BACKUP_DIR:?}" "${RETENTION_DAYS:?}"
  replica_set=${MONGODB_REPLICA_SET:-}
  # The archive holds every document: readable by the backup user only, like the config file.
  umask 077
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out="$BACKUP_DIR/mongodb-$stamp.archive.gz"
  work=$(mktemp -d)
  trap 'rm -rf "$work" "$out.partial"' EXIT
  trap 'exit 1' HUP INT TERM

  printf "password: '%s'\n" "$(printf '%s' "$MONGODB_PASSWORD" | sed "s/'/''/g")" >"$work/mongodump.yaml"

  uri="mongodb://$(pct "$MONGODB_USER")@$MONGODB_HOSTS/?authSource=$(pct "$MONGODB_AUTH_DB")"
  set --
  mode="standalone, no oplog"
  if [ -n "$replica_set" ]; then
    uri="$uri&replicaSet=$(pct "$replica_set")&readPreference=secondaryPreferred"
    set -- --oplog
    mode="replica set $replica_set, with oplog"
  fi

  mongodump --config="$work/mongodump.yaml" --uri="$uri" --gzip --archive="$out.partial" "$@"
  mv "$out.partial" "$out"
  echo "backup written: $out ($(wc -c <"$out") bytes, $mode)"
  find "$BACKUP_DIR" -maxdepth 1 -name 'mongodb-*.archive.gz*' -mtime +"$RETENTION_DAYS" -print -delete
}

drill_fail() {
  echo "drill failed: mongodb: $*" >&2
  if [ -w /dev/termination-log ]; then echo "drill failed: mongodb: $*" >/dev/termination-log || true; fi
  exit 1
}

drill() {
  : "${DRILL_DIR:?}" "${SCRATCH_DIR:?}"
  # The stamp in the name orders the archives; a .partial is never one.
  archive=$(find "$DRILL_DIR" -maxdepth 1 -name 'mongodb-*.archive.gz' | sort | tail -n 1)
  [ -n "$archive" ] || drill_fail "no archive mongodb-*.archive.gz in $DRILL_DIR"
  work="$SCRATCH_DIR/mongodb-drill"
  rm -rf "$work"
  mkdir -p "$work/data"
  port=27099
  mongod --dbpath "$work/data" --bind_ip 127.0.0.1 --port "$port" --logpath "$work/mongod.log" &
  mongod_pid=$!
  trap 'kill "$mongod_pid" 2>/dev/null || true' EXIT
  deadline=$(($(date +%s) + ${DRILL_TIMEOUT_SECONDS:-120}))
  # mongorestore's own connection attempt says when the scratch server takes connections.
  while :; do
    if mongorestore --uri="mongodb://127.0.0.1:$port/" --gzip --archive="$archive" --noIndexRestore \
      --nsExclude='admin.system.*' --stopOnError >"$work/restore.log" 2>&1; then
      break
    fi
    kill -0 "$mongod_pid" 2>/dev/null || drill_fail "the scratch mongod stopped: $(tail -n 2 "$work/mongod.log" | tr '\n' ' ')"
    if ! grep -qi 'connect\|server selection' "$work/restore.log" || [ "$(date +%s)" -ge "$deadline" ]; then
      drill_fail "mongorestore of $(basename "$archive") failed: $(tail -n 2 "$work/restore.log" | tr '\n' ' ')"
    fi
    sleep 1
  done
  failed=$(sed -n 's/.*[[:space:]]\([0-9][0-9]*\) document(s) failed to restore.*/\1/p' "$work/restore.log" | tail -n 1)
  restored=$(sed -n 's/.*[[:space:]]\([0-9][0-9]*\) document(s) restored successfully.*/\1/p' "$work/restore.log" | tail -n 1)
  [ -n "$restored" ] || drill_fail "mongorestore of $(basename "$archive") reported no count: $(tail -n 2 "$work/restore.log" | tr '\n' ' ')"
  [ "${failed:-0}" = 0 ] || drill_fail "$failed documents of $(basename "$archive") failed to restore"
  counts=$(sed -n 's/.*finished restoring \([^ ]*\) (\([0-9][0-9]*\) documents.*/\1=\2/p' "$work/restore.log" | sort | paste -sd ' ' -)
  collections=$(printf '%s\n' "$counts" | tr ' ' '\n' | grep -c . || true)
  summary="drill passed: mongodb $(basename "$archive") ($(wc -c <"$archive" | tr -d ' ') bytes): $collections collections, $restored documents: $counts"
  echo "$summary"
  if [ -w /dev/termination-log ]; then printf '%s\n' "$summary" | cut -c1-4000 >/dev/termination-log || true; fi
}

case "${1:-backup}" in
  backup) backup ;;
  drill) drill ;;
  *)
    echo "usage: sh mongodb.sh [backup | drill]" >&2
    exit 2
    ;;
esac
