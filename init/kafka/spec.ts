/** Kafka topics: what config declares, and the changes Kafka cannot make in place (pure, no network). */
import { KafkaConnectionInputs } from "../shared/kafka";
import { VersionedInputs } from "../shared/version";

/** One topic as config declares it and as `read` observes it. */
export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level (dynamic) configs; `alterConfigs` replaces the whole set, so this is the full set. */
  configs: Record<string, string>;
}

/** Inputs of the provider (plain values, as the engine passes them). */
export interface KafkaTopicsInputs extends KafkaConnectionInputs, VersionedInputs {
  topics: TopicSpec[];
  /** Delete topics that an update removes from config (data loss); otherwise they are left in place. */
  deleteRemovedTopics: boolean;
  /** Broker nodes of the cluster (`kafka.nodes`): bounds the replication factor; policies read it too. */
  nodes?: number;
}

/** Outputs: the inputs, with `topics` as observed on the cluster, and the steps of the last run. */
export interface KafkaTopicsOutputs extends KafkaTopicsInputs {
  log: string[];
}

/** Changes Kafka cannot make in place, found by comparing old and new desired state (no network). */
export function refusedTopicChanges(
  olds: TopicSpec[] | undefined,
  news: TopicSpec[],
): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  const before = new Map((olds ?? []).map((t) => [t.name, t]));
  news.forEach((t, i) => {
    const old = before.get(t.name);
    if (!old) return;
    if (t.partitions < old.partitions) {
      failures.push({
        property: `topics[${i}].partitions`,
        reason: `topic "${t.name}" has ${old.partitions} partitions and Kafka cannot remove partitions; keep kafka.topics[${i}].partitions at ${old.partitions} or more (to shrink, create a new topic, move the data, then remove this one from config)`,
      });
    }
    if (t.replicationFactor !== old.replicationFactor) {
      failures.push({
        property: `topics[${i}].replicationFactor`,
        reason: `topic "${t.name}" has replication factor ${old.replicationFactor}; this program does not reassign replicas. Reassign with kafka-reassign-partitions.sh, then set kafka.topics[${i}].replicationFactor to ${t.replicationFactor}, or put it back to ${old.replicationFactor}`,
      });
    }
  });
  return failures;
}
