/** The Kafka topics provider: missing topics created, partitions grown, configs converged. */
import * as pulumi from "@pulumi/pulumi";
import { topicReplicationProblem } from "../../policies/lib/data-rules";
import { inPlaceDiff, removedNames } from "../shared/diff";
import { progress } from "../shared/progress";
import { known } from "../shared/unknown";
import { observeTopics, waitForLeaders, withAdmin } from "./admin";
import { planTopics } from "./plan";
import { KafkaTopicsInputs, KafkaTopicsOutputs, refusedTopicChanges, TopicSpec } from "./spec";

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
    const removed = removedNames(olds.topics, news.topics);
    return { outs: await this.converge(news, removed) };
  }

  async read(id: string, props: KafkaTopicsOutputs): Promise<pulumi.dynamic.ReadResult> {
    const observed = await withAdmin(props, async (admin) =>
      observeTopics(
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
    await withAdmin(inputs, async (admin, left) => {
      const actual = await observeTopics(
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
}
