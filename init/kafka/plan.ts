/** The plan for one run of the topics initialiser: pure, from the desired topics and the cluster's. */
import { TopicSpec } from "./spec";

/** The plan for one run, from the desired topics and what the cluster has. */
export function planTopics(
  desired: TopicSpec[],
  actual: Map<string, TopicSpec>,
): {
  create: TopicSpec[];
  grow: { name: string; count: number }[];
  reconfigure: TopicSpec[];
  refused: string[];
} {
  const plan = {
    create: [] as TopicSpec[],
    grow: [] as { name: string; count: number }[],
    reconfigure: [] as TopicSpec[],
    refused: [] as string[],
  };
  for (const t of desired) {
    const a = actual.get(t.name);
    if (!a) {
      plan.create.push(t);
      continue;
    }
    if (t.partitions > a.partitions) plan.grow.push({ name: t.name, count: t.partitions });
    if (t.partitions < a.partitions) {
      plan.refused.push(
        `topic "${t.name}" has ${a.partitions} partitions on the cluster, config asks for ${t.partitions}: Kafka cannot remove partitions`,
      );
    }
    if (t.replicationFactor !== a.replicationFactor) {
      plan.refused.push(
        `topic "${t.name}" has replication factor ${a.replicationFactor} on the cluster, config asks for ${t.replicationFactor}: reassign replicas with kafka-reassign-partitions.sh first`,
      );
    }
    if (JSON.stringify(sorted(t.configs)) !== JSON.stringify(sorted(a.configs))) plan.reconfigure.push(t);
  }
  return plan;
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}
