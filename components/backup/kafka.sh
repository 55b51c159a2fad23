#!/bin/sh
# Kafka backup and restore of the topics, one file so that both speak of the same backup format.
#
# backup (no argument: what the backup CronJob runs): the topic layout (kafka-topics.sh --describe) and
# every topic's configuration (kafka-configs.sh --describe --all) as one text file, written under a
# temporary name and renamed once complete, then old files pruned. Messages are not backed up: topics
# are re-created from this.
#
# restore [--dry-run] BACKUP_FILE [TOPIC...]: re-creates the topics of a backup file (no TOPIC: every
# topic in the file) with their partition count, replication factor and the configs set on the topic
# itself (source DYNAMIC_TOPIC_CONFIG in the file's kafka-configs.sh section). Broker-level values
# (defaults, server.properties) are not copied: the topics follow the target cluster's, as the originals
# did. Messages, consumer offsets and ACLs are not in the backup and are not restored; replicas are placed
# by the target cluster (the broker ids of the backup are not reused).
# Topics that already exist are left as they are (reported, never altered), so a re-run is safe;
# internal topics (__consumer_offsets, __transaction_state, ...) are skipped: the brokers make them.
# --dry-run: print what would be created; contacts no broker.
# Exit status: 0 when every selected topic exists afterwards (created or already there), 1 otherwise.
#
# drill (what the restore-drill CronJob runs): reads the newest backup file in DRILL_DIR the way restore
# does, and checks that it is complete: a topic section and a configs section, every topic with its
# partition count, replication factor and its configs section; then one line, `drill passed: ...` with
# each topic's layout, also the pod's termination message; or exit 1 saying why. Contacts no broker.
# Environment: DRILL_DIR.
#
# Environment: KAFKA_BOOTSTRAP KAFKA_SASL_MECHANISM KAFKA_USER KAFKA_PASSWORD; optional
# KAFKA_SECURITY_PROTOCOL (default SASL_PLAINTEXT) and KAFKA_BIN (default /opt/bitnami/kafka/bin);
# backup: BACKUP_DIR RETENTION_DAYS; restore: optional KAFKA_REPLICATION_FACTOR (instead of the file's,
# for a cluster with fewer brokers).
set -eu
bin="${KAFKA_BIN:-/opt/bitnami/kafka/bin}"
protocol="${KAFKA_SECURITY_PROTOCOL:-SASL_PLAINTEXT}"

usage() {
  echo "usage: sh kafka.sh [backup] | sh kafka.sh restore [--dry-run] BACKUP_FILE [TOPIC...] | sh kafka.sh drill" >&2
  exit 2
}

backup() {
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out="$BACKUP_DIR/kafka-topics-$stamp.txt"
  partial="$out.partial"
  make_work
  write_props
  {
    echo "# Kafka topic backup $stamp from $KAFKA_BOOTSTRAP"
    echo "# kafka-topics.sh --describe"
    kafka kafka-topics.sh --describe
    echo "# kafka-configs.sh --describe --entity-type topics --all"
    kafka kafka-configs.sh --describe --entity-type topics --all
  } >"$partial"
  mv "$partial" "$out"
  topics=$(grep -c '^Topic:' "$out" || true)
  echo "backup written: $out ($topics topics, $(wc -c <"$out") bytes)"
  # .txt* takes the .partial of a killed run too (SIGKILL skips the EXIT trap).
  find "$BACKUP_DIR" -maxdepth 1 -name 'kafka-topics-*.txt*' -mtime +"$RETENTION_DAYS" -print -delete
}

# The private temporary directory of a run ($work, with the client properties), removed on exit with
# the backup's $partial file if any.
partial=""
make_work() {
  work=$(mktemp -d)
  trap 'rm -rf "$work" ${partial:+"$partial"}' EXIT
  trap 'exit 1' HUP INT TERM
}

# A value inside a JAAS quoted string inside a Java properties file: both layers unescape backslashes.
jaas_quote() {
  printf '%s' "$1" | sed -e 's/\\/\\\\\\\\/g' -e 's/"/\\\\"/g'
}

# write_props: the client properties in $props; they hold the password, so they live in $work only.
write_props() {
  props="$work/client.properties"
  (
    umask 077
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
  )
}

# kafka TOOL ARG...: a Kafka command-line tool against KAFKA_BOOTSTRAP with the client properties.
kafka() {
  tool=$1
  shift
  "$bin/$tool" --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$props" "$@"
}

