#!/usr/bin/env bash
# scripts/services.sh: real database servers on 127.0.0.1 for the integration tests, and a
# Kubernetes control plane (scripts/kube.sh) for the helm-mode end-to-end tests.
#
# Usage:  bash scripts/services.sh start|stop|status|install|restart
#   install  install/build whatever is missing (apt packages, pgvector, Kafka jars,
#            Weaviate and FerretDB binaries); starts nothing.
#   start    install (if needed), start every server that is not running, wait until
#            each one answers, write services.json and print one line per service.
#            Idempotent: on a warm machine with everything running it only re-checks.
#   stop     stop every server through its pid file (SIGTERM/SIGINT, then SIGKILL).
#   status   one line per service; exit code 0 only if all of them are running.
# Each command also runs `scripts/kube.sh <command>` (after the servers on start, before them on
# stop): its builds, ports and run folder ($AIPD_RUN/kube) are described there.
#
# Must run as root (apt-get, and PostgreSQL is started as the `postgres` OS user).
# Needs: Debian bookworm with apt access, Go (>= 1.21), Java 17 + Maven, bash, curl.
#
# Environment:
#   AIPD_CACHE  downloads and builds, one folder per thing and version
#               (default $HOME/.cache/ai-platform-data): pgvector-<v>, kafka-<v>,
#               weaviate-<v>, ferretdb-<v>, go/ (module + build cache), maven-repo/,
#               apt-trixie-src/ (private apt lists used only for `apt-get source`).
#   AIPD_RUN    data, logs, pid files, secrets (default /tmp/ai-platform-data/services).
#               Must be traversable by the `postgres` user (so not under /root).
#               Delete it (after `stop`) to start from empty servers with new passwords.
#
# Timing (2 cores): cold install about 3.5 min plus apt; start with everything built
# but stopped 10-20 s; start with everything running about 1 s.
#
# Endpoints (127.0.0.1, but see the NOTE; credentials in $AIPD_RUN/services.json, 0600):
#   postgres  25432          PostgreSQL 15 (Debian) + pgvector (built from Debian trixie's
#                            source package), user postgres, scram-sha-256, data checksums.
#   mongodb   27217          FerretDB 1.24 (sqlite handler) speaking the MongoDB wire protocol.
#             27218          FerretDB debug/metrics/readyz HTTP endpoint.
#   redis     26379          master; 26380, 26381 replicas; requirepass/masterauth, aclfile.
#             26390-26392    Sentinels, master name `mymaster`, quorum 2, requirepass = the
#                            nodes' password (the chart's auth.sentinel: true).
#                            Redis and Sentinel rewrite their configs, so after a failover
#                            the master stays where it moved, across restarts too: ask
#                            the Sentinels. `rm -rf $AIPD_RUN/redis` (stopped) resets it.
#   kafka     29092          Kafka 3.6 KRaft (broker+controller), SASL_PLAINTEXT with
#                            SCRAM-SHA-512 (also SCRAM-SHA-256 and PLAIN), user admin.
#             29093          KRaft controller listener (PLAINTEXT, loopback).
#   weaviate  28088          Weaviate 1.22 REST (API key auth), 28051 gRPC,
#             28946/28947    cluster gossip/data ports.
#   kube      26443          kube-apiserver (scripts/kube.sh); services.json names its kubeconfig
#                            (admin, 0600), the credentials stay in that file.
#   NOTE: Weaviate 1.22 binds gRPC (28051), its cluster ports (28946/28947) and a Go
#   pprof endpoint (6060, hard-coded) on all interfaces: 1.22 has no option to restrict
#   them. Everything else listens on 127.0.0.1 only.
#
# FerretDB auth: by default FerretDB 1.24 accepts only the PLAIN mechanism and, with the
# sqlite handler, ignores the credentials (anything, or nothing, connects). This script
# starts it with --test-enable-new-auth and a setup user instead, which gives real
# SCRAM-SHA-256 authentication (wrong password -> "Authentication failed", no
# credentials -> "requires authentication"). services.json therefore says
# authMechanism SCRAM-SHA-256, authSource admin, username admin.
#
# pgvector: the `deb-src ... trixie main` line lives in a private sources.list under
# $AIPD_CACHE/apt-trixie-src (with its own lists dir), used only for
# `apt-get source --download-only pgvector`; /etc/apt is not touched, so the machine
# never sees trixie binary packages and never upgrades anything to trixie.
#
# Passwords are random (32 hex chars), made once and kept in $AIPD_RUN/secrets; they
# are never printed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
umask 022

