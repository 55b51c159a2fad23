#!/bin/sh
# Weaviate backup and restore through its backup API (module backup-filesystem, or backup-s3 with
# WEAVIATE_BACKUP_BACKEND=s3): both start an operation, poll it until SUCCESS or FAILED and report it. Needs only sh, curl, sed, find (the backup
# job's image). The key reaches curl through a config file on stdin, so it never shows in a process
# listing.
#
# backup (no argument: what the backup CronJob runs): starts a backup of every class, then writes the final
# status as a record into BACKUP_DIR (under a temporary name, renamed once complete) and prunes old records.
# The backup files themselves are written by Weaviate: with backup-filesystem into BACKUP_FILESYSTEM_PATH,
# this job's claim mounted in the Weaviate pod (Weaviate 1.22 has no API to list or delete backups and
# writes them as its own user, so their retention runs inside the Weaviate container: weaviateStartScript
# in components/weaviate/values.ts); with backup-s3 into Weaviate's BACKUP_S3_BUCKET/BACKUP_S3_PATH, where
# the job's offsite.sh sync copies the records too and prunes both.
# Environment: WEAVIATE_URL (http://host:port) WEAVIATE_API_KEY BACKUP_DIR RETENTION_DAYS;
# optional WEAVIATE_BACKUP_BACKEND (filesystem, the default, or s3), BACKUP_ID (default ai-platform-<UTC stamp>), BACKUP_TIMEOUT_SECONDS (3600),
# BACKUP_POLL_SECONDS (5).
#
# restore BACKUP_ID [CLASS...] (no CLASS: every class of the backup): says which classes came back. The
# backup is read from the Weaviate's own backend (WEAVIATE_BACKUP_BACKEND): restore into the instance that
# made it, or into a fresh one that reads the same bucket and path (or whose BACKUP_FILESYSTEM_PATH holds
# the backup directory) and whose node name, CLUSTER_HOSTNAME, is the one in the backup. Weaviate restores only classes that do not exist: delete a damaged
# class first (DELETE /v1/schema/<Class>, which deletes its objects too).
# drill (what the restore-drill CronJob runs): takes the newest status record in DRILL_DIR, asks Weaviate
# for that backup (it must report SUCCESS), and on the filesystem backend checks the backup's own
# directory beside the records (DRILL_DIR/<id>: backup_config.json and a directory per node); then one
# line, `drill passed: ...`, also the pod's termination message; or exit 1 saying why. A read-only key
# does. No scratch Weaviate: a full restore is the README's (weaviate.sh restore).
# Environment: WEAVIATE_URL WEAVIATE_API_KEY DRILL_DIR; optional WEAVIATE_BACKUP_BACKEND.
#
# Environment: WEAVIATE_URL WEAVIATE_API_KEY; optional WEAVIATE_BACKUP_BACKEND, RESTORE_TIMEOUT_SECONDS (3600),
# RESTORE_POLL_SECONDS (5).
set -eu

usage() {
  echo "usage: sh weaviate.sh [backup] | sh weaviate.sh restore BACKUP_ID [CLASS...] | sh weaviate.sh drill" >&2
  exit 2
}

backup() {
  id="${BACKUP_ID:-ai-platform-$(date -u +%Y%m%d-%H%M%S)}"
  check_id
  what="backup $id"
  api="${WEAVIATE_URL%/}/v1/backups/$backend"
  timeout="${BACKUP_TIMEOUT_SECONDS:-3600}"
  poll="${BACKUP_POLL_SECONDS:-5}"

  request POST "$api" "{\"id\":\"$id\"}"
  if [ "$code" != 200 ]; then
    case "$body" in
      *"no available classes to backup"*)
        echo "weaviate backup skipped: the database has no classes yet"
        exit 0
        ;;
    esac
    echo "weaviate $what not started: HTTP $code $body" >&2
    exit 1
  fi
  wait_done "$api/$id"

  record="$BACKUP_DIR/weaviate-$id.json"
  printf '%s\n' "$body" >"$record.partial"
  mv "$record.partial" "$record"
  echo "backup written: weaviate $id at $(field_of path "$body") (record $record)"
  find "$BACKUP_DIR" -maxdepth 1 -name 'weaviate-*.json' -mtime +"$RETENTION_DAYS" -print -delete
}

restore() {
  [ $# -ge 1 ] || usage
  id=$1
  shift
  check_id
  what="restore of $id"
  include=""
  for class in "$@"; do
    case "$class" in
      [A-Z]*[!A-Za-z0-9_]* | [!A-Z]* | "")
        echo "weaviate restore: invalid class name '$class' (a capital letter, then letters, digits, _)" >&2
        exit 2
        ;;
    esac
    include="$include${include:+,}\"$class\""
  done
  data="{}"
  [ -z "$include" ] || data="{\"include\":[$include]}"
  api="${WEAVIATE_URL%/}/v1/backups/$backend/$id/restore"
  timeout="${RESTORE_TIMEOUT_SECONDS:-3600}"
  poll="${RESTORE_POLL_SECONDS:-5}"

  request POST "$api" "$data"
  if [ "$code" != 200 ]; then
    echo "weaviate $what not started: HTTP $code $body" >&2
    exit 1
  fi
  classes=$(classes_of "$body")
  echo "weaviate $what started: ${classes:-no class}"
  wait_done "$api"
  echo "weaviate $what done: $classes"
}