restore() {
  dry_run=0
  if [ "${1:-}" = --dry-run ]; then
    dry_run=1
    shift
  fi
  [ $# -ge 1 ] || usage
  file=$1
  shift
  if [ ! -r "$file" ]; then
    echo "kafka restore: cannot read backup file '$file'" >&2
    exit 2
  fi
  if ! grep -q '^# kafka-configs.sh --describe' "$file"; then
    echo "kafka restore: '$file' is not a complete backup of kafka.sh (no kafka-configs.sh section)" >&2
    exit 2
  fi
  rf_override="${KAFKA_REPLICATION_FACTOR:-}"
  case "$rf_override" in
    *[!0-9]* | 0) echo "kafka restore: KAFKA_REPLICATION_FACTOR must be a positive number" >&2 && exit 2 ;;
  esac
  make_work
  read_plan
  if ! grep -q "^T$tab" "$plan"; then
    echo "kafka restore: no topics in '$file'" >&2
    exit 1
  fi

  # The selected topics: the arguments (each must be in the file), or every topic of the file.
  selected="$work/selected"
  if [ $# -gt 0 ]; then
    missing=""
    for t in "$@"; do
      if [ -n "$(plan_field T "$t" 2)" ]; then printf '%s\n' "$t"; else missing="$missing $t"; fi
    done >"$selected"
    if [ -n "$missing" ]; then
      echo "kafka restore: not in the backup file:$missing" >&2
      exit 1
    fi
  else
    awk -F "$tab" '$1 == "T" { print $2 }' "$plan" >"$selected"
  fi

  existing="$work/existing"
  if [ "$dry_run" = 1 ]; then
    : >"$existing"
  else
    write_props
    if ! kafka kafka-topics.sh --list </dev/null >"$existing" 2>"$work/list.err"; then
      echo "kafka restore: cannot list the topics of $KAFKA_BOOTSTRAP:" >&2
      grep -v '^[[:space:]]*at ' "$work/list.err" >&2 || true
      exit 1
    fi
  fi

  created=0
  present=0
  failed=0
  skipped=0
  while IFS= read -r topic; do
    case "$topic" in
      __*)
        echo "skipped internal topic $topic (made by the brokers)"
        skipped=$((skipped + 1))
        continue
        ;;
    esac
    if grep -qxF -e "$topic" "$existing"; then
      echo "exists, left as it is: $topic"
      present=$((present + 1))
      continue
    fi
    partitions=$(plan_field T "$topic" 3)
    rf=$(plan_field T "$topic" 4)
    [ -z "$rf_override" ] || rf=$rf_override
    if [ -z "$(plan_field S "$topic" 2)" ]; then
      echo "not created: $topic has no kafka-configs.sh section in the backup (its configs are unknown)" >&2
      failed=$((failed + 1))
      continue
    fi
    # The arguments of kafka-topics.sh --create, built in the positional parameters.
    set -- --topic "$topic" --partitions "$partitions" --replication-factor "$rf"
    shown=""
    while IFS="$tab" read -r kind name kv; do
      [ "$name" = "$topic" ] || continue
      case "$kind" in
        C)
          case "$kv" in
            *=)
              # kafka-topics.sh refuses "key=" (an empty value is the default for such keys anyway).
              echo "note: $topic: ${kv%=} is set empty in the backup; left to its default"
              continue
              ;;
          esac
          set -- "$@" --config "$kv"
          shown="$shown $kv"
          ;;
        X) echo "warning: $topic: $kv is sensitive, its value is not in the backup; set it by hand" >&2 ;;
      esac
    done <"$plan"
    what="$partitions partitions, replication factor $rf, configs:${shown:- none}"
    if [ "$dry_run" = 1 ]; then
      echo "would create $topic ($what)"
      created=$((created + 1))
      continue
    fi
    if kafka kafka-topics.sh --create "$@" </dev/null >"$work/create.out" 2>&1; then
      echo "created $topic ($what)"
      created=$((created + 1))
    else
      echo "not created: $topic ($what):" >&2
      grep -v '^[[:space:]]*at ' "$work/create.out" >&2 || true
      failed=$((failed + 1))
    fi
  done <"$selected"

  verb=created
  [ "$dry_run" = 0 ] || verb="to create"
  echo "kafka restore from $file: $created $verb, $present already there, $skipped internal skipped, $failed failed"
  [ "$failed" = 0 ]
}