# ---------------------------------------------------------------- settings
PG_MAJOR=15
KAFKA_VERSION=3.6.2
SCALA_VERSION=2.13
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25
WEAVIATE_VERSION=1.22.6   # newest 1.22.x the Go module proxy serves (1.22.7+ answer 403)
FERRETDB_VERSION=1.24.2

HOST=127.0.0.1
# Every port sits below 32768, outside Linux's ephemeral range (32768-60999): a port in that
# range can be held, at the moment a server starts, by the local end of some outgoing
# loopback connection, and the server's bind then fails (FerretDB's debug port did, in CI).
PG_PORT=25432
MONGO_PORT=27217
MONGO_DEBUG_PORT=27218
REDIS_PORTS=(26379 26380 26381)      # first one starts as the master
SENTINEL_PORTS=(26390 26391 26392)
REDIS_MASTER_NAME=mymaster
KAFKA_PORT=29092
KAFKA_CONTROLLER_PORT=29093
WEAVIATE_PORT=28088
WEAVIATE_GRPC_PORT=28051
WEAVIATE_GOSSIP_PORT=28946            # data port must be gossip+1 (Weaviate rule)
WEAVIATE_DATA_PORT=28947

CACHE="${AIPD_CACHE:-$HOME/.cache/ai-platform-data}"
RUN="${AIPD_RUN:-/tmp/ai-platform-data/services}"
KUBE_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kube.sh"
PIDS="$RUN/pids"
SECRETS="$RUN/secrets"
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
WEAVIATE_BIN="$CACHE/weaviate-$WEAVIATE_VERSION/bin/weaviate-server"
FERRETDB_BIN="$CACHE/ferretdb-$FERRETDB_VERSION/bin/ferretdb"

APT_PACKAGES=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" redis-server redis-sentinel
  redis-tools curl ca-certificates make gcc)

# ---------------------------------------------------------------- helpers
log() { printf '%s\n' "services: $*" >&2; }
die() { printf '%s\n' "services: ERROR: $*" >&2; exit 1; }

# run_logged LOGFILE CMD...: run quietly into LOGFILE; on failure show its tail and stop.
run_logged() {
  local logfile=$1; shift
  if ! "$@" >"$logfile" 2>&1 9>&-; then   # 9 = our lock: servers must not inherit it
    tail -n 40 "$logfile" >&2 || true
    die "command failed: $* (full log: $logfile)"
  fi
}

# proc_running PID: alive and not a zombie (an exited server can stay a zombie for a
# while when PID 1 is slow to reap).
proc_running() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s.
wait_until() {
  local timeout=$1; shift 2  # $2 only names what is awaited, for the reader
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive NAME TOKEN: pid file $PIDS/NAME.pid names a live process whose command line
# contains TOKEN (guards against a recycled pid).
pid_alive() {
  local f="$PIDS/$1.pid" pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$2" >/dev/null
}

# spawn NAME LOGFILE CMD...: start CMD detached (own session), pid into $PIDS/NAME.pid.
spawn() {
  local name=$1 logfile=$2; shift 2
  rm -f "$PIDS/$name.pid"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for i in $(seq 50); do [[ -s "$PIDS/$name.pid" ]] && return 0; sleep 0.1; done
  die "$name did not start (log: $logfile)"
}

# stop_pid NAME TOKEN SIGNAL TIMEOUT
stop_pid() {
  local name=$1 token=$2 sig=$3 timeout=$4 pid
  if pid_alive "$name" "$token"; then
    pid=$(<"$PIDS/$name.pid")
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while proc_running "$pid"; do
      if ((SECONDS >= deadline)); then
        log "$name (pid $pid) did not stop in ${timeout}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
        break
      fi
      sleep 0.2
    done
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid"
}

port_must_be_free() {
  if tcp_open "$HOST" "$2"; then
    die "$1: port $2 on $HOST is already in use by a process this script does not know (no valid pid file in $PIDS)"
  fi
}

# secret NAME: random hex password made once, kept in $SECRETS/NAME.
secret() {
  local f="$SECRETS/$1"
  if [[ ! -s $f ]]; then
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$f.tmp")
    mv "$f.tmp" "$f"
  fi
  cat "$f"
}

need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (apt-get, postgres user)"; }

# kube CMD: the Kubernetes control plane, same cache and run folder (fd 9, our lock, not inherited).
kube() { AIPD_CACHE="$CACHE" AIPD_RUN="$RUN" bash "$KUBE_SH" "$@" 9>&-; }
# cluster CMD: the cluster-shaped Kafka and Redis (scripts/cluster-servers.sh), run dir $RUN/cluster.
cluster() { AIPD_CACHE="$CACHE" AIPD_RUN="$RUN" bash "${KUBE_SH%/*}/cluster-servers.sh" "$@" 9>&-; }

# ---------------------------------------------------------------- install
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep 'install ok installed' >/dev/null; }

