#!/bin/sh
# Kafka backup: the topic layout (kafka-topics.sh --describe) and every topic's configuration
# (kafka-configs.sh --describe --all) as one text file, written under a temporary name and renamed
# once complete, then old files pruned. Messages are not backed up: topics are re-created from this.
# Environment: KAFKA_BOOTSTRAP KAFKA_SASL_MECHANISM KAFKA_USER KAFKA_PASSWORD BACKUP_DIR RETENTION_DAYS;
# optional KAFKA_SECURITY_PROTOCOL (default SASL_PLAINTEXT) and KAFKA_BIN (default /opt/bitnami/kafka/bin).
set -eu
bin="${KAFKA_BIN:-/opt/bitnami/kafka/bin}"
protocol="${KAFKA_SECURITY_PROTOCOL:-SASL_PLAINTEXT}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$BACKUP_DIR/kafka-topics-$stamp.txt"

# The client properties hold the password, so they live in a private temporary file only.
props=$(mktemp)
trap 'rm -f "$props" "$out.partial"' EXIT
chmod 600 "$props"

# A value inside a JAAS quoted string inside a Java properties file: both layers unescape backslashes.
jaas_quote() {
  printf '%s' "$1" | sed -e 's/\\/\\\\\\\\/g' -e 's/"/\\\\"/g'
}

{
  echo "security.protocol=$protocol"
  case "$protocol" in
  SASL_*)
    case "$KAFKA_SASL_MECHANISM" in
    PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
    SCRAM-SHA-256 | SCRAM-SHA-512) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
    *)
      echo "KAFKA_SASL_MECHANISM \"$KAFKA_SASL_MECHANISM\" is not supported; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" >&2
      exit 2
      ;;
    esac
    echo "sasl.mechanism=$KAFKA_SASL_MECHANISM"
    # printf, not echo: dash's echo would eat the backslashes.
    printf 'sasl.jaas.config=%s required username="%s" password="%s";\n' \
      "$module" "$(jaas_quote "$KAFKA_USER")" "$(jaas_quote "$KAFKA_PASSWORD")"
    ;;
  esac
} >"$props"

{
  echo "# Kafka topic backup $stamp from $KAFKA_BOOTSTRAP"
  echo "# kafka-topics.sh --describe"
  "$bin/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$props" --describe
  echo "# kafka-configs.sh --describe --entity-type topics --all"
  "$bin/kafka-configs.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$props" \
    --describe --entity-type topics --all
} >"$out.partial"
mv "$out.partial" "$out"
topics=$(grep -c '^Topic:' "$out" || true)
echo "backup written: $out ($topics topics, $(wc -c <"$out") bytes)"
# .txt* takes the .partial of a killed run too (SIGKILL skips the EXIT trap).
find "$BACKUP_DIR" -maxdepth 1 -name 'kafka-topics-*.txt*' -mtime +"$RETENTION_DAYS" -print -delete
