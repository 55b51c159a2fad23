#!/usr/bin/env bash
# scripts/services.sh: real database servers on 127.0.0.1 for the integration tests, and a
# Kubernetes control plane (scripts/kube.sh) for the helm-mode end-to-end tests.
#
# Usage:  bash scripts/services.sh start|stop|status|install|restart [postgres]
#   With `postgres`, start/stop/restart act on PostgreSQL only (a private copy beside the shared
#   servers: AIPD_RUN + AIPD_PG_PORT; services.json is written in full either way).
#         bash scripts/services.sh start-pg15|stop-pg15
#   The PostgreSQL 15 companion (Debian's, AIPD_PG_MAJOR=15) on 127.0.0.1:25433 with its own run dir
#   $AIPD_RUN-pg15: `npm run test:integration:pg15` runs the initialiser's tests against it, because
#   external servers may be older than production's 16.
#   install  install/build whatever is missing (apt packages, pgvector, Kafka jars,
#            Weaviate and FerretDB binaries); starts nothing.
#   start    install (if needed), start every server that is not running, wait until
#            each one answers, write services.json and print one line per service.
#            Idempotent: on a warm machine with everything running it only re-checks.
#   stop     stop every server through its pid file (SIGTERM/SIGINT, then SIGKILL).
#   status   one line per service; exit code 0 only if all of them are running.
# Each command also runs `scripts/kube.sh <command>` (after the servers on start, before them on
# stop): its builds, ports and run folder ($AIPD_RUN/kube) are described there. start/stop/status
# also run scripts/cluster-servers.sh (run folder $AIPD_RUN/cluster).
#
# Must run as root (apt-get, and PostgreSQL is started as the `postgres` OS user).
# Needs: Debian bookworm with apt access, Go (>= 1.21), Java 17 + Maven, bash, curl.
#
# Environment:
#   AIPD_PG_MAJOR  16 (default): PostgreSQL 16 from PyPI's `pgserver` wheel + pgvector built against it
#               (see scripts/services/postgres.sh). 15: Debian bookworm's postgresql-15 (apt) + pgvector
#               from trixie's source package: the older major the initialisers must still work with.
#   AIPD_PG_PORT   PostgreSQL's port (default 25432); the other servers' ports are fixed.
#   AIPD_CACHE  downloads and builds, one folder per thing and version
#               (default $HOME/.cache/ai-platform-data): pgvector-<v>, kafka-<v>,
#               weaviate-<v>, ferretdb-<v>, seaweedfs-<v>, go/ (module + build cache), maven-repo/,
#               apt-trixie-src/ (private apt lists used only for `apt-get source`).
#   AIPD_OPT    where PostgreSQL 16 is unpacked (default /opt/ai-platform-data): outside AIPD_CACHE,
#               which may be under /root where the `postgres` user cannot run programs.
#   AIPD_RUN    data, logs, pid files, secrets (default /tmp/ai-platform-data/services).
#               Must be traversable by the `postgres` user (so not under /root).
#               Delete it (after `stop`) to start from empty servers with new passwords.
#
# Timing (2 cores): cold install about 3.5 min plus apt; start with everything built
# but stopped 10-20 s; start with everything running about 1 s.
#
# Endpoints (127.0.0.1, but see the NOTE; credentials in $AIPD_RUN/services.json, 0600). Each server
# has its file in scripts/services/ (versions, ports, install, start, stop, status, details):
#   postgres  25432          services/postgres.sh: PostgreSQL 16.2 + pgvector 0.8.0, user postgres,
#                            scram-sha-256, data checksums, data in $AIPD_RUN/postgres-<major>.
#   mongodb   27217          services/mongodb.sh: FerretDB 1.24 (sqlite handler) speaking the MongoDB
#             27218          wire protocol, SCRAM-SHA-256 user admin; debug/metrics/readyz HTTP.
#   redis     26379          services/redis.sh: master; 26380, 26381 replicas; requirepass/masterauth,
#             26390-26392    aclfile; Sentinels, master name `mymaster`, quorum 2, requirepass = the
#                            nodes' password (the chart's auth.sentinel: true).
#   kafka     29092          services/kafka.sh: Kafka 3.6 KRaft (broker+controller), SASL_PLAINTEXT
#             29093          with SCRAM-SHA-512 (also SCRAM-SHA-256 and PLAIN), user admin; KRaft
#                            controller listener (PLAINTEXT, loopback).
#   weaviate  28088          services/weaviate.sh: Weaviate 1.22 REST (API key auth), 28051 gRPC,
#             28946/28947    cluster gossip/data ports.
#   kube      26443          kube-apiserver (scripts/kube.sh); services.json names its kubeconfig
#                            (admin, 0600), the credentials stay in that file.
#   s3        28333          services/s3.sh: SeaweedFS 4.53 (`weed mini`), S3 with SigV4, access key
#             28334-28340    aipd-backup; its master, volume, filer and admin ports (+1000: gRPC).
#   helm      (no port)      services/helm.sh: Helm 3.18 (`helm template` of the published charts,
#                            cached from ../shared/charts); services.json names both.
#   NOTE: Weaviate 1.22 binds gRPC (28051), its cluster ports (28946/28947) and a Go
#   pprof endpoint (6060, hard-coded) on all interfaces: 1.22 has no option to restrict
#   them. Everything else listens on 127.0.0.1 only.
#
# Every port sits below 32768, outside Linux's ephemeral range (32768-60999): a port in that
# range can be held, at the moment a server starts, by the local end of some outgoing
# loopback connection, and the server's bind then fails (FerretDB's debug port did, in CI).
#
# Passwords are random (32 hex chars), made once and kept in $AIPD_RUN/secrets; they
# are never printed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
umask 022