install_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  log "apt: installing ${missing[*]}"
  mkdir -p "$CACHE"
  # Keep package maintainer scripts from starting the distro's own postgres/redis
  # services (on 5432/6379) where the machine has no policy-rc.d of its own.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  run_logged "$CACHE/apt-update.log" apt-get -o DPkg::Lock::Timeout=600 update -q
  run_logged "$CACHE/apt-install.log" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "${missing[@]}"
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  local v
  v=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  [[ $v == 7.0.* ]] || log "warning: expected Redis 7.0.x, got ${v:-unknown}"
}

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

install_pgvector() {
  local pgc="$PG_BIN/pg_config" libdir sharedir
  libdir=$("$pgc" --pkglibdir)
  sharedir=$("$pgc" --sharedir)
  if [[ -f $libdir/vector.so && -f $sharedir/extension/vector.control ]]; then
    return 0
  fi
  # Reuse a cached source tarball if there is one; otherwise fetch trixie's source package.
  local tarball
  tarball=$(ls -1 "$CACHE"/pgvector-*/pgvector_*.orig.tar.gz 2>/dev/null | sort -V | tail -n 1 || true)
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
    mkdir -p "$CACHE/pgvector-$ver"
    cp "$aptdir"/dl/* "$CACHE/pgvector-$ver/"
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

install_kafka() {
  [[ -f $KAFKA_HOME/.complete ]] && return 0
  command -v mvn >/dev/null || die "mvn (Maven) is needed to fetch Kafka from Maven Central"
  command -v java >/dev/null || die "java is needed for Kafka"
  log "kafka: fetching kafka_$SCALA_VERSION $KAFKA_VERSION and dependencies from Maven Central"
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME/libs"
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.aipd</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>$RELOAD4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  run_logged "$KAFKA_HOME/mvn.log" mvn -B -f "$KAFKA_HOME/pom.xml" \
    -Dmaven.repo.local="$CACHE/maven-repo" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime
  [[ -f $KAFKA_HOME/libs/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar ]] || die "kafka jar missing after mvn"
  touch "$KAFKA_HOME/.complete"
}

go_env() {
  command -v go >/dev/null || die "go is needed to build Weaviate and FerretDB"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0
  export GOFLAGS="-modcacherw -buildvcs=false"
}

install_weaviate() {
  [[ -x $WEAVIATE_BIN ]] && return 0
  local dir="$CACHE/weaviate-$WEAVIATE_VERSION"
  log "weaviate: building v$WEAVIATE_VERSION from the Go module proxy (a few minutes)"
  mkdir -p "$dir"
  (
    go_env
    run_logged "$dir/build.log" env GOBIN="$dir/bin.tmp" \
      go install -trimpath -ldflags="-s -w" "github.com/weaviate/weaviate/cmd/weaviate-server@v$WEAVIATE_VERSION"
  )
  mkdir -p "$dir/bin"
  mv "$dir/bin.tmp/weaviate-server" "$WEAVIATE_BIN"
  rmdir "$dir/bin.tmp"
}

install_ferretdb() {
  [[ -x $FERRETDB_BIN ]] && return 0
  local dir="$CACHE/ferretdb-$FERRETDB_VERSION"
  log "ferretdb: building v$FERRETDB_VERSION from the Go module proxy"
  mkdir -p "$dir"
  (
    go_env
    # `go install ...@version` would give a binary that panics at start: the module
    # ships build/version/version.txt empty (its release tooling fills it in). So build
    # from a copy of the module source with that file written.
    local moddir
    run_logged "$dir/download.log" go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION"
    moddir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$dir/download.log")
    [[ -d $moddir ]] || die "ferretdb: module source not found (see $dir/download.log)"
    rm -rf "$dir/src"
    cp -r "$moddir" "$dir/src"
    chmod -R u+w "$dir/src"
    echo "v$FERRETDB_VERSION" >"$dir/src/build/version/version.txt"
    echo "aipd-source" >"$dir/src/build/version/package.txt"
    cd "$dir/src"
    run_logged "$dir/build.log" go build -trimpath -ldflags="-s -w" -o "$dir/bin.tmp/ferretdb" ./cmd/ferretdb
  )
  mkdir -p "$dir/bin"
  mv "$dir/bin.tmp/ferretdb" "$FERRETDB_BIN"
  rmdir "$dir/bin.tmp"
}

cmd_install() {
  need_root
  mkdir -p "$CACHE"
  install_apt
  install_pgvector
  install_kafka
  install_weaviate
  install_ferretdb
  kube install
}

# ---------------------------------------------------------------- postgres
PG_DIR="$RUN/postgres"
PG_DATA="$PG_DIR/data"

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
  id postgres >/dev/null 2>&1 || die "no postgres OS user (is postgresql-$PG_MAJOR installed?)"
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

stop_postgres() { pg_running || true; stop_pid postgres "$PG_BIN/postgres" INT 60; }

# ---------------------------------------------------------------- redis
REDIS_DIR="$RUN/redis"

redis_cli() { # redis_cli PORT PASSWORD ARGS...
  local port=$1 pw=$2; shift 2
  REDISCLI_AUTH="$pw" redis-cli --no-auth-warning -h "$HOST" -p "$port" "$@"
}

redis_pong() { [[ $(redis_cli "$1" "$2" ping 2>/dev/null) == PONG ]]; }
redis_linked() { redis_cli "$1" "$2" info replication 2>/dev/null | grep '^master_link_status:up' >/dev/null; }
sentinel_quorum() { redis_cli "$1" "$2" sentinel ckquorum "$REDIS_MASTER_NAME" 2>/dev/null | grep '^OK' >/dev/null; }

write_redis_configs() {
  local pw spw hash port i
  pw=$(secret redis)
  spw=$(sentinel_secret)
  hash=$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1)
  for i in "${!REDIS_PORTS[@]}"; do
    port=${REDIS_PORTS[$i]}
    local d="$REDIS_DIR/node-$port"
    [[ -f $d/redis.conf ]] && continue   # Redis/Sentinel rewrite it (CONFIG REWRITE, failover)
    mkdir -p "$d/data"
    (umask 077; printf 'user default on #%s ~* &* +@all\n' "$hash" >"$d/users.acl")
    (umask 077; cat >"$d/redis.conf" <<EOF
# ai-platform-data test server (scripts/services.sh); Redis rewrites this file.
port $port
bind $HOST
protected-mode yes
daemonize yes
pidfile $PIDS/redis-$port.pid
logfile $d/redis.log
dir $d/data
dbfilename dump.rdb
appendonly no
# default user's password; the aclfile (ACL SAVE target) holds the same user.
requirepass $pw
masterauth $pw
aclfile $d/users.acl
replica-announce-ip $HOST
EOF
    if ((i > 0)); then echo "replicaof $HOST ${REDIS_PORTS[0]}" >>"$d/redis.conf"; fi)
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    local d="$REDIS_DIR/sentinel-$port"
    [[ -f $d/sentinel.conf ]] && continue  # Sentinel rewrites it with what it learned
    mkdir -p "$d"
    (umask 077; cat >"$d/sentinel.conf" <<EOF
# ai-platform-data test sentinel (scripts/services.sh); Sentinel rewrites this file.
port $port
bind $HOST
daemonize yes
pidfile $PIDS/sentinel-$port.pid
logfile $d/sentinel.log
dir $d
requirepass $spw
sentinel sentinel-pass $spw
sentinel announce-ip $HOST
sentinel announce-port $port
sentinel resolve-hostnames no
sentinel monitor $REDIS_MASTER_NAME $HOST ${REDIS_PORTS[0]} 2
sentinel auth-pass $REDIS_MASTER_NAME $pw
sentinel down-after-milliseconds $REDIS_MASTER_NAME 5000
sentinel failover-timeout $REDIS_MASTER_NAME 60000
sentinel parallel-syncs $REDIS_MASTER_NAME 1
EOF
    )
  done
}

# The Sentinels take the nodes' password, as the pinned chart configures them (auth.sentinel: true): so the
# helm-mode e2e, whose Redis component hands the initialiser one password for both, reaches these servers.
# (External Sentinels with a password of their own stay covered by the unit tests of redisSentinelPassword.)
sentinel_secret() { secret redis; }
REDIS_AUTH_LAYOUT="sentinel-password=nodes"

# A Redis dir made when the Sentinels had a password of their own is stopped and reset (passwords kept).
reset_redis_if_auth_changed() {
  local stamp="$REDIS_DIR/auth-layout" port
  [[ -d $REDIS_DIR ]] || return 0
  [[ -f $stamp && $(<"$stamp") == "$REDIS_AUTH_LAYOUT" ]] && return 0
  log "redis: $REDIS_DIR was made with another Sentinel password layout: stopping and resetting it"
  for port in "${SENTINEL_PORTS[@]}"; do stop_pid "sentinel-$port" ":$port" TERM 30; done
  for port in "${REDIS_PORTS[@]}"; do stop_pid "redis-$port" ":$port" TERM 30; done
  rm -rf "$REDIS_DIR"
}

start_redis() {
  local pw spw port started=0
  reset_redis_if_auth_changed
  pw=$(secret redis)
  spw=$(sentinel_secret)
  write_redis_configs
  echo "$REDIS_AUTH_LAYOUT" >"$REDIS_DIR/auth-layout"
  for port in "${REDIS_PORTS[@]}"; do
    if ! pid_alive "redis-$port" ":$port"; then
      port_must_be_free "redis $port" "$port"
      run_logged "$REDIS_DIR/node-$port/start.log" redis-server "$REDIS_DIR/node-$port/redis.conf"
      started=1
    fi
  done
  for port in "${REDIS_PORTS[@]}"; do
    wait_until 30 "redis $port" redis_pong "$port" "$pw" ||
      die "redis on $port does not answer (log: $REDIS_DIR/node-$port/redis.log)"
  done
  # Every replica linked to its master.
  for port in "${REDIS_PORTS[@]}"; do
    local role
    role=$(redis_cli "$port" "$pw" info replication | tr -d '\r' | sed -n 's/^role://p')
    if [[ $role == slave ]]; then
      wait_until 60 "replica $port" redis_linked "$port" "$pw" || die "redis replica $port is not linked to its master"
    fi
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    if ! pid_alive "sentinel-$port" ":$port"; then
      port_must_be_free "sentinel $port" "$port"
      run_logged "$REDIS_DIR/sentinel-$port/start.log" redis-sentinel "$REDIS_DIR/sentinel-$port/sentinel.conf"
      started=1
    fi
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    wait_until 30 "sentinel $port" redis_pong "$port" "$spw" ||
      die "sentinel on $port does not answer (log: $REDIS_DIR/sentinel-$port/sentinel.log)"
  done
  # Sentinels find each other through hello messages (every 2 s); wait for the quorum.
  wait_until 60 "sentinel quorum" sentinel_quorum "${SENTINEL_PORTS[0]}" "$spw" ||
    die "sentinels do not reach quorum for $REDIS_MASTER_NAME (logs: $REDIS_DIR/sentinel-*/sentinel.log)"
  local master ver
  master=$(redis_cli "${SENTINEL_PORTS[0]}" "$spw" sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" | paste -sd: -)
  ver=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  local state="already running"; ((started)) && state=started
  echo "redis: $state, ready: nodes $HOST:${REDIS_PORTS[*]}, sentinels $HOST:${SENTINEL_PORTS[*]}, $REDIS_MASTER_NAME at $master, quorum 2 (Redis $ver)"
}

