# scripts/services/weaviate.sh: Weaviate 1.22 for scripts/services.sh (sourced by it; uses its settings
# and scripts/lib/proc.sh), built from the Go module proxy. REST on 28088 (API key auth), gRPC 28051,
# cluster gossip/data 28946/28947, backup-filesystem module.
# NOTE: Weaviate 1.22 binds gRPC, its cluster ports and a Go pprof endpoint (6060, hard-coded) on all
# interfaces: 1.22 has no option to restrict them.
WEAVIATE_VERSION=1.22.6   # newest 1.22.x the Go module proxy serves (1.22.7+ answer 403)
WEAVIATE_PORT=28088
WEAVIATE_GRPC_PORT=28051
WEAVIATE_GOSSIP_PORT=28946            # data port must be gossip+1 (Weaviate rule)
WEAVIATE_DATA_PORT=28947
WEAVIATE_BIN="$CACHE/weaviate-$WEAVIATE_VERSION/bin/weaviate-server"

install_weaviate() {
  [[ -x $WEAVIATE_BIN ]] && return 0
  log "weaviate: building v$WEAVIATE_VERSION from the Go module proxy (a few minutes)"
  go_build_install "$WEAVIATE_BIN" build_weaviate
}

build_weaviate() { # DIR OUT
  run_logged "$1/build.log" env GOBIN="$2" \
    go install -trimpath -ldflags="-s -w" "github.com/weaviate/weaviate/cmd/weaviate-server@v$WEAVIATE_VERSION"
}

WEAVIATE_DIR="$RUN/weaviate"

weaviate_ready() {
  curl -fsS -m 3 -H "Authorization: Bearer $1" "http://$HOST:$WEAVIATE_PORT/v1/meta" | grep '"version"' >/dev/null
}

# Two API keys as the chart gets them (components/weaviate/values.ts): admin's (the initialiser, backups)
# is an admin, app's (the applications') read-only. A server started with another layout is restarted.
# The cluster API (data port) takes basic auth, as the chart sets it (CLUSTER_BASIC_AUTH_* from its own
# Secret weaviate-cluster-api-basic-auth).
WEAVIATE_AUTH_LAYOUT="keys=admin,app admins=admin readonly=app cluster=basic backups=filesystem,s3"
WEAVIATE_CLUSTER_USER=weaviate-cluster
# Where backup-s3 writes, on the S3 server (scripts/services/s3.sh).
WEAVIATE_S3_BUCKET=aipd-weaviate
WEAVIATE_S3_PATH=weaviate

start_weaviate() {
  local key appkey clusterpw state="already running"
  key=$(secret weaviate); appkey=$(secret weaviate-app); clusterpw=$(secret weaviate-cluster)
  [[ -x $WEAVIATE_BIN ]] || die "weaviate is not installed (run: $0 install)"
  mkdir -p "$WEAVIATE_DIR/data" "$WEAVIATE_DIR/backups"
  if [[ $(cat "$WEAVIATE_DIR/auth-layout" 2>/dev/null) != "$WEAVIATE_AUTH_LAYOUT" ]]; then
    pid_alive weaviate weaviate-server && log "weaviate: restarting with the new settings ($WEAVIATE_AUTH_LAYOUT)" && stop_weaviate
    echo "$WEAVIATE_AUTH_LAYOUT" >"$WEAVIATE_DIR/auth-layout"
  fi
  # backup-s3 (backup.s3 in a stack) writes into the S3 server's bucket; it must exist (again, after the
  # S3 server's data was reset).
  s3_bucket "$WEAVIATE_S3_BUCKET"
  if ! pid_alive weaviate weaviate-server; then
    state=started
    port_must_be_free weaviate "$WEAVIATE_PORT"
    port_must_be_free "weaviate grpc" "$WEAVIATE_GRPC_PORT"
    # The S3 keys as the chart passes them, by environment: exported in a subshell, so that no command
    # line holds them and no other server inherits them.
    (
      AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$(s3_secret)
      export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
      spawn weaviate "$WEAVIATE_DIR/weaviate.log" env \
        PERSISTENCE_DATA_PATH="$WEAVIATE_DIR/data" \
        DEFAULT_VECTORIZER_MODULE=none \
        ENABLE_MODULES=backup-filesystem,backup-s3 \
        BACKUP_FILESYSTEM_PATH="$WEAVIATE_DIR/backups" \
        BACKUP_S3_BUCKET="$WEAVIATE_S3_BUCKET" \
        BACKUP_S3_PATH="$WEAVIATE_S3_PATH" \
        BACKUP_S3_ENDPOINT="$HOST:$S3_PORT" \
        BACKUP_S3_USE_SSL=false \
        AWS_REGION=us-east-1 \
        AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false \
        AUTHENTICATION_APIKEY_ENABLED=true \
        AUTHENTICATION_APIKEY_ALLOWED_KEYS="$key,$appkey" \
        AUTHENTICATION_APIKEY_USERS=admin,app \
        AUTHORIZATION_ADMINLIST_ENABLED=true \
        AUTHORIZATION_ADMINLIST_USERS=admin \
        AUTHORIZATION_ADMINLIST_READONLY_USERS=app \
        CLUSTER_HOSTNAME=node1 \
        CLUSTER_GOSSIP_BIND_PORT="$WEAVIATE_GOSSIP_PORT" \
        CLUSTER_DATA_BIND_PORT="$WEAVIATE_DATA_PORT" \
        CLUSTER_BASIC_AUTH_USERNAME="$WEAVIATE_CLUSTER_USER" \
        CLUSTER_BASIC_AUTH_PASSWORD="$clusterpw" \
        GRPC_PORT="$WEAVIATE_GRPC_PORT" \
        QUERY_DEFAULTS_LIMIT=25 \
        DISK_USE_READONLY_PERCENTAGE=99 \
        PROMETHEUS_MONITORING_ENABLED=false \
        LOG_LEVEL=info \
        "$WEAVIATE_BIN" --host "$HOST" --port "$WEAVIATE_PORT" --scheme http
    )
  fi
  wait_until 120 weaviate weaviate_ready "$key" ||
    { tail -n 20 "$WEAVIATE_DIR/weaviate.log" >&2 || true; die "weaviate does not answer GET /v1/meta (log: $WEAVIATE_DIR/weaviate.log)"; }
  local ver
  ver=$(curl -fsS -m 3 -H "Authorization: Bearer $key" "http://$HOST:$WEAVIATE_PORT/v1/meta" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
  echo "weaviate: $state, ready on http://$HOST:$WEAVIATE_PORT, grpc $WEAVIATE_GRPC_PORT (Weaviate $ver, API key auth, backup-filesystem, backup-s3 to s3://$WEAVIATE_S3_BUCKET/$WEAVIATE_S3_PATH)"
}

stop_weaviate() { stop_pid weaviate weaviate-server TERM 30; }

status_weaviate() {
  local rc
  pid_alive weaviate weaviate-server && rc=0 || rc=1
  status_line weaviate $rc "http://$HOST:$WEAVIATE_PORT pid $(cat "$PIDS/weaviate.pid" 2>/dev/null || echo -)"
}
