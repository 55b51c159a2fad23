/**
 * Kafka ACLs: what each client user but the initialiser's may do on topics and consumer groups
 * (`kafka.access`), converged on a cluster that runs Kafka's StandardAuthorizer. What config asks for is
 * in ./kafka-acls/spec.ts, the requests in ./kafka-acls/apply.ts, the provider in ./kafka-acls/provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { KafkaAclsProvider } from "./kafka-acls/provider";
import { AclBinding } from "./kafka-acls/spec";
import { initialiserOptions } from "./shared/options";
import { ForwardSpec } from "./shared/port-forward";
import { codeVersion } from "./shared/version";

export { KafkaAclsProvider } from "./kafka-acls/provider";
export { bindingsFor, observerBindings, planBindings } from "./kafka-acls/spec";
export type { AclBinding, KafkaAclsInputs, KafkaAclsOutputs } from "./kafka-acls/spec";

/** Arguments of {@link KafkaAcls}. */
export interface KafkaAclsArgs {
  /** Bootstrap brokers, `host:port`. */
  brokers: pulumi.Input<string[]>;
  /** SASL mechanism the initialiser connects with, as kafkajs names it (`scram-sha-512`). */
  mechanism: pulumi.Input<string>;
  /** SASL user the initialiser connects as (a super user). */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** The users whose bindings this resource owns. */
  users: pulumi.Input<string[]>;
  /** Their bindings (bindingsFor). */
  acls: pulumi.Input<AclBinding[]>;
  /** Seconds to keep retrying to reach the cluster. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the brokers from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The ACLs of the platform's Kafka client users. */
export class KafkaAcls extends pulumi.dynamic.Resource {
  /** Bindings as last applied or observed. */
  declare readonly acls: pulumi.Output<AclBinding[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: KafkaAclsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new KafkaAclsProvider(),
      name,
      { ...args, codeVersion: codeVersion(__filename), log: undefined },
      initialiserOptions(opts, ["password"]),
    );
  }
}
