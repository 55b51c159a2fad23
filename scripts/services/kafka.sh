# scripts/services/kafka.sh: Kafka for scripts/services.sh (sourced by it after scripts/lib/kafka.sh;
# uses its settings). One KRaft node (broker+controller in one JVM) on 29092, SASL_PLAINTEXT with
# SCRAM-SHA-512 (also SCRAM-SHA-256 and PLAIN), user admin; KRaft controller listener 29093 (SASL PLAIN as
# controller_user). StandardAuthorizer: admin is a super user, other users have what ACLs give them.
KAFKA_PORT=29092
KAFKA_CONTROLLER_PORT=29093
KAFKA_DIR="$RUN/kafka"

write_kafka_config() {
  local pw=$1
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs/tools"
  (umask 077; cat >"$KAFKA_DIR/server.properties" <<EOF
# ai-platform-data test broker (scripts/services.sh): KRaft, broker+controller in one JVM.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=CLIENT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://$HOST:$KAFKA_PORT
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$pw";
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$pw" user_admin="$pw";
$(kafka_auth_properties "$(secret kafka-controller)")
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
  kafka_log4j "$KAFKA_DIR"
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
      local cid
      cid=$(kafka_cluster_id "$KAFKA_DIR/cluster.id")
      log "kafka: formatting storage (KRaft cluster $cid)"
      kafka_format "$KAFKA_DIR" "$cid" "$pw"
    fi
    kafka_java "$KAFKA_DIR" "$KAFKA_DIR/logs"
    spawn kafka "$KAFKA_DIR/stdout.log" "${KAFKA_JAVA[@]}" -Xmx512m -Xms128m -XX:+UseG1GC \
      kafka.Kafka "$KAFKA_DIR/server.properties"
  fi
  wait_until 120 kafka kafka_listening ||
    { tail -n 20 "$KAFKA_DIR/logs/server.log" >&2 || true; die "kafka does not listen on $HOST:$KAFKA_PORT (log: $KAFKA_DIR/logs/server.log)"; }
  if [[ $state == started ]]; then
    # A real SASL/SCRAM-SHA-512 round trip (one extra JVM start, only after a fresh start); Kafka's
    # command-line tools log to logs/tools, not the broker's log.
    kafka_java "$KAFKA_DIR" "$KAFKA_DIR/logs/tools"
    if ! kafka_admin_tool "$KAFKA_DIR/client.properties" kafka.admin.TopicCommand --list; then
      # A restarted broker may refuse a SCRAM credential that AlterUserScramCredentials set while it
      # ran (reproduced on 3.6.2: admin's SCRAM-SHA-256 set at run time, broker restarted, that login
      # refused and Describe no longer lists it; README "Kafka SCRAM users after a broker restart").
      # Setting the credentials again through the static PLAIN login repairs it; a second refusal still
      # fails the start.
      log "kafka: admin's SCRAM-SHA-512 login was refused after the restart ($(tail -n 1 "$KAFKA_DIR/sasl-check.log")); setting admin's SCRAM credentials again through its PLAIN login"
      kafka_reset_admin_scram "$pw"
      kafka_admin_tool "$KAFKA_DIR/client.properties" kafka.admin.TopicCommand --list ||
        { tail -n 20 "$KAFKA_DIR/sasl-check.log" >&2; die "kafka refuses admin's SCRAM-SHA-512 login (log: $KAFKA_DIR/sasl-check.log)"; }
    fi
  fi
  echo "kafka: $state, ready on $HOST:$KAFKA_PORT (Kafka $KAFKA_VERSION KRaft, SASL_PLAINTEXT SCRAM-SHA-512/256 + PLAIN; controller $HOST:$KAFKA_CONTROLLER_PORT)"
}

# kafka_admin_tool CLIENT_PROPERTIES CLASS ARGS...: one of Kafka's admin tools against this broker, its
# output in sasl-check.log; the command line is not echoed (an argument may name a secret file).
kafka_admin_tool() {
  local props=$1 cls=$2; shift 2
  timeout 120 "${KAFKA_JAVA[@]}" -Xmx256m "$cls" --bootstrap-server "$HOST:$KAFKA_PORT" \
    --command-config "$props" "$@" >"$KAFKA_DIR/sasl-check.log" 2>&1 7>&- 8>&- 9>&-
}

# kafka_reset_admin_scram PASSWORD: admin's SCRAM credentials set again, logged in with PLAIN (its JAAS
# user does not depend on the metadata log). SCRAM-SHA-512, the mechanism every client here uses, last.
kafka_reset_admin_scram() {
  local pw=$1 dir rc=0
  dir=$(mktemp -d "$KAFKA_DIR/reset.XXXXXX")
  (umask 077
    printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' "$pw" >"$dir/plain.properties")
  kafka_set_scram "$HOST:$KAFKA_PORT" "$dir/plain.properties" admin "$pw" "$KAFKA_DIR/scram-reset.log" \
    SCRAM-SHA-256 SCRAM-SHA-512 || rc=$?
  rm -rf "$dir"
  [[ $rc == 0 ]] || die "kafka: setting admin's SCRAM credentials through PLAIN failed (log: $KAFKA_DIR/scram-reset.log)"
}

stop_kafka() { stop_pid kafka kafka.Kafka TERM 60; }

status_kafka() {
  local rc
  pid_alive kafka kafka.Kafka && rc=0 || rc=1
  status_line kafka $rc "$HOST:$KAFKA_PORT pid $(cat "$PIDS/kafka.pid" 2>/dev/null || echo -)"
}
