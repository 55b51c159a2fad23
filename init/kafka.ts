/**
 * Kafka topics (seed §6.3) through kafkajs's admin API: missing topics created in one batched call,
 * partitions grown in place, topic configs converged, destructive changes refused.
 */
import * as pulumi from "@pulumi/pulumi";
import { topicReplicationProblem } from "../policies/lib/data-rules";
import { inPlaceDiff } from "./shared/diff";
import { firstBroker, isKafkaFatal, KafkaConnectionInputs, kafkaTarget, newKafka } from "./shared/kafka";
import { Forwarder, ForwardSpec, withForwarder } from "./shared/port-forward";
import { initialiserOptions } from "./shared/options";
import { progress } from "./shared/progress";
import { withRetry, withSession } from "./shared/retry";
import { known } from "./shared/unknown";
import { codeVersion, VersionedInputs } from "./shared/version";

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

/** The provider. Every client is required inside the methods: Pulumi serializes this object. */
export class KafkaTopicsProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<KafkaTopicsInputs>,
    news: KafkaTopicsInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    // Values not known yet (a preview) are checked by the real run.
    const topics = known(news.topics) ?? [];
    const failures = refusedTopicChanges(known(olds.topics), topics);
    const names = new Set<string>();
    topics.forEach((t, i) => {
      if (names.has(t.name))
        failures.push({ property: `topics[${i}].name`, reason: `topic "${t.name}" appears twice` });
      names.add(t.name);
    });
    topics.forEach((t, i) => {
      const problem =
        typeof news.nodes === "number"
          ? topicReplicationProblem(t.name, t.replicationFactor, news.nodes)
          : undefined;
      if (problem) failures.push({ property: `topics[${i}].replicationFactor`, reason: problem });
    });
    return { inputs: news, failures };
  }

  async diff(
    _id: string,
    olds: KafkaTopicsOutputs,
    news: KafkaTopicsInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log"]);
  }

  async create(inputs: KafkaTopicsInputs): Promise<pulumi.dynamic.CreateResult> {
    const outs = await this.converge(inputs, []);
    return { id: `kafka-topics-${inputs.brokers[0]}`, outs };
  }

  async update(
    _id: string,
    olds: KafkaTopicsOutputs,
    news: KafkaTopicsInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const removed = (olds.topics ?? [])
      .map((t) => t.name)
      .filter((n) => !news.topics.some((t) => t.name === n));
    return { outs: await this.converge(news, removed) };
  }

  async read(id: string, props: KafkaTopicsOutputs): Promise<pulumi.dynamic.ReadResult> {
    const observed = await this.withAdmin(props, async (admin) =>
      this.observe(
        admin,
        props.topics.map((t) => t.name),
      ),
    );
    const topics = props.topics
      .map((t) => observed.get(t.name))
      .filter((t): t is TopicSpec => t !== undefined);
    return { id, props: { ...props, topics } };
  }

  /**
   * Keeps every topic, whatever `deleteRemovedTopics` says: delete also runs on `pulumi destroy` and
   * when the resource's URN changes (a rename, a new parent without an alias), where the topics are
   * still wanted. Only an update that removes a topic from config deletes it (opted in).
   */
  async delete(_id: string, props: KafkaTopicsOutputs): Promise<void> {
    const why = props.deleteRemovedTopics
      ? "kafka.deleteRemovedTopics applies to topics an update removes from config, never to delete"
      : "kafka.deleteRemovedTopics is false";
    progress("kafka-topics").log(`kept topics ${props.topics.map((t) => t.name).join(", ")} (${why})`);
  }

  /** Brings the cluster to the desired topics; safe to re-run after any partial run. */
  private async converge(inputs: KafkaTopicsInputs, removed: string[]): Promise<KafkaTopicsOutputs> {
    const { log, lines } = progress("kafka-topics");
    await this.withAdmin(inputs, async (admin, left) => {
      const actual = await this.observe(
        admin,
        inputs.topics.map((t) => t.name),
      );
      const plan = planTopics(inputs.topics, actual);
      if (plan.refused.length > 0) {
        throw new Error(`refusing to change Kafka topics: ${plan.refused.join("; ")}`);
      }
      if (plan.create.length > 0) {
        // One request for every new topic. kafkajs's own waitForLeaders ends at the first
        // UNKNOWN_TOPIC_OR_PARTITION, which KRaft answers while new topics' metadata spreads: the
        // leaders are awaited below instead, treating that answer as "not yet".
        await admin.createTopics({
          waitForLeaders: false,
          topics: plan.create.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: t.replicationFactor,
            configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
          })),
        });
        for (const t of plan.create) {
          log(
            `created topic ${t.name} (${t.partitions} partitions, replication factor ${t.replicationFactor})`,
          );
        }
      }
      if (plan.grow.length > 0) {
        await admin.createPartitions({
          topicPartitions: plan.grow.map((g) => ({ topic: g.name, count: g.count })),
        });
        for (const g of plan.grow) log(`grew topic ${g.name} to ${g.count} partitions`);
      }
      const placed = new Map([
        ...plan.create.map((t): [string, number] => [t.name, t.partitions]),
        ...plan.grow.map((g): [string, number] => [g.name, g.count]),
      ]);
      if (placed.size > 0) await waitForLeaders(admin, placed, left());
      if (plan.reconfigure.length > 0) {
        const { ConfigResourceTypes } = require("kafkajs");
        // alterConfigs is not incremental: it replaces the topic's whole dynamic config, so send it all.
        await admin.alterConfigs({
          validateOnly: false,
          resources: plan.reconfigure.map((t) => ({
            type: ConfigResourceTypes.TOPIC,
            name: t.name,
            configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
          })),
        });
        for (const t of plan.reconfigure) log(`set configs of topic ${t.name}: ${JSON.stringify(t.configs)}`);
      }
      if (removed.length > 0) {
        if (inputs.deleteRemovedTopics) {
          const existing = new Set(await admin.listTopics());
          const doomed = removed.filter((n) => existing.has(n));
          if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
          log(`deleted topics ${doomed.join(", ")} (kafka.deleteRemovedTopics is true)`);
        } else {
          log(`kept topics ${removed.join(", ")} removed from config (kafka.deleteRemovedTopics is false)`);
        }
      }
    });
    return { ...inputs, log: lines };
  }

  /** Partitions, replication factor and dynamic configs of the named topics that exist. */
  private async observe(admin: KafkaAdmin, names: string[]): Promise<Map<string, TopicSpec>> {
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
      for (const c of res?.configEntries ?? [])
        if (c.configSource === 1) dynamic[c.configName] = c.configValue;
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
   * Connects an admin client, runs `fn`, disconnects; again from the start, up to the deadline, when
   * the broker answers with a retriable error (see shared/retry's withSession).
   */
  private async withAdmin<T>(
    inputs: KafkaTopicsInputs,
    fn: (admin: KafkaAdmin, left: () => number) => Promise<T>,
  ): Promise<T> {
    const { log } = progress("kafka-topics");
    return withForwarder(inputs.forward, firstBroker(inputs), log, (fw) => this.session(inputs, fw, log, fn));
  }

  private async session<T>(
    inputs: KafkaTopicsInputs,
    fw: Forwarder,
    log: (line: string) => void,
    fn: (admin: KafkaAdmin, left: () => number) => Promise<T>,
  ): Promise<T> {
    return withSession(
      {
        what: kafkaTarget(inputs),
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets: [inputs.password],
        log,
        isFatal: isKafkaFatal,
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
    );
  }
}

/**
 * Waits until the named topics have their partitions (name → count), each with a leader: one metadata
 * request for all of them per round. The broker's metadata follows the controller's a little later,
 * so UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE and a partition count still the old one mean
 * "not yet" here.
 */
async function waitForLeaders(
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
interface KafkaAdmin {
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
  describeConfigs(args: unknown): Promise<{
    resources: {
      resourceName: string;
      configEntries: { configName: string; configValue: string; configSource: number }[];
    }[];
  }>;
}

/** Arguments of {@link KafkaTopics}. */
export interface KafkaTopicsArgs {
  /** Bootstrap brokers, `host:port`. */
  brokers: pulumi.Input<string[]>;
  /** SASL mechanism as kafkajs names it (`scram-sha-512`). */
  mechanism: pulumi.Input<string>;
  /** SASL user the initialiser connects as. */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** The desired topics. */
  topics: pulumi.Input<TopicSpec[]>;
  /** Delete topics an update removes from config (data loss; never on delete); default keeps them. */
  deleteRemovedTopics: pulumi.Input<boolean>;
  /** Seconds to keep retrying to reach the cluster. */
  timeoutSeconds: pulumi.Input<number>;
  /** Broker nodes of the cluster; bounds the replication factor. */
  nodes?: pulumi.Input<number>;
  /** How to reach the brokers from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The topics of the platform's Kafka cluster. */
export class KafkaTopics extends pulumi.dynamic.Resource {
  /** Topics as last applied or observed. */
  declare readonly topics: pulumi.Output<TopicSpec[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: KafkaTopicsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new KafkaTopicsProvider(),
      name,
      { ...args, codeVersion: codeVersion(__filename), log: undefined },
      initialiserOptions(opts, ["password"]),
    );
  }
}
