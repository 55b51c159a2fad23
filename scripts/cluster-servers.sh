#!/usr/bin/env bash
# Cluster-shaped test servers: servers that hand back in-cluster addresses, as the releases' pods do,
# so that a client outside the cluster reaches them only through port-forwards that map every address
# (init/shared/port-forward.ts). Shared test infrastructure of the helm-mode e2e (test/e2e/helm.test.ts)
# and the local stack; kwok sends each stand-in pod's ports to them (test/e2e/cluster.ts makes the
# PortForward objects from cluster.json).
#
#   bash scripts/cluster-servers.sh start|stop|status
#
# Servers (namespace $NAMESPACE, releases `kafka` and `redis` of the program's helm mode):
#   kafka   two KRaft nodes (broker+controller each), Kafka 3.6 from the services.sh cache.
#           CLIENT   SASL_PLAINTEXT (SCRAM-SHA-512/256, PLAIN), 127.0.0.1:23092+i, advertised as
#                    kafka-controller-<i>.kafka-controller-headless.$NAMESPACE.svc.cluster.local:9092,
#                    a name that resolves nowhere: a client must map it to pod kafka-controller-<i>.
#           INTERNAL the brokers' own traffic, PLAINTEXT 127.0.0.1:23192+i, advertised as itself.
#           CONTROLLER 127.0.0.1:23292+i.
#   redis   three nodes and three Sentinels in the network namespace $NETNS (only its loopback is up),
#           node i on 127.0.1.<i+1>:6379 and its Sentinel on 127.0.1.<i+1>:26379, named (the netns's
#           /etc/hosts, from /etc/netns/$NETNS/hosts) redis-node-<i>.redis-headless.$NAMESPACE.svc.
#           cluster.local, the names Sentinel announces (resolve-hostnames, announce-hostnames), as the
#           pinned chart's `useHostnames` does. Nothing outside the netns reaches them but the commands
#           kwok runs in it for a port-forward (`ip netns exec $NETNS bash -c` ... /dev/tcp).
#
# Run dir ${AIPD_CLUSTER_RUN:-${AIPD_RUN:-/tmp/ai-platform-data/services}/cluster}: configs, data,
# logs, pids, secrets and cluster.json (what the tests read). Needs root (ip netns) and Kafka in
# ${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/kafka-<version of scripts/lib/kafka.sh> (`scripts/services.sh
# install`).
set -euo pipefail
umask 022

NAMESPACE=${AIPD_CLUSTER_NAMESPACE:-aipd}
NETNS=${AIPD_CLUSTER_NETNS:-aipd-redis}
HOST=127.0.0.1
# Below 32768 (Linux's ephemeral range starts there), apart from scripts/services.sh's and kube.sh's.
KAFKA_NODES=2
KAFKA_CLIENT_BASE=23092
KAFKA_INTERNAL_BASE=23192
KAFKA_CONTROLLER_BASE=23292
KAFKA_POD_PORT=9092 # the chart's client port, in the advertised names
REDIS_NODES=3
REDIS_PORT=6379
SENTINEL_PORT=26379
REDIS_MASTER_NAME=mymaster

CACHE="${AIPD_CACHE:-$HOME/.cache/ai-platform-data}"
RUN="${AIPD_CLUSTER_RUN:-${AIPD_RUN:-/tmp/ai-platform-data/services}/cluster}"
PIDS="$RUN/pids"
SECRETS="$RUN/secrets"

LOG_TAG=cluster-servers
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/proc.sh
source "$here/lib/proc.sh"
# shellcheck source=lib/kafka.sh
source "$here/lib/kafka.sh"

# ---------------------------------------------------------------- kafka
kafka_name() { echo "kafka-controller-$1.kafka-controller-headless.$NAMESPACE.svc.cluster.local"; }

write_kafka_config() { # NODE PASSWORD
  local i=$1 pw=$2 d="$RUN/kafka-$1" voters="" j
  for ((j = 0; j < KAFKA_NODES; j++)); do voters+="${voters:+,}$((j + 1))@$HOST:$((KAFKA_CONTROLLER_BASE + j))"; done
  mkdir -p "$d/data" "$d/logs/tools"
  (umask 077; cat >"$d/server.properties" <<EOF
# ai-platform-data cluster-shaped broker $i (scripts/cluster-servers.sh): KRaft, broker+controller.
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$voters
listeners=CLIENT://$HOST:$((KAFKA_CLIENT_BASE + i)),INTERNAL://$HOST:$((KAFKA_INTERNAL_BASE + i)),CONTROLLER://$HOST:$((KAFKA_CONTROLLER_BASE + i))
advertised.listeners=CLIENT://$(kafka_name "$i"):$KAFKA_POD_PORT,INTERNAL://$HOST:$((KAFKA_INTERNAL_BASE + i))
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.internal.sasl.enabled.mechanisms=PLAIN
listener.name.internal.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="inter_broker_user" password="$(secret kafka-inter-broker)" user_inter_broker_user="$(secret kafka-inter-broker)";
$(kafka_auth_properties "$(secret kafka-controller)")
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$pw" user_admin="$pw";
log.dirs=$d/data
num.partitions=1
default.replication.factor=$KAFKA_NODES
offsets.topic.replication.factor=$KAFKA_NODES
transaction.state.log.replication.factor=$KAFKA_NODES
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  )
  kafka_log4j "$d"
}

