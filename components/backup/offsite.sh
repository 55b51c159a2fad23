#!/bin/sh
# Off-site copies of the backups in an S3 bucket (AWS S3 or any S3-compatible store), for the backup
# jobs and the restore runbook. Needs only sh, curl (7.75 or later: --aws-sigv4), sha256sum, md5sum,
# base64, sed and date. The keys reach curl through a config file on its stdin, never its command line.
#
#   upload FILE    puts FILE at <prefix>/<name of FILE>, the server checking the bytes it received
#                  against their MD5 (Content-MD5), with the file's SHA-256 as object metadata; then
#                  reads the object's size and SHA-256 back and fails unless both match the file's.
#                  Only then is FILE's copy counted as done (FILE.offsite, written last). FILE stays.
#   fetch NAME OUT gets <prefix>/NAME into OUT (through OUT.partial) and refuses it, leaving no OUT,
#                  unless its size and SHA-256 are the ones recorded at upload: a truncated or altered
#                  object is never restored.
#   prune DAYS     deletes the objects under <prefix>/ whose upload is older than DAYS days.
#   list           the objects under <prefix>/, one per line: name, size, upload time.
#   latest PATTERN DIR  fetches (as fetch does, checked) the newest object of the prefix whose name
#                  matches the shell PATTERN (names carry their UTC stamp, so the last in order) into
#                  DIR/<name>: what a restore drill runs first. Sub-folders (Weaviate's own backups) are
#                  not considered.
#   sync DIR DAYS  what a backup job runs after its backup: uploads every finished backup file in DIR
#                  that has no checked copy yet (not *.partial, not *.offsite), drops the records of
#                  files the local retention removed, then prunes the bucket's copies older than DAYS.
#                  Stops at the first failed upload (the files after it are tried on the next run).
#
# The reason of a failure also goes to /dev/termination-log when it is writable (Kubernetes shows it as
# the container's termination message: `kubectl get pod -o jsonpath='{..terminated.message}'`).
# Environment: S3_ENDPOINT (https://s3.eu-west-1.amazonaws.com, http://minio:9000, ...), S3_BUCKET,
# S3_PREFIX (no leading or trailing slash; may be empty), S3_REGION (us-east-1 when unset),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Path-style requests (<endpoint>/<bucket>/<key>), which
# every S3-compatible store accepts. Single PUT: objects up to 5 GiB.
# Exit status: 0 done; 1 the copy failed (the message says why: unreachable, refused, checksum); 2 usage.
set -eu

usage() {
  echo "usage: sh offsite.sh upload FILE | fetch NAME OUT | latest PATTERN DIR | prune DAYS | list | sync DIR DAYS" >&2
  exit 2
}

fail() {
  echo "offsite: $*" >&2
  if [ -w /dev/termination-log ]; then echo "offsite: $*" >/dev/termination-log || true; fi
  exit 1
}

# The settings, read once the arguments are known to be right.
settings() {
  : "${S3_ENDPOINT:?S3_ENDPOINT is not set}" "${S3_BUCKET:?S3_BUCKET is not set}"
  : "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is not set}" "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is not set}"
  region="${S3_REGION:-us-east-1}"
  prefix="${S3_PREFIX:-}"
  base="${S3_ENDPOINT%/}/$S3_BUCKET"
  where="s3 bucket $S3_BUCKET at $S3_ENDPOINT"
  headers_file=$(mktemp)
  body_file=$(mktemp)
  trap 'rm -f "$headers_file" "$body_file"' EXIT
}

key_of() { if [ -n "$prefix" ]; then echo "$prefix/$1"; else echo "$1"; fi; }

