#!/bin/sh
# Weaviate restore of a backup made by weaviate.sh (the backup CronJob, module backup-filesystem):
# starts the restore through the backup API, polls it until SUCCESS or FAILED, and says which classes
# came back. The backup is read from the Weaviate's own BACKUP_FILESYSTEM_PATH: restore into the instance
# that made it, or into a fresh one whose backup path holds the backup directory (and whose node name,
# CLUSTER_HOSTNAME, is the one under that directory). Weaviate restores only classes that do not exist:
# delete a damaged class first (DELETE /v1/schema/<Class>, which deletes its objects too).
# Needs only sh, curl, sed (the backup job's image). The key reaches curl on stdin, never the command line.
#
# Usage: sh weaviate-restore.sh BACKUP_ID [CLASS...]   (no CLASS: every class of the backup)
# Environment: WEAVIATE_URL (http://host:port) WEAVIATE_API_KEY; optional RESTORE_TIMEOUT_SECONDS (3600),
# RESTORE_POLL_SECONDS (5).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: sh weaviate-restore.sh BACKUP_ID [CLASS...]" >&2
  exit 2
fi
id=$1
shift
case "$id" in
  "" | *[!a-z0-9_-]*)
    echo "weaviate restore: invalid backup id '$id' (lower-case letters, digits, _ and - only)" >&2
    exit 2
    ;;
esac
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
body="{}"
[ -z "$include" ] || body="{\"include\":[$include]}"
api="${WEAVIATE_URL%/}/v1/backups/filesystem/$id/restore"
timeout="${RESTORE_TIMEOUT_SECONDS:-3600}"
poll="${RESTORE_POLL_SECONDS:-5}"

# call METHOD URL [BODY]: prints the response body, then the HTTP status on a last line of its own.
call() {
  key=$(printf '%s' "$WEAVIATE_API_KEY" | sed 's/[\\"]/\\&/g')
  printf 'header = "Authorization: Bearer %s"\n' "$key" |
    curl -sS -K - -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} -w '\n%{http_code}' "$2"
}
status_of() { printf '%s\n' "$1" | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([A-Z]*\)".*/\1/p'; }
field_of() { printf '%s\n' "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"; }
classes_of() { printf '%s\n' "$1" | sed -n 's/.*"classes"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p' | tr -d '"'; }

out=$(call POST "$api" "$body")
code=$(printf '%s\n' "$out" | sed -n '$p')
body=$(printf '%s\n' "$out" | sed '$d')
if [ "$code" != 200 ]; then
  echo "weaviate restore of $id not started: HTTP $code $body" >&2
  exit 1
fi
classes=$(classes_of "$body")
echo "weaviate restore of $id started: ${classes:-no class}"

waited=0
while :; do
  out=$(call GET "$api")
  code=$(printf '%s\n' "$out" | sed -n '$p')
  body=$(printf '%s\n' "$out" | sed '$d')
  [ "$code" = 200 ] || { echo "weaviate restore $id: status check failed: HTTP $code $body" >&2; exit 1; }
  case "$(status_of "$body")" in
    SUCCESS) break ;;
    FAILED)
      error=$(field_of error "$body")
      echo "weaviate restore of $id failed: $error" >&2
      case "$error" in
        *"already exists"*) echo "(Weaviate restores only missing classes: delete the class first, or restore into a fresh instance)" >&2 ;;
      esac
      exit 1
      ;;
  esac
  if [ "$waited" -ge "$timeout" ]; then
    echo "weaviate restore of $id still $(status_of "$body") after ${timeout}s; giving up (it goes on in Weaviate)" >&2
    exit 1
  fi
  sleep "$poll"
  waited=$((waited + poll))
done
echo "weaviate restore of $id done: $classes"
