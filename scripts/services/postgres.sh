# scripts/services/postgres.sh: PostgreSQL for scripts/services.sh (sourced by it; uses its settings
# and scripts/lib/proc.sh). Port $PG_PORT (AIPD_PG_PORT, default 25432), user postgres,
# scram-sha-256, data checksums, pgvector.
#
# AIPD_PG_MAJOR 16 (default): PostgreSQL 16.2 from PyPI's `pgserver` wheel (Debian bookworm has no
# postgresql-16; no other download site is reachable here) + pgvector 0.8.0 built from Debian trixie's
# source package against the wheel's pg_config. 15: Debian bookworm's postgresql-15 (apt) + the same
# pgvector: the older major the initialisers must still work with (`start-pg15`).
# Data in $AIPD_RUN/postgres-<major>: a server of another major from the same run dir (a PG15 one in
# $AIPD_RUN/postgres, from before) is stopped first and its data kept.
#
# pgvector: the `deb-src ... trixie main` line lives in a private sources.list under
# $AIPD_CACHE/apt-trixie-src (with its own lists dir), used only for
# `apt-get source --download-only pgvector`; /etc/apt is not touched, so the machine
# never sees trixie binary packages and never upgrades anything to trixie.
PG_MAJOR=${AIPD_PG_MAJOR:-16}
PGSERVER_VERSION=0.1.4
PGSERVER_PG_VERSION=16.2
PGVECTOR_VERSION=0.8.0
PG_PORT=${AIPD_PG_PORT:-25432}
case $PG_MAJOR in
  16)
    # Installed outside $CACHE (which may be under /root): the `postgres` user runs these binaries.
    # Keyed by every version in it; the wheel itself is cached in $CACHE/pgserver-<v>. AIPD_OPT (default
    # /opt/ai-platform-data) moves it, e.g. for scripts/ci-cold.sh.
    PG_HOME="${AIPD_OPT:-/opt/ai-platform-data}/postgresql-$PGSERVER_PG_VERSION-pgserver-$PGSERVER_VERSION-pgvector-$PGVECTOR_VERSION"
    PG_BIN="$PG_HOME/pgserver/pginstall/bin"
    PG_APT=()
    ;;
  15)
    PG_HOME=""
    PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
    PG_APT=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR")
    ;;
  *) echo "$LOG_TAG: ERROR: AIPD_PG_MAJOR must be 16 or 15, not '$PG_MAJOR'" >&2; exit 2 ;;
esac

