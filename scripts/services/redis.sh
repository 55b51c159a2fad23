# scripts/services/redis.sh: Redis 7.0 (Debian's) for scripts/services.sh (sourced by it; uses its
# settings and scripts/lib/proc.sh). Master on 26379, replicas 26380 and 26381 (requirepass/masterauth,
# aclfile); Sentinels on 26390-26392, master name `mymaster`, quorum 2, requirepass = the nodes'
# password (the chart's auth.sentinel: true).
# Redis and Sentinel rewrite their configs, so after a failover the master stays where it moved, across
# restarts too: ask the Sentinels. `rm -rf $AIPD_RUN/redis` (stopped) resets it.
REDIS_PORTS=(26379 26380 26381)      # first one starts as the master
SENTINEL_PORTS=(26390 26391 26392)
REDIS_MASTER_NAME=mymaster
REDIS_APT=(redis-server redis-sentinel redis-tools)
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

# launch_redis KIND PASSWORD PORT...: KIND redis (redis-server, $REDIS_DIR/node-PORT/redis.conf) or
# sentinel (redis-sentinel, $REDIS_DIR/sentinel-PORT/sentinel.conf). Starts those not running (they
# daemonize and write their pid files themselves), then waits until each answers PING. Sets the
# caller's `started` to 1 when it started one.
launch_redis() {
  local kind=$1 pw=$2 port d program=redis-server sub=node; shift 2
  [[ $kind == redis ]] || { program=redis-sentinel; sub=sentinel; }
  for port in "$@"; do
    d="$REDIS_DIR/$sub-$port"
    if ! pid_alive "$kind-$port" ":$port"; then
      port_must_be_free "$kind $port" "$port"
      run_logged "$d/start.log" "$program" "$d/$kind.conf"
      started=1
    fi
  done
  for port in "$@"; do
    d="$REDIS_DIR/$sub-$port"
    wait_until 30 "$kind $port" redis_pong "$port" "$pw" || die "$kind on $port does not answer (log: $d/$kind.log)"
  done
}

start_redis() {
  local pw spw port started=0
  reset_redis_if_auth_changed
  pw=$(secret redis)
  spw=$(sentinel_secret)
  write_redis_configs
  echo "$REDIS_AUTH_LAYOUT" >"$REDIS_DIR/auth-layout"
  launch_redis redis "$pw" "${REDIS_PORTS[@]}"
  # Every replica linked to its master.
  for port in "${REDIS_PORTS[@]}"; do
    local role
    role=$(redis_cli "$port" "$pw" info replication | tr -d '\r' | sed -n 's/^role://p')
    if [[ $role == slave ]]; then
      wait_until 60 "replica $port" redis_linked "$port" "$pw" || die "redis replica $port is not linked to its master"
    fi
  done
  launch_redis sentinel "$spw" "${SENTINEL_PORTS[@]}"
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

status_redis() {
  local port up=0 total=0 detail="" rc
  for port in "${REDIS_PORTS[@]}"; do
    total=$((total + 1)); pid_alive "redis-$port" ":$port" && up=$((up + 1)) && detail+=" $port" || detail+=" ($port down)"
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    total=$((total + 1)); pid_alive "sentinel-$port" ":$port" && up=$((up + 1)) && detail+=" s$port" || detail+=" (s$port down)"
  done
  ((up == total)) && rc=0 || rc=1
  status_line redis $rc "$up/$total processes:$detail"
}