# ---------------------------------------------------------------- settings
HOST=127.0.0.1
CACHE="${AIPD_CACHE:-$HOME/.cache/ai-platform-data}"
RUN="${AIPD_RUN:-/tmp/ai-platform-data/services}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PIDS="$RUN/pids"
SECRETS="$RUN/secrets"
LOG_TAG=services

# shellcheck source=lib/proc.sh
source "$HERE/lib/proc.sh"
# shellcheck source=lib/kafka.sh
source "$HERE/lib/kafka.sh"
# shellcheck source=services/postgres.sh
source "$HERE/services/postgres.sh"
# shellcheck source=services/redis.sh
source "$HERE/services/redis.sh"
# shellcheck source=services/kafka.sh
source "$HERE/services/kafka.sh"
# shellcheck source=services/weaviate.sh
source "$HERE/services/weaviate.sh"
# shellcheck source=services/mongodb.sh
source "$HERE/services/mongodb.sh"
# shellcheck source=services/s3.sh
source "$HERE/services/s3.sh"
# shellcheck source=services/promtool.sh
source "$HERE/services/promtool.sh"
# shellcheck source=services/helm.sh
source "$HERE/services/helm.sh"

# busybox: the shell and tools of the backup jobs' curl image, for the off-site script's tests.
APT_PACKAGES=("${PG_APT[@]}" "${REDIS_APT[@]}" curl ca-certificates make gcc busybox)

# ---------------------------------------------------------------- helpers
need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (apt-get, postgres user)"; }

# kube CMD: the Kubernetes control plane, same cache and run folder (fd 9, our lock, not inherited).
kube() { AIPD_CACHE="$CACHE" AIPD_RUN="$RUN" bash "$HERE/kube.sh" "$@" 9>&-; }
# cluster CMD: the cluster-shaped Kafka and Redis (scripts/cluster-servers.sh), run dir $RUN/cluster.
cluster() { AIPD_CACHE="$CACHE" AIPD_RUN="$RUN" bash "$HERE/cluster-servers.sh" "$@" 9>&-; }

# ---------------------------------------------------------------- install
# go_build_install BIN BUILDER: BUILDER DIR OUT (run in a subshell, with go_env) builds BIN's program
# into OUT; DIR is BIN's version folder (DIR/bin/NAME = BIN). BIN appears only once complete, so an
# interrupted build is redone.
go_build_install() {
  local bin=$1 dir=${1%/bin/*}
  mkdir -p "$dir"
  (
    # shellcheck disable=SC2119 # no extra GOFLAGS
    go_env
    "$2" "$dir" "$dir/bin.tmp"
  )
  mkdir -p "$dir/bin"
  mv "$dir/bin.tmp/${bin##*/}" "$bin"
  rmdir "$dir/bin.tmp"
}

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

cmd_install() {
  need_root
  mkdir -p "$CACHE"
  install_apt
  install_pgserver
  install_pgvector
  install_kafka
  install_weaviate
  install_ferretdb
  install_s3
  install_promtool
  install_helm
  install_charts
  kube install
}

