/** The Kafka ACL provider. Its network work is in ./apply.ts; Pulumi serializes this class. */
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff } from "../shared/diff";
import { progress } from "../shared/progress";
import { endpointListFailures } from "../shared/unknown";
import { createBindings, deleteBindings, describeBindings, withAclAdmin } from "./apply";
import {
  aclFailures,
  sortBindings,
  describePlan,
  KafkaAclsInputs,
  KafkaAclsOutputs,
  planBindings,
} from "./spec";

export class KafkaAclsProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Partial<KafkaAclsInputs>, news: KafkaAclsInputs): Promise<pulumi.dynamic.CheckResult> {
    const failures = [...aclFailures(news), ...endpointListFailures("brokers", news.brokers)];
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: KafkaAclsOutputs, news: KafkaAclsInputs): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log"]);
  }

  async create(inputs: KafkaAclsInputs): Promise<pulumi.dynamic.CreateResult> {
    return { id: `kafka-acls-${inputs.brokers[0]}`, outs: await this.converge(inputs, []) };
  }

  async update(
    _id: string,
    olds: KafkaAclsOutputs,
    news: KafkaAclsInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const dropped = (olds.users ?? []).filter((u) => !news.users.includes(u) && u !== news.username);
    return { outs: await this.converge(news, dropped) };
  }

  /** The managed users' bindings as the cluster holds them: any difference from config shows as drift. */
  async read(id: string, props: KafkaAclsOutputs): Promise<pulumi.dynamic.ReadResult> {
    const observed = await withAclAdmin(props, (admin) => describeBindings(admin, props.users));
    return { id, props: { ...props, acls: sortBindings(observed) } };
  }

  /**
   * Keeps every binding: applications keep their access when the resource is renamed or moved (the new
   * one converges the same bindings) and after `pulumi destroy` (the users' credentials go with the
   * SCRAM users resource). Remove a user from kafka.clientUsers to take its access away.
   */
  async delete(_id: string, props: KafkaAclsOutputs): Promise<void> {
    progress("kafka-acls").log(
      `kept the ACLs of ${props.users.join(", ") || "no user"}: removing this resource changes no access`,
    );
  }

  /**
   * Brings the bindings of `inputs.users` to exactly `inputs.acls`, and removes every binding of
   * `dropped` (users config no longer has). Creating an existing binding and deleting a missing one are
   * no-ops for Kafka, so a run cut short is simply run again.
   */
  private async converge(inputs: KafkaAclsInputs, dropped: string[]): Promise<KafkaAclsOutputs> {
    const { log, lines } = progress("kafka-acls");
    const failures = aclFailures(inputs);
    if (failures.length > 0) throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
    await withAclAdmin(inputs, async (admin) => {
      const observed = await describeBindings(admin, [...inputs.users, ...dropped]);
      const plan = planBindings(inputs.acls, observed);
      // New access first, then what is no longer declared: a change never leaves a user with neither.
      await createBindings(admin, plan.create);
      await deleteBindings(admin, plan.remove);
      for (const line of describePlan(plan)) log(line);
      if (plan.create.length + plan.remove.length === 0) {
        log(`ACLs of ${inputs.users.join(", ") || "no user"} as declared (${inputs.acls.length} bindings)`);
      }
    });
    return { ...inputs, log: lines };
  }
}