# The machine's Debian mirror (first main-archive URI in its apt sources).
debian_mirror() {
  local uri
  uri=$( {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' | tr ' ' '\n'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p'
  } | grep -E '^https?://[^ ]*/debian/?$' | head -n 1 || true)
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# PostgreSQL 16 from PyPI's pgserver wheel (manylinux, cp311; only its PostgreSQL build is used, never
# its Python code), unpacked whole into $PG_HOME: its binaries find libpq etc. in pgserver.libs/
# through an $ORIGIN rpath, and pg_config reports paths relative to where it is. No Python package is
# installed; `pip download` only fetches the file.
install_pgserver() {
  [[ -n $PG_HOME && ! -x $PG_BIN/postgres ]] || return 0
  local dl="$CACHE/pgserver-$PGSERVER_VERSION" wheel
  wheel=$(ls -1 "$dl"/pgserver-"$PGSERVER_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [[ -z $wheel ]]; then
    command -v python3 >/dev/null || die "python3 with pip is needed to fetch PostgreSQL 16 (PyPI pgserver)"
    log "postgres: fetching PostgreSQL $PGSERVER_PG_VERSION (PyPI pgserver $PGSERVER_VERSION)"
    mkdir -p "$dl"
    # The wheel for cp311/manylinux whatever this machine's own Python is (nothing is installed into it),
    # downloaded beside the cache and moved in once whole: a download cut short is never taken for it.
    rm -rf "$dl/.download"
    run_logged "$dl/download.log" python3 -m pip download --disable-pip-version-check --no-deps \
      --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
      --abi cp311 --dest "$dl/.download" "pgserver==$PGSERVER_VERSION"
    mv "$dl"/.download/pgserver-"$PGSERVER_VERSION"-*.whl "$dl/"
    rm -rf "$dl/.download"
    wheel=$(ls -1 "$dl"/pgserver-"$PGSERVER_VERSION"-*.whl | head -n 1)
  fi
  local parent tmp got
  parent=$(dirname "$PG_HOME")
  mkdir -p "$parent"
  chmod 755 "$parent"
  tmp=$(mktemp -d "$parent/.postgresql.XXXXXX")
  run_logged "$dl/unzip.log" python3 -m zipfile -e "$wheel" "$tmp"
  # zipfile drops the mode bits; the `postgres` user must read everything and run bin/.
  chmod -R u=rwX,go=rX "$tmp"
  chmod 755 "$tmp/pgserver/pginstall/bin/"*
  got=$("$tmp/pgserver/pginstall/bin/postgres" --version) || die "postgres: the pgserver wheel's postgres does not run"
  [[ $got == *" $PGSERVER_PG_VERSION" ]] || die "postgres: pgserver $PGSERVER_VERSION carries '$got', expected $PGSERVER_PG_VERSION"
  rm -rf "$PG_HOME"
  mv "$tmp" "$PG_HOME"
  log "postgres: $got in $PG_HOME"
}

# pgvector $PGVECTOR_VERSION into $PG_BIN's installation (the pgserver wheel brings an older one, which
# this replaces).
install_pgvector() {
  local pgc="$PG_BIN/pg_config" libdir sharedir
  libdir=$("$pgc" --pkglibdir)
  sharedir=$("$pgc" --sharedir)
  if [[ -f $libdir/vector.so && -f $sharedir/extension/vector--$PGVECTOR_VERSION.sql ]] &&
    grep -q "^default_version = '$PGVECTOR_VERSION'" "$sharedir/extension/vector.control"; then
    return 0
  fi
  # Reuse a cached source tarball if there is one; otherwise fetch trixie's source package.
  local tarball
  tarball=$(ls -1 "$CACHE/pgvector-$PGVECTOR_VERSION/pgvector_$PGVECTOR_VERSION.orig.tar.gz" 2>/dev/null || true)
  if [[ -z $tarball ]]; then
    local aptdir="$CACHE/apt-trixie-src" mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(debian_mirror)
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" "$aptdir/dl"
    # Source-only and private to this folder: the machine's apt never reads this file.
    printf 'deb-src [signed-by=%s] %s trixie main\n' "$keyring" "$mirror" >"$aptdir/sources.list"
    local aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list"
      -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
      -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
      -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
    log "pgvector: fetching Debian trixie source package from $mirror"
    run_logged "$aptdir/update.log" apt-get "${aptopts[@]}" update
    rm -f "$aptdir"/dl/*
    (cd "$aptdir/dl" && run_logged "$aptdir/source.log" apt-get "${aptopts[@]}" source --download-only pgvector)
    local orig ver
    orig=$(ls -1 "$aptdir"/dl/pgvector_*.orig.tar.gz | head -n 1)
    ver=$(basename "$orig" | sed 's/^pgvector_\(.*\)\.orig\.tar\.gz$/\1/')
    [[ $ver == "$PGVECTOR_VERSION" ]] ||
      die "pgvector: Debian trixie's source package is $ver, expected $PGVECTOR_VERSION (update PGVECTOR_VERSION)"
    # Into a temporary folder first: a copy cut short must never pass for the cached tarball.
    rm -rf "$CACHE/pgvector-$ver.tmp"
    mkdir -p "$CACHE/pgvector-$ver.tmp"
    cp "$aptdir"/dl/* "$CACHE/pgvector-$ver.tmp/"
    rm -rf "$CACHE/pgvector-$ver"
    mv "$CACHE/pgvector-$ver.tmp" "$CACHE/pgvector-$ver"
    tarball="$CACHE/pgvector-$ver/$(basename "$orig")"
  fi
  local dir ver src
  dir=$(dirname "$tarball")
  ver=${dir##*/pgvector-}
  src="$dir/build"
  log "pgvector: building $ver against PostgreSQL $PG_MAJOR"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  # OPTFLAGS="" = Debian's no-native patch (portable code, no -march=native).
  run_logged "$dir/make.log" make -C "$src" -j"$(nproc)" OPTFLAGS="" PG_CONFIG="$pgc"
  run_logged "$dir/make-install.log" make -C "$src" install OPTFLAGS="" PG_CONFIG="$pgc"
}

# One data dir per major version (a data dir only runs with the major that made it). $RUN/postgres is
# where the PostgreSQL 15 of earlier versions of this script kept its data.
PG_DIR="$RUN/postgres-$PG_MAJOR"
PG_DATA="$PG_DIR/data"
PG_OTHER_DIRS=("$RUN/postgres" "$RUN"/postgres-[0-9]*)

# A server of another major version started from this run dir (by an earlier version of this script,
# or with another AIPD_PG_MAJOR) holds the port: stop it (fast shutdown). Its data stays where it is.
stop_other_postgres() {
  local d pid
  for d in "${PG_OTHER_DIRS[@]}"; do
    [[ $d != "$PG_DIR" && -s $d/data/postmaster.pid ]] || continue
    pid=$(head -n 1 "$d/data/postmaster.pid")
    [[ $pid =~ ^[0-9]+$ ]] && proc_running "$pid" || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$d/data" >/dev/null || continue
    log "postgres: stopping the server of $d (pid $pid, another major version; its data is kept there)"
    kill_wait "$pid" INT 60 postgres
  done
}

# The OS user the server runs as: Debian's postgresql-common makes it; PostgreSQL 16 comes without it.
ensure_postgres_user() {
  id postgres >/dev/null 2>&1 && return 0
  log "postgres: adding the system user postgres"
  run_logged "$CACHE/useradd.log" useradd --system --user-group --no-create-home \
    --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
}

pg_running() {
  # postmaster.pid's first line is the postmaster pid; mirror it into our pid file.
  if [[ -s $PG_DATA/postmaster.pid ]]; then
    head -n 1 "$PG_DATA/postmaster.pid" >"$PIDS/postgres.pid.tmp" && mv "$PIDS/postgres.pid.tmp" "$PIDS/postgres.pid"
  fi
  pid_alive postgres "$PG_BIN/postgres"
}

pg_query() {
  PGPASSWORD="$(secret postgres)" PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -At -c "$1"
}

start_postgres() {
  local pw state=started
  pw=$(secret postgres)
  ensure_postgres_user
  runuser -u postgres -- test -x "$RUN" ||
    die "the postgres user cannot reach $RUN: pick an AIPD_RUN outside /root"
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    log "postgres: initdb $PG_DATA"
    rm -rf "$PG_DATA"
    runuser -u postgres -- mkdir -m 700 "$PG_DATA"
    local pwfile="$PG_DIR/.pwfile"
    (umask 077; printf '%s\n' "$pw" >"$pwfile")
    chown postgres:postgres "$pwfile"
    run_logged "$PG_DIR/initdb.log" runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" \
      --data-checksums --username=postgres --pwfile="$pwfile" \
      --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8
    rm -f "$pwfile"
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- ai-platform-data test server (scripts/services.sh)
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
password_encryption = 'scram-sha-256'
max_connections = 200
logging_collector = off
EOF
  fi
  if pg_running; then
    state="already running"
  else
    stop_other_postgres
    port_must_be_free postgres "$PG_PORT"
    run_logged "$PG_DIR/pg_ctl.log" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" \
      -l "$PG_DIR/postgres.log" -w -t 90 start
    pg_running || die "postgres did not start (log: $PG_DIR/postgres.log)"
  fi
  wait_until 60 postgres pg_query 'select 1' || die "postgres does not answer on $HOST:$PG_PORT (log: $PG_DIR/postgres.log)"
  local vec
  vec=$(pg_query "begin; create extension if not exists vector; select extversion from pg_extension where extname='vector'; rollback;") ||
    die "postgres: CREATE EXTENSION vector failed"
  local ver
  ver=$(pg_query 'show server_version' | cut -d' ' -f1)
  echo "postgres: $state, ready on $HOST:$PG_PORT (PostgreSQL $ver, pgvector $vec, data checksums on)"
}

stop_postgres() {
  pg_running || true
  stop_pid postgres "$PG_BIN/postgres" INT 60
  stop_other_postgres
}

status_postgres() {
  local rc
  pg_running && rc=0 || rc=1
  status_line postgres $rc "$HOST:$PG_PORT pid $(cat "$PIDS/postgres.pid" 2>/dev/null || echo -)"
}
