/**
 * Kafka topics (seed §6.3) through kafkajs's admin API: missing topics created in one batched call,
 * partitions grown in place, topic configs converged, destructive changes refused.
 */
import * as pulumi from "@pulumi/pulumi";
import { KafkaTopicsProvider } from "./kafka/provider";
import { TopicSpec } from "./kafka/spec";
import { initialiserOptions } from "./shared/options";
import { ForwardSpec } from "./shared/port-forward";
import { codeVersion } from "./shared/version";

export { planTopics } from "./kafka/plan";
export { KafkaTopicsProvider } from "./kafka/provider";
export * from "./kafka/spec";

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