stop_redis() {
  local port i
  for port in "${SENTINEL_PORTS[@]}"; do stop_pid "sentinel-$port" ":$port" TERM 20; done
  for ((i = ${#REDIS_PORTS[@]} - 1; i >= 0; i--)); do
    port=${REDIS_PORTS[$i]}
    stop_pid "redis-$port" ":$port" TERM 30
  done
}

# ---------------------------------------------------------------- kafka
KAFKA_DIR="$RUN/kafka"

write_kafka_config() {
  local pw=$1
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  (umask 077; cat >"$KAFKA_DIR/server.properties" <<EOF
# ai-platform-data test broker (scripts/services.sh): KRaft, broker+controller in one JVM.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=CLIENT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://$HOST:$KAFKA_PORT
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$pw" user_admin="$pw";
super.users=User:admin
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  cat >"$KAFKA_DIR/client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
EOF
  )
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

# JVM for Kafka's command-line tools (they log to logs/tools, not the broker's log).
kafka_tool() { # kafka_tool LOGFILE MAINCLASS ARGS...
  local logfile=$1; shift
  mkdir -p "$KAFKA_DIR/logs/tools"
  run_logged "$logfile" timeout 120 java -Xmx256m -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties" "-Dkafka.logs.dir=$KAFKA_DIR/logs/tools" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

kafka_listening() { pid_alive kafka kafka.Kafka && tcp_open "$HOST" "$KAFKA_PORT"; }

start_kafka() {
  local pw state="already running"
  pw=$(secret kafka)
  [[ -f $KAFKA_HOME/.complete ]] || die "kafka is not installed (run: $0 install)"
  write_kafka_config "$pw"
  if ! pid_alive kafka kafka.Kafka; then
    state=started
    port_must_be_free kafka "$KAFKA_PORT"
    port_must_be_free "kafka controller" "$KAFKA_CONTROLLER_PORT"
    if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
      [[ -s $KAFKA_DIR/cluster.id ]] ||
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$KAFKA_DIR/cluster.id"
      log "kafka: formatting storage (KRaft cluster $(<"$KAFKA_DIR/cluster.id"))"
      kafka_tool "$KAFKA_DIR/format.log" kafka.tools.StorageTool format \
        -t "$(<"$KAFKA_DIR/cluster.id")" -c "$KAFKA_DIR/server.properties" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$pw]" \
        --add-scram "SCRAM-SHA-256=[name=admin,password=$pw]"
    fi
    spawn kafka "$KAFKA_DIR/stdout.log" java -Xmx512m -Xms128m -XX:+UseG1GC -Djava.awt.headless=true \
      "-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties" "-Dkafka.logs.dir=$KAFKA_DIR/logs" \
      -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  fi
  wait_until 120 kafka kafka_listening ||
    { tail -n 20 "$KAFKA_DIR/logs/server.log" >&2 || true; die "kafka does not listen on $HOST:$KAFKA_PORT (log: $KAFKA_DIR/logs/server.log)"; }
  if [[ $state == started ]]; then
    # A real SASL/SCRAM-SHA-512 round trip (one extra JVM start, only after a fresh start).
    kafka_tool "$KAFKA_DIR/sasl-check.log" kafka.admin.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
      --command-config "$KAFKA_DIR/client.properties" --list
  fi
  echo "kafka: $state, ready on $HOST:$KAFKA_PORT (Kafka $KAFKA_VERSION KRaft, SASL_PLAINTEXT SCRAM-SHA-512/256 + PLAIN; controller $HOST:$KAFKA_CONTROLLER_PORT)"
}

stop_kafka() { stop_pid kafka kafka.Kafka TERM 60; }

# ---------------------------------------------------------------- weaviate
WEAVIATE_DIR="$RUN/weaviate"

weaviate_ready() {
  curl -fsS -m 3 -H "Authorization: Bearer $1" "http://$HOST:$WEAVIATE_PORT/v1/meta" | grep '"version"' >/dev/null
}

start_weaviate() {
  local key state="already running"
  key=$(secret weaviate)
  [[ -x $WEAVIATE_BIN ]] || die "weaviate is not installed (run: $0 install)"
  mkdir -p "$WEAVIATE_DIR/data" "$WEAVIATE_DIR/backups"
  if ! pid_alive weaviate weaviate-server; then
    state=started
    port_must_be_free weaviate "$WEAVIATE_PORT"
    port_must_be_free "weaviate grpc" "$WEAVIATE_GRPC_PORT"
    spawn weaviate "$WEAVIATE_DIR/weaviate.log" env \
      PERSISTENCE_DATA_PATH="$WEAVIATE_DIR/data" \
      DEFAULT_VECTORIZER_MODULE=none \
      ENABLE_MODULES=backup-filesystem \
      BACKUP_FILESYSTEM_PATH="$WEAVIATE_DIR/backups" \
      AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false \
      AUTHENTICATION_APIKEY_ENABLED=true \
      AUTHENTICATION_APIKEY_ALLOWED_KEYS="$key" \
      AUTHENTICATION_APIKEY_USERS=admin \
      CLUSTER_HOSTNAME=node1 \
      CLUSTER_GOSSIP_BIND_PORT="$WEAVIATE_GOSSIP_PORT" \
      CLUSTER_DATA_BIND_PORT="$WEAVIATE_DATA_PORT" \
      GRPC_PORT="$WEAVIATE_GRPC_PORT" \
      QUERY_DEFAULTS_LIMIT=25 \
      DISK_USE_READONLY_PERCENTAGE=99 \
      PROMETHEUS_MONITORING_ENABLED=false \
      LOG_LEVEL=info \
      "$WEAVIATE_BIN" --host "$HOST" --port "$WEAVIATE_PORT" --scheme http
  fi
  wait_until 120 weaviate weaviate_ready "$key" ||
    { tail -n 20 "$WEAVIATE_DIR/weaviate.log" >&2 || true; die "weaviate does not answer GET /v1/meta (log: $WEAVIATE_DIR/weaviate.log)"; }
  local ver
  ver=$(curl -fsS -m 3 -H "Authorization: Bearer $key" "http://$HOST:$WEAVIATE_PORT/v1/meta" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
  echo "weaviate: $state, ready on http://$HOST:$WEAVIATE_PORT, grpc $WEAVIATE_GRPC_PORT (Weaviate $ver, API key auth, backup-filesystem)"
}

stop_weaviate() { stop_pid weaviate weaviate-server TERM 30; }

# ---------------------------------------------------------------- ferretdb
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

# ---------------------------------------------------------------- services.json
write_services_json() {
  local pg mg rd rs kf wv
  pg=$(secret postgres); mg=$(secret mongodb); rd=$(secret redis)
  rs=$(sentinel_secret); kf=$(secret kafka); wv=$(secret weaviate)
  local nodes="" sents="" p
  for p in "${REDIS_PORTS[@]}"; do nodes+="${nodes:+,}{\"host\":\"$HOST\",\"port\":$p}"; done
  for p in "${SENTINEL_PORTS[@]}"; do sents+="${sents:+,}{\"host\":\"$HOST\",\"port\":$p}"; done
  # Passwords are hex, so no JSON escaping is needed.
  (umask 077; cat >"$RUN/services.json.tmp" <<EOF
{
 "postgres": {"host":"$HOST","port":$PG_PORT,"user":"postgres","password":"$pg","database":"postgres"},
 "mongodb": {"host":"$HOST","port":$MONGO_PORT,"metricsPort":$MONGO_DEBUG_PORT,"username":"admin","password":"$mg","authSource":"admin","authMechanism":"SCRAM-SHA-256","uri":"mongodb://admin:$mg@$HOST:$MONGO_PORT/?authSource=admin&authMechanism=SCRAM-SHA-256"},
 "redis": {"password":"$rd","masterName":"$REDIS_MASTER_NAME","sentinelPassword":"$rs","nodes":[$nodes],"sentinels":[$sents]},
 "kafka": {"brokers":["$HOST:$KAFKA_PORT"],"mechanism":"scram-sha-512","username":"admin","password":"$kf"},
 "weaviate": {"scheme":"http","host":"$HOST","port":$WEAVIATE_PORT,"grpcPort":$WEAVIATE_GRPC_PORT,"apiKey":"$wv","backupPath":"$WEAVIATE_DIR/backups"},
 "kube": $(kube json)
}
EOF
  )
  mv "$RUN/services.json.tmp" "$RUN/services.json"
}

# ---------------------------------------------------------------- commands
# The ports are written into the servers' own state (Redis and Sentinel rewrite their
# configs with peer addresses, Kafka's listeners, ...). A run dir made with other ports is
# therefore stopped and its server data reset; secrets (passwords) are kept.
LAYOUT="ports pg=$PG_PORT mongo=$MONGO_PORT/$MONGO_DEBUG_PORT redis=${REDIS_PORTS[*]} sentinel=${SENTINEL_PORTS[*]} kafka=$KAFKA_PORT/$KAFKA_CONTROLLER_PORT weaviate=$WEAVIATE_PORT/$WEAVIATE_GRPC_PORT/$WEAVIATE_GOSSIP_PORT/$WEAVIATE_DATA_PORT"

# The command-line token that proves a pid file's process is ours (see pid_alive).
pid_token() {
  case $1 in
    postgres) echo "$PG_BIN/postgres" ;;
    redis-* | sentinel-*) echo ":${1#*-}" ;;
    kafka) echo kafka.Kafka ;;
    weaviate) echo weaviate-server ;;
    ferretdb) echo /bin/ferretdb ;;
    *) echo "" ;;
  esac
}