# Every broker registered with the quorum, seen through broker 0's INTERNAL listener (the brokers' own
# PLAIN login, from a 0600 file: no password on a command line).
kafka_listening() { pid_alive "kafka-$1" "kafka-$1/server.properties" && tcp_open "$HOST" $((KAFKA_CLIENT_BASE + $1)); }
kafka_internal_props() { # the brokers' own PLAIN login on INTERNAL, 0600, for the tools below
  (umask 077
    printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="inter_broker_user" password="%s";\n' \
      "$(secret kafka-inter-broker)" >"$RUN/kafka-0/internal-client.properties")
}
kafka_cluster_up() {
  local out props="$RUN/kafka-0/internal-client.properties"
  kafka_java "$RUN/kafka-0" "$RUN/kafka-0/logs/tools"
  out=$(timeout 60 "${KAFKA_JAVA[@]}" -Xmx128m kafka.admin.BrokerApiVersionsCommand \
    --bootstrap-server "$HOST:$KAFKA_INTERNAL_BASE" --command-config "$props" 2>/dev/null) || return 1
  [[ $(grep -c '(id: ' <<<"$out") -ge $KAFKA_NODES ]]
}

start_kafka() {
  local pw i d cid started=0
  [[ -f $KAFKA_HOME/.complete ]] || die "Kafka is not installed in $KAFKA_HOME (run: scripts/services.sh install)"
  pw=$(secret kafka)
  cid=$(kafka_cluster_id "$RUN/kafka.cluster.id")
  for ((i = 0; i < KAFKA_NODES; i++)); do
    d="$RUN/kafka-$i"
    write_kafka_config "$i" "$pw"
    pid_alive "kafka-$i" "kafka-$i/server.properties" && continue
    for p in $((KAFKA_CLIENT_BASE + i)) $((KAFKA_INTERNAL_BASE + i)) $((KAFKA_CONTROLLER_BASE + i)); do
      port_must_be_free "kafka-$i" "$p"
    done
    [[ -f $d/data/meta.properties ]] || kafka_format "$d" "$cid" "$pw"
    kafka_java "$d" "$d/logs"
    spawn "kafka-$i" "$d/stdout.log" "${KAFKA_JAVA[@]}" -Xmx384m -Xms128m -XX:+UseG1GC \
      kafka.Kafka "$d/server.properties"
    started=1
  done
  for ((i = 0; i < KAFKA_NODES; i++)); do
    wait_until 180 "kafka-$i" kafka_listening "$i" ||
      die "kafka-$i does not listen on $HOST:$((KAFKA_CLIENT_BASE + i)) (log: $RUN/kafka-$i/logs/server.log)"
  done
  kafka_internal_props
  wait_until 180 "kafka brokers registered" kafka_cluster_up ||
    die "the $KAFKA_NODES Kafka brokers did not all register (logs: $RUN/kafka-*/logs/server.log)"
  if ((started)); then
    # A restarted broker may refuse admin's SCRAM credentials set while it ran (scripts/lib/kafka.sh
    # kafka_set_scram): set again through the brokers' own login on INTERNAL, a super user.
    kafka_java "$RUN/kafka-0" "$RUN/kafka-0/logs/tools"
    kafka_set_scram "$HOST:$KAFKA_INTERNAL_BASE" "$RUN/kafka-0/internal-client.properties" admin "$pw" \
      "$RUN/kafka-0/scram-reset.log" SCRAM-SHA-256 SCRAM-SHA-512 ||
      die "kafka: setting admin's SCRAM credentials failed (log: $RUN/kafka-0/scram-reset.log)"
  fi
  local state="already running"; ((started)) && state=started
  echo "kafka (cluster-shaped): $state, $KAFKA_NODES brokers advertising $(kafka_name 0):$KAFKA_POD_PORT ... on $HOST:$KAFKA_CLIENT_BASE.."
}

stop_kafka() {
  local i
  for ((i = KAFKA_NODES - 1; i >= 0; i--)); do stop_pid "kafka-$i" "kafka-$i/server.properties" TERM 60; done
}

# ---------------------------------------------------------------- redis (network namespace)
redis_ip() { echo "127.0.1.$(($1 + 1))"; }
redis_name() { echo "redis-node-$1.redis-headless.$NAMESPACE.svc.cluster.local"; }
in_netns() { ip netns exec "$NETNS" "$@"; }
rcli() { # IP PORT PASSWORD ARGS...
  local ip=$1 port=$2 pw=$3; shift 3
  REDISCLI_AUTH="$pw" in_netns redis-cli --no-auth-warning -h "$ip" -p "$port" "$@"
}
redis_pong() { [[ $(rcli "$1" "$2" "$3" ping 2>/dev/null) == PONG ]]; }
sentinel_quorum() { rcli "$(redis_ip 0)" "$SENTINEL_PORT" "$1" sentinel ckquorum "$REDIS_MASTER_NAME" 2>/dev/null | grep '^OK' >/dev/null; }

make_netns() {
  local i
  ip netns list | grep -qw "^$NETNS" || ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  # `ip netns exec` binds /etc/netns/NAME/hosts over /etc/hosts: the names resolve inside the netns only.
  mkdir -p "/etc/netns/$NETNS"
  {
    echo "127.0.0.1 localhost"
    for ((i = 0; i < REDIS_NODES; i++)); do echo "$(redis_ip "$i") $(redis_name "$i")"; done
  } >"/etc/netns/$NETNS/hosts"
}

write_redis_configs() {
  local pw=$1 hash i d
  hash=$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1)
  for ((i = 0; i < REDIS_NODES; i++)); do
    d="$RUN/redis-$i"
    if [[ ! -f $d/redis.conf ]]; then # Redis rewrites it (failover)
      mkdir -p "$d/data"
      (umask 077; printf 'user default on #%s ~* &* +@all\n' "$hash" >"$d/users.acl")
      (umask 077; cat >"$d/redis.conf" <<EOF
# ai-platform-data cluster-shaped Redis node $i (scripts/cluster-servers.sh), in netns $NETNS.
port $REDIS_PORT
bind $(redis_ip "$i")
protected-mode yes
daemonize no
logfile $d/redis.log
dir $d/data
appendonly no
requirepass $pw
masterauth $pw
aclfile $d/users.acl
replica-announce-ip $(redis_name "$i")
EOF
      if ((i > 0)); then echo "replicaof $(redis_name 0) $REDIS_PORT" >>"$d/redis.conf"; fi)
    fi
    d="$RUN/sentinel-$i"
    if [[ ! -f $d/sentinel.conf ]]; then # Sentinel rewrites it with what it learned
      mkdir -p "$d"
      (umask 077; cat >"$d/sentinel.conf" <<EOF
# ai-platform-data cluster-shaped Sentinel $i (scripts/cluster-servers.sh), in netns $NETNS.
port $SENTINEL_PORT
bind $(redis_ip "$i")
daemonize no
logfile $d/sentinel.log
dir $d
requirepass $pw
sentinel sentinel-pass $pw
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $(redis_name "$i")
sentinel announce-port $SENTINEL_PORT
sentinel monitor $REDIS_MASTER_NAME $(redis_name 0) $REDIS_PORT 2
sentinel auth-pass $REDIS_MASTER_NAME $pw
sentinel down-after-milliseconds $REDIS_MASTER_NAME 5000
sentinel failover-timeout $REDIS_MASTER_NAME 20000
sentinel parallel-syncs $REDIS_MASTER_NAME 1
EOF
      )
    fi
  done
}

