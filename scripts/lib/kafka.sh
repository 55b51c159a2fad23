# scripts/lib/kafka.sh: Kafka from Maven Central, shared by the loopback broker (scripts/services/kafka.sh)
# and the cluster-shaped brokers (scripts/cluster-servers.sh). Sourced after scripts/lib/proc.sh, with
# CACHE set. No Kafka distribution tarball is reachable here (only package registries), so the broker
# runs from the kafka_<scala> jar and its runtime dependencies, started with `java -cp libs/*`.
KAFKA_VERSION=3.6.2
SCALA_VERSION=2.13
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"

# The jars into $KAFKA_HOME/libs (with Maven's repository cached in $CACHE/maven-repo); .complete last,
# so an interrupted fetch is redone.
install_kafka() {
  [[ -f $KAFKA_HOME/.complete ]] && return 0
  command -v mvn >/dev/null || die "mvn (Maven) is needed to fetch Kafka from Maven Central"
  command -v java >/dev/null || die "java is needed for Kafka"
  log "kafka: fetching kafka_$SCALA_VERSION $KAFKA_VERSION and dependencies from Maven Central"
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME/libs"
  cat >"$KAFKA_HOME/pom.xml" <<POM
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
POM
  run_logged "$KAFKA_HOME/mvn.log" mvn -B -f "$KAFKA_HOME/pom.xml" \
    -Dmaven.repo.local="$CACHE/maven-repo" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime
  [[ -f $KAFKA_HOME/libs/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar ]] || die "kafka jar missing after mvn"
  touch "$KAFKA_HOME/.complete"
}

# kafka_log4j DIR: DIR/log4j.properties, a rolling ${kafka.logs.dir}/server.log (the broker's request
# and state-change loggers quieter).
kafka_log4j() {
  cat >"$1/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
LOG4J
}

# kafka_java DIR LOGS: sets KAFKA_JAVA to the java command line (heap and main class left to the caller)
# with DIR/log4j.properties logging into LOGS. An array, not a function: spawn and timeout exec it.
kafka_java() {
  KAFKA_JAVA=(java -Djava.awt.headless=true "-Dlog4j.configuration=file:$1/log4j.properties"
    "-Dkafka.logs.dir=$2" -cp "$KAFKA_HOME/libs/*")
}

# kafka_auth_properties CONTROLLER_PASSWORD: server.properties lines every test broker shares with what
# the chart renders (components/kafka/values.ts): the StandardAuthorizer, no access without an ACL, the
# super users of a release whose first client user is admin (with the chart's broker and controller
# users), and the controller listener's PLAIN login as the chart's controller_user.
kafka_auth_properties() {
  cat <<EOF
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:inter_broker_user;User:controller_user
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller_user" password="$1" user_controller_user="$1";
EOF
}

# kafka_set_scram BOOTSTRAP PROPS USER PASSWORD LOG MECHANISM...: USER's SCRAM credentials set again through
# Kafka's ConfigCommand, logged in with the client properties PROPS (a super user); one request per
# mechanism (the broker refuses two changes of one user's credentials in one), in the order given.
# ConfigCommand takes SCRAM passwords only on its command line (its --add-config-file refuses them): the
# JVM runs for a second or two on this root-only test machine, and the password is masked in LOG.
# Why it is needed: on Kafka 3.6.2 a restarted broker has been seen to refuse credentials that an
# AlterUserScramCredentials request set while it ran (README "Kafka SCRAM users after a broker restart").
kafka_set_scram() {
  local bootstrap=$1 props=$2 user=$3 pw=$4 out=$5 mech rc=0 tmp
  shift 5
  tmp=$(mktemp)
  for mech in "$@"; do
    timeout 120 "${KAFKA_JAVA[@]}" -Xmx256m kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" \
      --command-config "$props" --alter --entity-type users --entity-name "$user" \
      --add-config "$mech=[iterations=4096,password=$pw]" >>"$tmp" 2>&1 7>&- 8>&- 9>&- || rc=$?
  done
  sed "s/$pw/<password>/g" "$tmp" >"$out"
  rm -f "$tmp"
  return "$rc"
}

# kafka_cluster_id FILE: the KRaft cluster id kept in FILE (made once: a formatted log dir is tied to it).
kafka_cluster_id() {
  [[ -s $1 ]] || head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$1"
  cat "$1"
}

# kafka_format DIR CLUSTER_ID PASSWORD: format DIR/server.properties' log dirs for the KRaft cluster,
# with the admin user's SCRAM-SHA-512 and SCRAM-SHA-256 credentials (the broker needs no running
# controller to accept them). Its tool logs go to DIR/logs/tools.
kafka_format() {
  local d=$1
  mkdir -p "$d/logs/tools"
  kafka_java "$d" "$d/logs/tools"
  run_logged "$d/format.log" timeout 120 "${KAFKA_JAVA[@]}" -Xmx256m kafka.tools.StorageTool format \
    -t "$2" -c "$d/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$3]" \
    --add-scram "SCRAM-SHA-256=[name=admin,password=$3]"
}