# check_id: $id is a backup id Weaviate takes.
check_id() {
  case "$id" in
    "" | *[!a-z0-9_-]*)
      echo "weaviate $mode: invalid backup id '$id' (lower-case letters, digits, _ and - only)" >&2
      exit 2
      ;;
  esac
}

# request METHOD URL [BODY]: sets $code to the HTTP status and $body to the response body.
request() {
  key=$(printf '%s' "$WEAVIATE_API_KEY" | sed 's/[\\"]/\\&/g')
  out=$(printf 'header = "Authorization: Bearer %s"\n' "$key" |
    curl -sS -K - -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} -w '\n%{http_code}' "$2")
  code=$(printf '%s\n' "$out" | sed -n '$p')
  body=$(printf '%s\n' "$out" | sed '$d')
}

# wait_done URL: polls the operation $what at URL every $poll seconds until SUCCESS ($body is then its
# final status); exits 1 on FAILED or after $timeout seconds, saying why.
wait_done() {
  waited=0
  while :; do
    request GET "$1"
    [ "$code" = 200 ] || { echo "weaviate $what: status check failed: HTTP $code $body" >&2; exit 1; }
    case "$(status_of "$body")" in
      SUCCESS) return 0 ;;
      FAILED)
        error=$(field_of error "$body")
        echo "weaviate $what failed: $error" >&2
        case "$mode $error" in
          restore*"already exists"*) echo "(Weaviate restores only missing classes: delete the class first, or restore into a fresh instance)" >&2 ;;
        esac
        exit 1
        ;;
    esac
    if [ "$waited" -ge "$timeout" ]; then
      echo "weaviate $what still $(status_of "$body") after ${timeout}s; giving up (it goes on in Weaviate)" >&2
      exit 1
    fi
    sleep "$poll"
    waited=$((waited + poll))
  done
}

status_of() { printf '%s\n' "$1" | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([A-Z]*\)".*/\1/p'; }
field_of() { printf '%s\n' "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"; }
classes_of() { printf '%s\n' "$1" | sed -n 's/.*"classes"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p' | tr -d '"'; }

drill_fail() {
  echo "drill failed: weaviate: $*" >&2
  if [ -w /dev/termination-log ]; then echo "drill failed: weaviate: $*" >/dev/termination-log || true; fi
  exit 1
}

drill() {
  : "${DRILL_DIR:?}"
  # The stamp in the id orders the records; a .partial is never one.
  record=$(find "$DRILL_DIR" -maxdepth 1 -name 'weaviate-*.json' | sort | tail -n 1)
  [ -n "$record" ] || drill_fail "no backup record weaviate-*.json in $DRILL_DIR"
  id=$(field_of id "$(cat "$record")")
  [ -n "$id" ] || drill_fail "$(basename "$record") names no backup id"
  check_id
  request GET "${WEAVIATE_URL%/}/v1/backups/$backend/$id"
  [ "$code" = 200 ] || drill_fail "backup $id on $backend: HTTP $code $body"
  status=$(status_of "$body")
  [ "$status" = SUCCESS ] || drill_fail "backup $id on $backend is $status: $(field_of error "$body")"
  where=$(field_of path "$body")
  files=""
  if [ "$backend" = filesystem ]; then
    # The claim that holds the records holds Weaviate's backups too: the backup's own files.
    dir="$DRILL_DIR/$id"
    [ -f "$dir/backup_config.json" ] || drill_fail "backup $id: no $dir/backup_config.json beside its record"
    nodes=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | wc -l | tr -d ' ')
    [ "$nodes" -gt 0 ] || drill_fail "backup $id: no node directory in $dir"
    files=", $(find "$dir" -type f | wc -l | tr -d ' ') files on $nodes node(s), $(du -sk "$dir" | cut -f1) KiB"
  fi
  summary="drill passed: weaviate backup $id ($backend, $where): SUCCESS$files"
  echo "$summary"
  if [ -w /dev/termination-log ]; then printf '%s\n' "$summary" >/dev/termination-log || true; fi
}

backend="${WEAVIATE_BACKUP_BACKEND:-filesystem}"
case "$backend" in
  filesystem | s3) ;;
  *) echo "weaviate: WEAVIATE_BACKUP_BACKEND is '$backend'; use filesystem or s3" >&2; exit 2 ;;
esac
mode="${1:-backup}"
case "$mode" in
  backup) [ $# -le 1 ] || usage; backup ;;
  restore) shift; restore "$@" ;;
  drill) [ $# -le 1 ] || usage; drill ;;
  *) usage ;;
esac
