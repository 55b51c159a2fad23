# scripts/services/s3.sh: an S3 server for scripts/services.sh (sourced by it; uses its settings and
# scripts/lib/proc.sh): SeaweedFS (`weed mini`: master, volume server, filer and S3 gateway in one
# process), built from the Go module proxy, Apache-2.0. S3 on 28333 with SigV4 auth: one identity
# (`backup`, all actions) whose keys are in services.json. Every port of it is on 127.0.0.1.
# The off-site copies of the backups (components/backup/offsite.sh) are tested against it.
S3_MODULE=github.com/seaweedfs/seaweedfs
S3_VERSION=v0.0.0-20261109003541-7506e5f91cd6 # SeaweedFS 4.53; the version the issue names as served
S3_PORT=28333
# Its other ports (gRPC, admin), set one by one: the defaults (9333, 8888, ... and +10000 for gRPC)
# would land in other tools' ranges or in the ephemeral range.
S3_MASTER_PORT=28334
S3_VOLUME_PORT=28336
S3_FILER_PORT=28338
S3_ADMIN_PORT=28340
S3_BIN="$CACHE/seaweedfs-$S3_VERSION/bin/weed"
S3_DIR="$RUN/s3"
S3_ACCESS_KEY=aipd-backup
# The tests' one bucket (each test process writes under a folder of its own): SeaweedFS gives every
# bucket volumes of its own, so a bucket per test file per run used up the server's volumes.
S3_TEST_BUCKET=aipd-tests
# A data folder made for another layout (buckets per test) is reset: test data only.
S3_LAYOUT="buckets=$S3_TEST_BUCKET,aipd-weaviate"

# The key lives with the main run's secrets; the PostgreSQL 15 companion (its own run dir) names them in
# AIPD_S3_SECRETS so that its services.json points at the same server with the same key.
s3_secret() { SECRETS=${AIPD_S3_SECRETS:-$SECRETS} secret s3; }

install_s3() {
  [[ -x $S3_BIN ]] && return 0
  log "s3: building SeaweedFS $S3_VERSION from the Go module proxy (about 10 minutes)"
  go_build_install "$S3_BIN" build_s3
}

# `go install module/weed@version` refuses a module with replace directives: build inside a copy of it.
build_s3() { # DIR OUT
  local src
  run_logged "$1/download.log" sh -c 'go mod download -json "$1" >"$2"' _ "$S3_MODULE@$S3_VERSION" "$1/download.json"
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$1/download.json")
  [[ -d $src ]] || die "s3: go mod download gave no source folder for $S3_MODULE@$S3_VERSION (log: $1/download.log)"
  rm -rf "$1/src"
  cp -r "$src" "$1/src"
  chmod -R u+w "$1/src"
  (cd "$1/src" && run_logged "$1/build.log" go build -trimpath -ldflags="-s -w" -o "$2/weed" ./weed)
  rm -rf "$1/src"
}

# An unsigned request is refused (403) once the server is up with its identities loaded.
s3_ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' -m 3 "http://$HOST:$S3_PORT/") == 403 ]]; }

start_s3() {
  local key state="already running"
  key=$(s3_secret)
  [[ -x $S3_BIN ]] || die "s3 is not installed (run: $0 install)"
  if [[ $(cat "$S3_DIR/layout" 2>/dev/null) != "$S3_LAYOUT" ]]; then
    pid_alive s3 "$S3_BIN" && log "s3: resetting its test data for the layout $S3_LAYOUT" && stop_s3
    rm -rf "$S3_DIR/data"
    mkdir -p "$S3_DIR"
    echo "$S3_LAYOUT" >"$S3_DIR/layout"
  fi
  mkdir -p "$S3_DIR/data"
  (umask 077; printf '{"identities":[{"name":"backup","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","List","Tagging","Write"]}]}\n' \
    "$S3_ACCESS_KEY" "$key" >"$S3_DIR/identities.json")
  if ! pid_alive s3 "$S3_BIN"; then
    state=started
    local p
    for p in "$S3_PORT" "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT" "$S3_ADMIN_PORT"; do
      port_must_be_free s3 "$p"
    done
    spawn s3 "$S3_DIR/weed.log" "$S3_BIN" mini -dir="$S3_DIR/data" -ip="$HOST" -ip.bind="$HOST" \
      -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 1000)) -s3.config="$S3_DIR/identities.json" \
      -master.port="$S3_MASTER_PORT" -master.port.grpc=$((S3_MASTER_PORT + 1000)) \
      -volume.port="$S3_VOLUME_PORT" -volume.port.grpc=$((S3_VOLUME_PORT + 1000)) \
      -filer.port="$S3_FILER_PORT" -filer.port.grpc=$((S3_FILER_PORT + 1000)) \
      -admin.port="$S3_ADMIN_PORT" -admin.port.grpc=$((S3_ADMIN_PORT + 1000)) -admin.port.legacy=0 \
      -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0
  fi
  wait_until 120 s3 s3_ready ||
    { tail -n 20 "$S3_DIR/weed.log" >&2 || true; die "s3 does not answer on $HOST:$S3_PORT (log: $S3_DIR/weed.log)"; }
  s3_bucket "$S3_TEST_BUCKET"
  echo "s3: $state, ready on http://$HOST:$S3_PORT (SeaweedFS $("$S3_BIN" version 2>/dev/null | awk '{print $3}'), SigV4, access key $S3_ACCESS_KEY)"
}

# s3_bucket NAME: creates the bucket unless it exists (the key through curl's config on stdin).
s3_bucket() {
  local code
  code=$(printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$(s3_secret)" |
    curl -sS -K - --aws-sigv4 "aws:amz:us-east-1:s3" -X PUT -o /dev/null -w '%{http_code}' -m 30 \
      "http://$HOST:$S3_PORT/$1") || true
  [[ $code == 200 || $code == 409 ]] || die "s3: could not create bucket $1 (HTTP $code; log: $S3_DIR/weed.log)"
}

stop_s3() { stop_pid s3 "$S3_BIN" TERM 30; }

status_s3() {
  local rc
  pid_alive s3 "$S3_BIN" && rc=0 || rc=1
  status_line s3 $rc "http://$HOST:$S3_PORT pid $(cat "$PIDS/s3.pid" 2>/dev/null || echo -)"
}