# s3 METHOD URL [CURL ARG...]: one signed request; sets $code (HTTP status, 000 when unreachable) and
# leaves the headers in $headers_file and the response in $body_file. On failure $body holds the
# server's answer or curl's error; a success's body (a whole backup for a fetch) is never read into it.
s3() {
  method=$1
  url=$2
  shift 2
  # The config on stdin holds the keys: curl's -K - reads it (quotes escaped for its syntax).
  code=$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
    curl -sS -K - --aws-sigv4 "aws:amz:$region:s3" -X "$method" -D "$headers_file" -o "$body_file" \
      -w '%{http_code}' --connect-timeout 10 --max-time 3600 "$@" "$url" 2>"$body_file.err") || true
  [ -n "$code" ] || code=000
  case "$code" in
    2??) body="" ;;
    *) body=$(cat "$body_file" "$body_file.err" 2>/dev/null) ;;
  esac
  rm -f "$body_file.err"
}

# Why a request failed, in one line: unreachable, the credentials refused, or the server's own code.
why() {
  case "$code" in
    000) echo "$where is not reachable: $(echo "$body" | tail -n 1)" ;;
    403) echo "$where refused the credentials of $AWS_ACCESS_KEY_ID ($(s3_code)): check the Secret's keys and the bucket policy" ;;
    404) echo "$where: not found ($(s3_code))" ;;
    *) echo "$where answered $code ($(s3_code))" ;;
  esac
}
s3_code() { echo "$body" | sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' | head -n 1; }

header() { sed -n "s/^$1: *\\([^[:space:]]*\\).*/\\1/Ip" "$headers_file" | tail -n 1; }

# hex_b64 HEX: the bytes HEX spells, base64 (printf's octal escapes: POSIX sh has no \x).
hex_b64() {
  escapes=""
  for byte in $(echo "$1" | sed 's/../& /g'); do escapes="$escapes\\$(printf '%03o' "0x$byte")"; done
  # shellcheck disable=SC2059 # the escapes are the format
  printf "$escapes" | base64
}

upload() {
  file=$1
  [ -f "$file" ] || fail "no file $file"
  name=$(basename "$file")
  key=$(key_of "$name")
  size=$(wc -c <"$file" | tr -d ' ')
  sha=$(sha256sum "$file" | cut -c1-64)
  md5=$(hex_b64 "$(md5sum "$file" | cut -c1-32)")
  rm -f "$file.offsite"
  s3 PUT "$base/$key" -H "Content-MD5: $md5" -H "x-amz-meta-sha256: $sha" -T "$file"
  [ "$code" = 200 ] || fail "upload of $name failed: $(why)"
  s3 HEAD "$base/$key" -I
  [ "$code" = 200 ] || fail "upload of $name not found after the PUT: $(why)"
  got_size=$(header content-length)
  got_sha=$(header x-amz-meta-sha256)
  [ "$got_size" = "$size" ] || fail "upload of $name: $where holds $got_size bytes, the file has $size"
  [ "$got_sha" = "$sha" ] || fail "upload of $name: $where records SHA-256 '$got_sha', the file's is $sha"
  printf 'key=%s\nsize=%s\nsha256=%s\n' "$key" "$size" "$sha" >"$file.offsite.partial"
  mv "$file.offsite.partial" "$file.offsite"
  echo "offsite copy checked: s3://$S3_BUCKET/$key ($size bytes, sha256 $sha)"
}

fetch() {
  name=$1
  out=$2
  key=$(key_of "$name")
  rm -f "$out.partial"
  s3 GET "$base/$key"
  [ "$code" = 200 ] || fail "fetch of $name failed: $(why)"
  mv "$body_file" "$out.partial"
  body_file=$(mktemp)
  want_sha=$(header x-amz-meta-sha256)
  want_size=$(header content-length)
  [ -n "$want_sha" ] || fail "fetch of $name: the object has no recorded SHA-256 (not uploaded by this script); refused"
  size=$(wc -c <"$out.partial" | tr -d ' ')
  sha=$(sha256sum "$out.partial" | cut -c1-64)
  if [ "$sha" != "$want_sha" ] || { [ -n "$want_size" ] && [ "$size" != "$want_size" ]; }; then
    rm -f "$out.partial"
    fail "fetch of $name: $size bytes with SHA-256 $sha, recorded $want_sha: truncated or altered; refused"
  fi
  mv "$out.partial" "$out"
  echo "fetched s3://$S3_BUCKET/$key into $out ($size bytes, sha256 checked)"
}

# The objects under the prefix as "key size lastmodified" lines (ListObjectsV2; one page of 1000).
objects() {
  list_prefix=""
  [ -n "$prefix" ] && list_prefix="$prefix/"
  # The query is signed as sent: a slash in it must be percent-encoded, as SigV4 canonicalises it.
  s3 GET "$base?list-type=2&max-keys=1000&prefix=$(echo "$list_prefix" | sed "s:/:%2F:g")"
  [ "$code" = 200 ] || fail "listing $where failed: $(why)"
  # One <Contents> per line; its fields in whatever order the server writes them.
  tr -d '\n' <"$body_file" | sed 's:<Contents>:\n<Contents>:g' | grep '^<Contents>' | while read -r entry; do
    field() { echo "$entry" | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p"; }
    echo "$(field Key) $(field Size) $(field LastModified)"
  done
}

list() { objects | while read -r key size when; do echo "${key#"$prefix"/} $size $when"; done; }

prune() {
  days=$1
  cutoff=$(date -u -d "@$(($(date -u +%s) - days * 86400))" +%Y-%m-%dT%H:%M:%S)
  objects | while read -r key size when; do
    # ISO 8601 UTC times compare as strings (expr: POSIX sh's test has no string order).
    if [ "$(expr "$(echo "$when" | cut -c1-19)" \< "$cutoff")" = 1 ]; then
      s3 DELETE "$base/$key"
      case "$code" in
        200 | 204) echo "offsite copy pruned: s3://$S3_BUCKET/$key ($size bytes, $when)" ;;
        *) fail "pruning $key failed: $(why)" ;;
      esac
    fi
  done
}

