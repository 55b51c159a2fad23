/** Kafka's alert rules, on the kafka-exporter and JMX exporter metrics of the pinned chart. */
import { AlertRule } from "../shared/monitoring";

/** Consumer lag (messages per group and topic) above which the lag alert fires. */
const KAFKA_CONSUMER_LAG_ALERT = 1000;

/**
 * Kafka's own alert rules (seed §8.1): consumer lag, under-replicated and offline partitions, the KRaft
 * controller, missing brokers.
 */
export function kafkaAlertRules(ns: string, nodes: number): AlertRule[] {
  const sel = `namespace="${ns}"`;
  return [
    {
      alert: "KafkaConsumerLag",
      expr: `sum by (consumergroup, topic) (kafka_consumergroup_lag{${sel}}) > ${KAFKA_CONSUMER_LAG_ALERT}`,
      for: "10m",
      severity: "warning",
      summary: `A consumer group is more than ${KAFKA_CONSUMER_LAG_ALERT} messages behind on a topic`,
    },
    {
      alert: "KafkaUnderReplicatedPartitions",
      expr: `sum(kafka_topic_partition_under_replicated_partition{${sel}}) > 0`,
      for: "5m",
      severity: "warning",
      summary: "Kafka partitions have fewer in-sync replicas than replicas",
    },
    {
      // JMX exporter name of kafka.controller:type=KafkaController,name=OfflinePartitionsCount.
      alert: "KafkaOfflinePartitions",
      expr: `max(kafka_controller_kafkacontroller_offlinepartitionscount_value{${sel}}) > 0`,
      for: "1m",
      severity: "critical",
      summary: "Kafka partitions have no leader: they accept neither reads nor writes",
    },
    {
      alert: "KafkaNoActiveController",
      expr: `sum(kafka_controller_kafkacontroller_activecontrollercount_value{${sel}}) != 1`,
      for: "5m",
      severity: "critical",
      summary: "The KRaft quorum does not have exactly one active controller",
    },
    {
      alert: "KafkaBrokersMissing",
      expr: `max(kafka_brokers{${sel}}) < ${nodes} or absent(kafka_brokers{${sel}})`,
      for: "5m",
      severity: "critical",
      summary: `Fewer than ${nodes} Kafka brokers are up, or the exporter cannot reach any`,
    },
  ];
}