# ---------------------------------------------------------------- services.json
write_services_json() {
  local pg mg rd rs kf wv wva s3
  s3=$(s3_secret); pg=$(secret postgres); mg=$(secret mongodb); rd=$(secret redis)
  rs=$(sentinel_secret); kf=$(secret kafka); wv=$(secret weaviate); wva=$(secret weaviate-app); wvc=$(secret weaviate-cluster)
  local nodes="" sents="" p
  for p in "${REDIS_PORTS[@]}"; do nodes+="${nodes:+,}{\"host\":\"$HOST\",\"port\":$p}"; done
  for p in "${SENTINEL_PORTS[@]}"; do sents+="${sents:+,}{\"host\":\"$HOST\",\"port\":$p}"; done
  # Passwords are hex, so no JSON escaping is needed.
  (umask 077; cat >"$RUN/services.json.tmp" <<EOF
{
 "postgres": {"host":"$HOST","port":$PG_PORT,"user":"postgres","password":"$pg","database":"postgres","bin":"$PG_BIN","log":"$PG_DIR/postgres.log"},
 "mongodb": {"host":"$HOST","port":$MONGO_PORT,"metricsPort":$MONGO_DEBUG_PORT,"username":"admin","password":"$mg","authSource":"admin","authMechanism":"SCRAM-SHA-256","ferretdb":"$FERRETDB_BIN","uri":"mongodb://admin:$mg@$HOST:$MONGO_PORT/?authSource=admin&authMechanism=SCRAM-SHA-256"},
 "redis": {"password":"$rd","masterName":"$REDIS_MASTER_NAME","sentinelPassword":"$rs","nodes":[$nodes],"sentinels":[$sents]},
 "kafka": {"brokers":["$HOST:$KAFKA_PORT"],"mechanism":"scram-sha-512","username":"admin","password":"$kf"},
 "weaviate": {"scheme":"http","host":"$HOST","port":$WEAVIATE_PORT,"grpcPort":$WEAVIATE_GRPC_PORT,"apiKey":"$wv","appApiKey":"$wva","dataPort":$WEAVIATE_DATA_PORT,"clusterUser":"$WEAVIATE_CLUSTER_USER","clusterPassword":"$wvc","backupPath":"$WEAVIATE_DIR/backups","s3Bucket":"$WEAVIATE_S3_BUCKET","s3Path":"$WEAVIATE_S3_PATH"},
 "s3": {"endpoint":"http://$HOST:$S3_PORT","region":"us-east-1","accessKeyId":"$S3_ACCESS_KEY","secretAccessKey":"$s3","bucket":"$S3_TEST_BUCKET","log":"$S3_DIR/weed.log"},
 "promtool": {"bin":"$PROMTOOL_BIN","version":"$PROMTOOL_VERSION"},
 "kube": $(kube json),
 "helm": $(helm_json)
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
    s3) echo "$S3_BIN" ;;
    *) echo "" ;;
  esac
}

reset_if_layout_changed() {
  local stamp="$RUN/layout" f name token
  [[ -f $stamp && $(<"$stamp") == "$LAYOUT" ]] && return 0
  if [[ -d $PIDS || -d $PG_DIR || -d $REDIS_DIR || -d $KAFKA_DIR || -d $WEAVIATE_DIR || -d $FERRET_DIR || -d $S3_DIR ]]; then
    log "the run dir $RUN was made with other ports: stopping its servers and resetting their data"
    for f in "$PIDS"/*.pid; do
      [[ -e $f ]] || continue
      name=$(basename "$f" .pid)
      token=$(pid_token "$name")
      [[ -n $token ]] && stop_pid "$name" "$token" TERM 60
      rm -f "$f"
    done
    rm -rf "$PG_DIR" "${PG_OTHER_DIRS[@]}" "$REDIS_DIR" "$KAFKA_DIR" "$WEAVIATE_DIR" "$FERRET_DIR" "$S3_DIR" "$RUN/services.json"
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
  wait_lock 9 "$RUN/.services.lock" 900 "another services.sh"
}

cmd_start() {
  need_root
  with_lock
  if [[ ${1:-} == postgres ]]; then
    mkdir -p "$CACHE"
    install_apt
    install_pgserver
    install_pgvector
    prepare_run
    write_services_json
    start_postgres
    return 0
  fi
  cmd_install
  prepare_run
  write_services_json
  start_postgres
  start_redis
  start_kafka
  start_s3
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
  if [[ ${1:-} == postgres ]]; then
    stop_postgres
    return 0
  fi
  kube stop
  cluster stop
  stop_ferretdb
  stop_weaviate
  stop_s3
  stop_kafka
  stop_redis
  stop_postgres
}

# status_line NAME RUNNING(0/1) DETAIL: one line of `status` (the status_<server> functions call it).
status_line() {
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
  status_postgres
  status_redis
  status_kafka
  status_weaviate
  status_ferretdb
  status_s3
  cluster status || STATUS_RC=3
  kube status || STATUS_RC=3
  [[ -f $RUN/services.json ]] && echo "services.json: $RUN/services.json"
  return "$STATUS_RC"
}

pg15_companion() { # start|stop
  AIPD_PG_MAJOR=15 AIPD_PG_PORT=25433 AIPD_RUN="$RUN-pg15" AIPD_CACHE="$CACHE" AIPD_S3_SECRETS="$SECRETS" bash "${BASH_SOURCE[0]}" "$1" postgres
}
[[ -z ${2:-} || $2 == postgres ]] || { echo "$0: the only service that can be named is postgres, not '$2'" >&2; exit 2; }
case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  restart) cmd_stop "${2:-}"; cmd_start "${2:-}" ;;
  status) cmd_status ;;
  start-pg15) pg15_companion start ;;
  stop-pg15) pg15_companion stop ;;
  install) with_lock; cmd_install ;;
  *) echo "usage: $0 start|stop|status|install|restart [postgres] | start-pg15|stop-pg15" >&2; exit 2 ;;
esac