# read_plan: the restore plan of $file in $plan, one tab-separated line each:
#   T topic partitions replication-factor   (from the kafka-topics.sh --describe header lines)
#   S topic                                 (the topic has a kafka-configs.sh section)
#   C topic key=value                       (a config set on the topic)
#   X topic key                             (a sensitive config: its value is not in the backup)
tab=$(printf '\t')
read_plan() {
  plan="$work/plan"
  awk '
    BEGIN { FS = "\t"; OFS = "\t" }
    /^# kafka-configs\.sh / { configs = 1; next }
    !configs && /^Topic: / {
      name = ""; parts = ""; rf = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Topic: /) name = substr($i, 8)
        else if ($i ~ /^PartitionCount: /) parts = substr($i, 17)
        else if ($i ~ /^ReplicationFactor: /) rf = substr($i, 20)
      }
      print "T", name, parts, rf
      next
    }
    configs && /^All configs for topic .* are:$/ {
      topic = substr($0, 23, length($0) - 22 - 5)
      print "S", topic
      next
    }
    configs && /^  [^ =]+=/ {
      line = substr($0, 3)
      eq = index(line, "=")
      key = substr(line, 1, eq - 1)
      rest = substr(line, eq + 1)
      if (!match(rest, / sensitive=(true|false) synonyms=\{.*\}$/)) next
      value = substr(rest, 1, RSTART - 1)
      tail = substr(rest, RSTART)
      if (index(tail, "synonyms={DYNAMIC_TOPIC_CONFIG:") == 0) next
      if (index(tail, " sensitive=true ") == 1) print "X", topic, key
      else print "C", topic, key "=" value
    }
  ' "$file" >"$plan"
}

# plan_field KIND TOPIC N: field N of the first plan line of that kind and topic (exact match).
plan_field() {
  awk -F "$tab" -v k="$1" -v t="$2" -v n="$3" '$1 == k && $2 == t { print $n; exit }' "$plan"
}

drill_fail() {
  echo "drill failed: kafka: $*" >&2
  if [ -w /dev/termination-log ]; then echo "drill failed: kafka: $*" >/dev/termination-log || true; fi
  exit 1
}

drill() {
  : "${DRILL_DIR:?}"
  # The stamp in the name orders the files; a .partial is never one.
  file=$(find "$DRILL_DIR" -maxdepth 1 -name 'kafka-topics-*.txt' | sort | tail -n 1)
  [ -n "$file" ] || drill_fail "no backup kafka-topics-*.txt in $DRILL_DIR"
  name=$(basename "$file")
  grep -q '^# kafka-topics.sh --describe' "$file" || drill_fail "$name has no kafka-topics.sh section"
  grep -q '^# kafka-configs.sh --describe' "$file" || drill_fail "$name has no kafka-configs.sh section (cut short)"
  make_work
  read_plan
  topics=$(grep -c "^T$tab" "$plan" || true)
  [ "$topics" -gt 0 ] || drill_fail "$name holds no topic"
  incomplete=$(awk -F "$tab" '
    $1 == "T" { t[$2] = 1; if ($3 !~ /^[1-9][0-9]*$/ || $4 !~ /^[1-9][0-9]*$/) bad[$2] = 1 }
    $1 == "S" { s[$2] = 1 }
    END { for (k in t) if (bad[k] || !(k in s)) print k }' "$plan" | sort | paste -sd ' ' -)
  [ -z "$incomplete" ] || drill_fail "$name: topics without their layout or configs section: $incomplete"
  configs=$(grep -c "^C$tab" "$plan" || true)
  layout=$(awk -F "$tab" '$1 == "T" { print $2 "=" $3 "x" $4 }' "$plan" | sort | paste -sd ' ' -)
  summary="drill passed: kafka $name ($(wc -c <"$file" | tr -d ' ') bytes): $topics topics, $configs topic configs: $layout"
  echo "$summary"
  if [ -w /dev/termination-log ]; then printf '%s\n' "$summary" | cut -c1-4000 >/dev/termination-log || true; fi
}

case "${1:-backup}" in
  backup) [ $# -le 1 ] || usage; backup ;;
  restore) shift; restore "$@" ;;
  drill) [ $# -le 1 ] || usage; drill ;;
  *) usage ;;
esac
