/**
 * Kafka SCRAM users: the client users of config, with their generated passwords, on a running cluster.
 *
 * The Bitnami image creates SCRAM users only when it first formats the KRaft storage, so a user added to
 * config later, or a rotated password, never reaches a running cluster without this. What config asks
 * for is in ./kafka-users/spec.ts, the KIP-554 requests in ./kafka-users/operations.ts, the provider in
 * ./kafka-users/provider.ts. Credentials are salted here (RFC 5802's Hi()); the password never travels.
 */
import * as pulumi from "@pulumi/pulumi";
import { KafkaScramUsersProvider } from "./kafka-users/provider";
import { ScramUserSpec } from "./kafka-users/spec";
import { initialiserOptions } from "./shared/options";
import { ForwardSpec } from "./shared/port-forward";
import { codeVersion } from "./shared/version";

export { KafkaScramUsersProvider } from "./kafka-users/provider";
export type {
  KafkaScramUsersInputs,
  KafkaScramUsersOutputs,
  ScramMechanism,
  ScramUserSpec,
} from "./kafka-users/spec";

/** Arguments of {@link KafkaScramUsers}. */
export interface KafkaScramUsersArgs {
  /** Bootstrap brokers, `host:port`. */
  brokers: pulumi.Input<string[]>;
  /** SASL mechanism the initialiser connects with, as kafkajs names it (`scram-sha-512`). */
  mechanism: pulumi.Input<string>;
  /** SASL user the initialiser connects as (needs ALTER on the cluster). */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** The users to keep on the cluster. */
  users: pulumi.Input<ScramUserSpec[]>;
  /** Each user's password, by name (secrets). */
  userPasswords: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** PBKDF2 iterations per credential (4096 to 16384). */
  iterations: pulumi.Input<number>;
  /** Seconds to keep retrying to reach the cluster. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the brokers from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** SASL/SCRAM users of the platform's Kafka cluster. */
export class KafkaScramUsers extends pulumi.dynamic.Resource {
  /** Users as last applied or observed. */
  declare readonly users: pulumi.Output<ScramUserSpec[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: KafkaScramUsersArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new KafkaScramUsersProvider(),
      name,
      {
        ...args,
        userPasswords: pulumi.secret(args.userPasswords),
        codeVersion: codeVersion(__filename),
        observe: !pulumi.runtime.isDryRun(),
        log: undefined,
      },
      initialiserOptions(opts, ["password", "userPasswords"]),
    );
  }
}