sync() {
  dir=$1
  [ -d "$dir" ] || fail "no folder $dir"
  uploaded=0
  for file in "$dir"/*; do
    [ -f "$file" ] || continue
    case "$file" in *.partial | *.offsite) continue ;; esac
    if [ -f "$file.offsite" ]; then continue; fi
    upload "$file"
    uploaded=$((uploaded + 1))
  done
  for record in "$dir"/*.offsite; do
    if [ -f "$record" ] && [ ! -e "${record%.offsite}" ]; then rm -f "$record"; fi
  done
  prune "$2"
  echo "offsite sync of $dir: $uploaded new cop$([ "$uploaded" = 1 ] && echo y || echo ies) checked"
}

latest() {
  pattern=$1
  dir=$2
  names=$(list) || exit 1
  newest=""
  for name in $(printf '%s\n' "$names" | cut -d' ' -f1); do
    case "$name" in */*) continue ;; esac
    # shellcheck disable=SC2254 # the pattern is the caller's glob
    case "$name" in $pattern) ;; *) continue ;; esac
    if [ -z "$newest" ] || [ "$(expr "$name" \> "$newest")" = 1 ]; then newest=$name; fi
  done
  [ -n "$newest" ] || fail "no backup matching $pattern in $where under '$prefix'"
  mkdir -p "$dir"
  fetch "$newest" "$dir/$newest"
}

is_days() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; }

case "${1:-}" in
  upload) [ $# -eq 2 ] || usage ;;
  fetch) [ $# -eq 3 ] || usage ;;
  latest) [ $# -eq 3 ] || usage ;;
  prune) { [ $# -eq 2 ] && is_days "$2"; } || usage ;;
  sync) { [ $# -eq 3 ] && is_days "$3"; } || usage ;;
  list) [ $# -eq 1 ] || usage ;;
  *) usage ;;
esac
settings
mode=$1
shift
"$mode" "$@"