start_redis() {
  local pw i started=0 master
  command -v redis-server >/dev/null || die "redis-server is not installed (run: scripts/services.sh install)"
  pw=$(secret redis)
  make_netns
  write_redis_configs "$pw"
  for ((i = 0; i < REDIS_NODES; i++)); do
    pid_alive "redis-$i" "$(redis_ip "$i"):$REDIS_PORT" && continue
    spawn "redis-$i" "$RUN/redis-$i/stdout.log" ip netns exec "$NETNS" redis-server "$RUN/redis-$i/redis.conf"
    started=1
  done
  for ((i = 0; i < REDIS_NODES; i++)); do
    wait_until 30 "redis-$i" redis_pong "$(redis_ip "$i")" "$REDIS_PORT" "$pw" ||
      die "redis-$i does not answer in netns $NETNS (log: $RUN/redis-$i/redis.log)"
  done
  for ((i = 0; i < REDIS_NODES; i++)); do
    pid_alive "sentinel-$i" "$(redis_ip "$i"):$SENTINEL_PORT" && continue
    spawn "sentinel-$i" "$RUN/sentinel-$i/stdout.log" ip netns exec "$NETNS" redis-sentinel "$RUN/sentinel-$i/sentinel.conf"
    started=1
  done
  wait_until 60 "sentinel quorum" sentinel_quorum "$pw" ||
    die "the Sentinels in netns $NETNS do not reach quorum (logs: $RUN/sentinel-*/sentinel.log)"
  master=$(rcli "$(redis_ip 0)" "$SENTINEL_PORT" "$pw" sentinel get-master-addr-by-name "$REDIS_MASTER_NAME" | paste -sd: -)
  local state="already running"; ((started)) && state=started
  echo "redis (cluster-shaped): $state in netns $NETNS, $REDIS_NODES nodes and Sentinels, $REDIS_MASTER_NAME at $master"
}

