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
set -eu
: "${MONGODB_HOSTS:?}" "${MONGODB_USER:?}" "${MONGODB_PASSWORD:?}" "${MONGODB_AUTH_DB:?}"
: "${BACKUP_DIR:?}" "${RETENTION_DAYS:?}"
replica_set=${MONGODB_REPLICA_SET:-}

# For the URI: a name made of unreserved characters as is, any other one with every byte
# percent-encoded (always valid), so a user such as "ops@team" cannot break the URI.
pct() {
  case $1 in
    *[!A-Za-z0-9._~-]*) printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../%&/g' ;;
    *) printf '%s' "$1" ;;
  esac
}

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
