#!/bin/sh
# Weaviate backup through its backup API (module backup-filesystem): starts a backup of every class,
# polls it until SUCCESS or FAILED, then writes the final status as a record into BACKUP_DIR (under a
# temporary name, renamed once complete) and prunes old records.
# The backup files themselves are written by Weaviate on its own volume (BACKUP_FILESYSTEM_PATH); Weaviate
# 1.22 has no API to list or delete backups, so their retention runs inside the Weaviate container (see
# weaviateStartScript in components/weaviate.ts). Needs only sh, curl, sed, find.
# Environment: WEAVIATE_URL (http://host:port) WEAVIATE_API_KEY BACKUP_DIR RETENTION_DAYS;
# optional BACKUP_ID (default ai-platform-<UTC stamp>), BACKUP_TIMEOUT_SECONDS (3600),
# BACKUP_POLL_SECONDS (5).
set -eu
id="${BACKUP_ID:-ai-platform-$(date -u +%Y%m%d-%H%M%S)}"
case "$id" in
  "" | *[!a-z0-9_-]*)
    echo "weaviate backup: invalid id '$id' (lower-case letters, digits, _ and - only)" >&2
    exit 2
    ;;
esac
api="${WEAVIATE_URL%/}/v1/backups/filesystem"
timeout="${BACKUP_TIMEOUT_SECONDS:-3600}"
poll="${BACKUP_POLL_SECONDS:-5}"

# call METHOD URL [BODY]: prints the response body, then the HTTP status on a last line of its own.
# The key reaches curl through a config file on stdin, so it never shows in a process listing.
call() {
  key=$(printf '%s' "$WEAVIATE_API_KEY" | sed 's/[\\"]/\\&/g')
  printf 'header = "Authorization: Bearer %s"\n' "$key" |
    curl -sS -K - -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} -w '\n%{http_code}' "$2"
}
status_of() { printf '%s\n' "$1" | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([A-Z]*\)".*/\1/p'; }
field_of() { printf '%s\n' "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"; }

out=$(call POST "$api" "{\"id\":\"$id\"}")
code=$(printf '%s\n' "$out" | sed -n '$p')
body=$(printf '%s\n' "$out" | sed '$d')
if [ "$code" != 200 ]; then
  case "$body" in
    *"no available classes to backup"*)
      echo "weaviate backup skipped: the database has no classes yet"
      exit 0
      ;;
  esac
  echo "weaviate backup $id not started: HTTP $code $body" >&2
  exit 1
fi

waited=0
while :; do
  out=$(call GET "$api/$id")
  code=$(printf '%s\n' "$out" | sed -n '$p')
  body=$(printf '%s\n' "$out" | sed '$d')
  [ "$code" = 200 ] || { echo "weaviate backup $id: status check failed: HTTP $code $body" >&2; exit 1; }
  case "$(status_of "$body")" in
    SUCCESS) break ;;
    FAILED)
      echo "weaviate backup $id failed: $(field_of error "$body")" >&2
      exit 1
      ;;
  esac
  if [ "$waited" -ge "$timeout" ]; then
    echo "weaviate backup $id still $(status_of "$body") after ${timeout}s; giving up" >&2
    exit 1
  fi
  sleep "$poll"
  waited=$((waited + poll))
done

record="$BACKUP_DIR/weaviate-$id.json"
printf '%s\n' "$body" >"$record.partial"
mv "$record.partial" "$record"
echo "backup written: weaviate $id at $(field_of path "$body") on the Weaviate volume (record $record)"
find "$BACKUP_DIR" -maxdepth 1 -name 'weaviate-*.json' -mtime +"$RETENTION_DAYS" -print -delete
