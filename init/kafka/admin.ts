/**
 * The kafkajs admin work of the topics initialiser: a session with retries, observing topics, waiting
 * for new partitions' leaders. kafkajs is required inside the functions: Pulumi serializes them.
 */
import { firstBroker, isKafkaFatal, KafkaConnectionInputs, kafkaTarget, newKafka } from "../shared/kafka";
import { withForwarder } from "../shared/port-forward";
import { progress } from "../shared/progress";
import { withRetry, withSession } from "../shared/retry";
import { TopicSpec } from "./spec";

/**
 * Connects an admin client, runs `fn`, disconnects; again from the start, up to the deadline, when
 * the broker answers with a retriable error (see shared/retry's withSession).
 */
export async function withAdmin<T>(
  inputs: KafkaConnectionInputs,
  fn: (admin: KafkaAdmin, left: () => number) => Promise<T>,
  tag = "kafka-topics",
  isFatal: (e: unknown) => boolean = isKafkaFatal,
): Promise<T> {
  const { log } = progress(tag);
  return withForwarder(inputs.forward, firstBroker(inputs), log, (fw) =>
    withSession(
      {
        what: kafkaTarget(inputs),
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets: [inputs.password],
        log,
        isFatal,
        connect: async () => {
          const a: KafkaAdmin = newKafka(inputs, fw).admin();
          try {
            await a.connect();
            await a.describeCluster();
            return a;
          } catch (e) {
            await a.disconnect().catch(() => undefined);
            throw e;
          }
        },
        close: (a) => a.disconnect(),
      },
      fn,
    ),
  );
}

/** Partitions, replication factor and dynamic configs of the named topics that exist. */
export async function observeTopics(admin: KafkaAdmin, names: string[]): Promise<Map<string, TopicSpec>> {
  const { ConfigResourceTypes } = require("kafkajs");
  // One metadata request for all topics (what listTopics sends too), kept to the named ones.
  const wanted = new Set(names);
  const meta = await admin.fetchTopicMetadata();
  const present = meta.topics.filter((t) => wanted.has(t.name));
  const result = new Map<string, TopicSpec>();
  if (present.length === 0) return result;
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name })),
  });
  const byName = new Map(configs.resources.map((r) => [r.resourceName, r]));
  for (const t of present) {
    const res = byName.get(t.name);
    const dynamic: Record<string, string> = {};
    // configSource 1 = TOPIC_CONFIG: set on the topic itself, as opposed to broker defaults.
    for (const c of res?.configEntries ?? []) if (c.configSource === 1) dynamic[c.configName] = c.configValue;
    result.set(t.name, {
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      configs: dynamic,
    });
  }
  return result;
}

/**
 * Waits until the named topics have their partitions (name → count), each with a leader: one metadata
 * request for all of them per round. The broker's metadata follows the controller's a little later,
 * so UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE and a partition count still the old one mean
 * "not yet" here.
 */
export async function waitForLeaders(
  admin: KafkaAdmin,
  partitions: Map<string, number>,
  leftMs: number,
): Promise<void> {
  const names = [...partitions.keys()];
  await withRetry(
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const seen = new Map(meta.topics.map((t) => [t.name, t.partitions]));
      const waiting = names.filter((n) => {
        const ps = seen.get(n) ?? [];
        return ps.length < partitions.get(n)! || ps.some((p) => !(p.leader >= 0));
      });
      if (waiting.length > 0) {
        const some = waiting.slice(0, 3).join(", ") + (waiting.length > 3 ? ", ..." : "");
        // The broker's own word for it, so that the retry treats it as it treats the broker's answer.
        throw Object.assign(
          new Error(`${waiting.length} topic(s) without all their partitions led yet (${some})`),
          {
            type: "LEADER_NOT_AVAILABLE",
            code: 5,
            retriable: true,
          },
        );
      }
    },
    {
      what: "waiting for the leaders of new partitions",
      deadlineMs: leftMs,
      initialDelayMs: 50,
      maxDelayMs: 250,
    },
  );
}

/** The subset of the kafkajs admin client used here (typed locally: the module is required lazily). */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  describeCluster(): Promise<unknown>;
  listTopics(): Promise<string[]>;
  createTopics(args: unknown): Promise<boolean>;
  createPartitions(args: unknown): Promise<boolean>;
  deleteTopics(args: { topics: string[] }): Promise<void>;
  alterConfigs(args: unknown): Promise<unknown>;
  /** Without topics: every topic of the cluster. */
  fetchTopicMetadata(args?: { topics: string[] }): Promise<{
    topics: { name: string; partitions: { leader: number; replicas: number[] }[] }[];
  }>;
  createAcls(args: { acl: KafkajsAcl[] }): Promise<unknown>;
  deleteAcls(args: { filters: KafkajsAcl[] }): Promise<unknown>;
  describeAcls(
    args: Omit<KafkajsAcl, "resourceName" | "host"> & { resourceName?: string; host?: string },
  ): Promise<{
    resources: {
      resourceType: number;
      resourceName: string;
      resourcePatternType: number;
      acls: { principal: string; host: string; operation: number; permissionType: number }[];
    }[];
  }>;
  describeConfigs(args: unknown): Promise<{
    resources: {
      resourceName: string;
      configEntries: { configName: string; configValue: string; configSource: number }[];
    }[];
  }>;
}

/** One ACL binding as kafkajs's ACL requests take it (numeric codes of kafkajs's Acl* enums). */
export interface KafkajsAcl {
  resourceType: number;
  resourceName: string;
  resourcePatternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}