reset_if_layout_changed() {
  local stamp="$RUN/layout" f name token
  [[ -f $stamp && $(<"$stamp") == "$LAYOUT" ]] && return 0
  if [[ -d $PIDS || -d $PG_DIR || -d $REDIS_DIR || -d $KAFKA_DIR || -d $WEAVIATE_DIR || -d $FERRET_DIR ]]; then
    log "the run dir $RUN was made with other ports: stopping its servers and resetting their data"
    for f in "$PIDS"/*.pid; do
      [[ -e $f ]] || continue
      name=$(basename "$f" .pid)
      token=$(pid_token "$name")
      [[ -n $token ]] && stop_pid "$name" "$token" TERM 60
      rm -f "$f"
    done
    rm -rf "$PG_DIR" "$REDIS_DIR" "$KAFKA_DIR" "$WEAVIATE_DIR" "$FERRET_DIR" "$RUN/services.json"
  fi
  mkdir -p "$RUN"
  echo "$LAYOUT" >"$stamp"
}

prepare_run() {
  mkdir -p "$RUN" "$PIDS"
  chmod 755 "$RUN"
  reset_if_layout_changed
}

# One services.sh at a time per run dir. fd 9 is closed for every server we start
# (see run_logged/spawn), so a running server never holds the lock.
with_lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.services.lock"
  if ! flock -n 9; then
    log "waiting for another services.sh (lock $RUN/.services.lock)"
    flock -w 900 9 || die "another services.sh still holds $RUN/.services.lock"
  fi
}

cmd_start() {
  need_root
  with_lock
  cmd_install
  prepare_run
  write_services_json
  start_postgres
  start_redis
  start_kafka
  start_weaviate
  start_ferretdb
  cluster start
  kube start
  log "endpoints and credentials: $RUN/services.json"
}

cmd_stop() {
  [[ -d $RUN ]] || return 0
  with_lock
  mkdir -p "$PIDS"
  kube stop
  cluster stop
  stop_ferretdb
  stop_weaviate
  stop_kafka
  stop_redis
  stop_postgres
}

status_line() { # NAME RUNNING(0/1) DETAIL
  if [[ $2 == 0 ]]; then
    printf '%-9s running  %s\n' "$1:" "$3"
  else
    printf '%-9s stopped  %s\n' "$1:" "$3"
    STATUS_RC=3
  fi
}

cmd_status() {
  STATUS_RC=0
  mkdir -p "$PIDS" 2>/dev/null || true
  local rc
  pg_running && rc=0 || rc=1
  status_line postgres $rc "$HOST:$PG_PORT pid $(cat "$PIDS/postgres.pid" 2>/dev/null || echo -)"
  local port up=0 total=0 detail=""
  for port in "${REDIS_PORTS[@]}"; do
    total=$((total + 1)); pid_alive "redis-$port" ":$port" && up=$((up + 1)) && detail+=" $port" || detail+=" ($port down)"
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    total=$((total + 1)); pid_alive "sentinel-$port" ":$port" && up=$((up + 1)) && detail+=" s$port" || detail+=" (s$port down)"
  done
  ((up == total)) && rc=0 || rc=1
  status_line redis $rc "$up/$total processes:$detail"
  pid_alive kafka kafka.Kafka && rc=0 || rc=1
  status_line kafka $rc "$HOST:$KAFKA_PORT pid $(cat "$PIDS/kafka.pid" 2>/dev/null || echo -)"
  pid_alive weaviate weaviate-server && rc=0 || rc=1
  status_line weaviate $rc "http://$HOST:$WEAVIATE_PORT pid $(cat "$PIDS/weaviate.pid" 2>/dev/null || echo -)"
  pid_alive ferretdb /bin/ferretdb && rc=0 || rc=1
  status_line mongodb $rc "$HOST:$MONGO_PORT (FerretDB) pid $(cat "$PIDS/ferretdb.pid" 2>/dev/null || echo -)"
  cluster status || STATUS_RC=3
  kube status || STATUS_RC=3
  [[ -f $RUN/services.json ]] && echo "services.json: $RUN/services.json"
  return "$STATUS_RC"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  install) with_lock; cmd_install ;;
  *) echo "usage: $0 start|stop|status|install|restart" >&2; exit 2 ;;
esac