stop_redis() {
  local i
  for ((i = 0; i < REDIS_NODES; i++)); do stop_pid "sentinel-$i" "$(redis_ip "$i"):$SENTINEL_PORT" TERM 60; done
  for ((i = REDIS_NODES - 1; i >= 0; i--)); do stop_pid "redis-$i" "$(redis_ip "$i"):$REDIS_PORT" TERM 60; done
}

# ---------------------------------------------------------------- cluster.json
write_json() {
  local kpw rpw i brokers="" nodes=""
  kpw=$(secret kafka); rpw=$(secret redis)
  for ((i = 0; i < KAFKA_NODES; i++)); do
    brokers+="${brokers:+,}{\"pod\":\"kafka-controller-$i\",\"advertised\":\"$(kafka_name "$i"):$KAFKA_POD_PORT\",\"podPort\":$KAFKA_POD_PORT,\"target\":{\"host\":\"$HOST\",\"port\":$((KAFKA_CLIENT_BASE + i))},\"internal\":{\"host\":\"$HOST\",\"port\":$((KAFKA_INTERNAL_BASE + i))}}"
  done
  for ((i = 0; i < REDIS_NODES; i++)); do
    nodes+="${nodes:+,}{\"pod\":\"redis-node-$i\",\"name\":\"$(redis_name "$i")\",\"ip\":\"$(redis_ip "$i")\",\"port\":$REDIS_PORT,\"sentinelPort\":$SENTINEL_PORT}"
  done
  # Passwords are hex: no JSON escaping needed.
  (umask 077; cat >"$RUN/cluster.json.tmp" <<EOF
{
 "namespace": "$NAMESPACE",
 "kafka": {"release":"kafka","mechanism":"scram-sha-512","username":"admin","password":"$kpw","internalUser":"inter_broker_user","internalPassword":"$(secret kafka-inter-broker)","brokers":[$brokers]},
 "redis": {"release":"redis","netns":"$NETNS","masterName":"$REDIS_MASTER_NAME","password":"$rpw","nodes":[$nodes]}
}
EOF
  )
  mv "$RUN/cluster.json.tmp" "$RUN/cluster.json"
}

with_lock() {
  mkdir -p "$RUN" "$PIDS"
  exec 9>"$RUN/.lock"
  wait_lock 9 "$RUN/.lock" 900 "another cluster-servers.sh"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "run as root (ip netns)"
  with_lock
  write_json
  start_kafka
  start_redis
  log "endpoints and credentials: $RUN/cluster.json"
}

cmd_stop() {
  [[ -d $RUN ]] || return 0
  with_lock
  stop_redis
  stop_kafka
}

cmd_status() {
  local rc=0 i
  for ((i = 0; i < KAFKA_NODES; i++)); do
    if pid_alive "kafka-$i" "kafka-$i/server.properties"; then echo "kafka-$i:   running  $HOST:$((KAFKA_CLIENT_BASE + i)) as $(kafka_name "$i")"
    else echo "kafka-$i:   stopped"; rc=3; fi
  done
  for ((i = 0; i < REDIS_NODES; i++)); do
    if pid_alive "redis-$i" "$(redis_ip "$i"):$REDIS_PORT" && pid_alive "sentinel-$i" "$(redis_ip "$i"):$SENTINEL_PORT"; then
      echo "redis-$i:   running  netns $NETNS $(redis_ip "$i"):$REDIS_PORT/$SENTINEL_PORT as $(redis_name "$i")"
    else echo "redis-$i:   stopped"; rc=3; fi
  done
  [[ -f $RUN/cluster.json ]] && echo "cluster.json: $RUN/cluster.json"
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
