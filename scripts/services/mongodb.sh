# scripts/services/mongodb.sh: the MongoDB of scripts/services.sh (sourced by it; uses its settings and
# scripts/lib/proc.sh): FerretDB 1.24 (sqlite handler) speaking the MongoDB wire protocol on 27217, its
# debug/metrics/readyz HTTP endpoint on 27218; built from the Go module proxy.
#
# Auth: by default FerretDB 1.24 accepts only the PLAIN mechanism and, with the sqlite handler, ignores
# the credentials (anything, or nothing, connects). It is started with --test-enable-new-auth and a
# setup user instead, which gives real SCRAM-SHA-256 authentication (wrong password -> "Authentication
# failed", no credentials -> "requires authentication"). services.json therefore says authMechanism
# SCRAM-SHA-256, authSource admin, username admin.
FERRETDB_VERSION=1.24.2
MONGO_PORT=27217
MONGO_DEBUG_PORT=27218
FERRETDB_BIN="$CACHE/ferretdb-$FERRETDB_VERSION/bin/ferretdb"

install_ferretdb() {
  [[ -x $FERRETDB_BIN ]] && return 0
  log "ferretdb: building v$FERRETDB_VERSION from the Go module proxy"
  go_build_install "$FERRETDB_BIN" build_ferretdb
}

# `go install ...@version` would give a binary that panics at start: the module ships
# build/version/version.txt empty (its release tooling fills it in). So build from a copy of the
# module source with that file written.
build_ferretdb() { # DIR OUT
  local dir=$1 moddir
  run_logged "$dir/download.log" go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION"
  moddir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$dir/download.log")
  [[ -d $moddir ]] || die "ferretdb: module source not found (see $dir/download.log)"
  rm -rf "$dir/src"
  cp -r "$moddir" "$dir/src"
  chmod -R u+w "$dir/src"
  echo "v$FERRETDB_VERSION" >"$dir/src/build/version/version.txt"
  echo "aipd-source" >"$dir/src/build/version/package.txt"
  cd "$dir/src" || die "ferretdb: no $dir/src"
  run_logged "$dir/build.log" go build -trimpath -ldflags="-s -w" -o "$2/ferretdb" ./cmd/ferretdb
}

FERRET_DIR="$RUN/ferretdb"

ferretdb_ready() {
  tcp_open "$HOST" "$MONGO_PORT" && curl -fsS -m 3 "http://$HOST:$MONGO_DEBUG_PORT/debug/readyz" >/dev/null
}

start_ferretdb() {
  local pw state="already running"
  pw=$(secret mongodb)
  [[ -x $FERRETDB_BIN ]] || die "ferretdb is not installed (run: $0 install)"
  mkdir -p "$FERRET_DIR/data" "$FERRET_DIR/state"
  if ! pid_alive ferretdb /bin/ferretdb; then
    state=started
    port_must_be_free ferretdb "$MONGO_PORT"
    # --setup-* makes the user on first start (skipped once database admin exists);
    # the password goes through the environment, not the command line.
    spawn ferretdb "$FERRET_DIR/ferretdb.log" env FERRETDB_SETUP_PASSWORD="$pw" \
      "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$FERRET_DIR/data/" \
      --listen-addr="$HOST:$MONGO_PORT" --debug-addr="$HOST:$MONGO_DEBUG_PORT" \
      --state-dir="$FERRET_DIR/state" --telemetry=disable --log-level=info \
      --test-enable-new-auth --setup-database=admin --setup-username=admin
  fi
  wait_until 60 ferretdb ferretdb_ready ||
    { tail -n 20 "$FERRET_DIR/ferretdb.log" >&2 || true; die "ferretdb is not ready (log: $FERRET_DIR/ferretdb.log)"; }
  echo "mongodb: $state, ready on $HOST:$MONGO_PORT (FerretDB $FERRETDB_VERSION, sqlite handler, SCRAM-SHA-256 user admin, authSource admin)"
}

stop_ferretdb() { stop_pid ferretdb /bin/ferretdb TERM 30; }

status_ferretdb() {
  local rc
  pid_alive ferretdb /bin/ferretdb && rc=0 || rc=1
  status_line mongodb $rc "$HOST:$MONGO_PORT (FerretDB) pid $(cat "$PIDS/ferretdb.pid" 2>/dev/null || echo -)"
}
