/** The Kafka SCRAM users provider. Its network work is in ./operations.ts; Pulumi serializes this class. */
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff } from "../shared/diff";
import { observeForDrift } from "../shared/observe";
import { progress } from "../shared/progress";
import { endpointListFailures } from "../shared/unknown";
import { alterUsers, describeUsers, hasCredential, Upsertion, withScramAdmin } from "./operations";
import {
  KafkaScramUsersInputs,
  KafkaScramUsersOutputs,
  removedUsers,
  saltedPassword,
  ScramUserSpec,
  userFailures,
} from "./spec";

export class KafkaScramUsersProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<KafkaScramUsersInputs>,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    const failures = userFailures(news);
    failures.push(...endpointListFailures("brokers", news.brokers));
    const { observe, ...inputs } = news;
    delete inputs.missing;
    // Only an existing resource (olds has users) with valid inputs is worth asking about.
    const missing = observe && olds.users && failures.length === 0 ? await this.missing(inputs) : [];
    if (missing.length > 0) inputs.missing = missing;
    return { inputs, failures };
  }

  /** The declared users without their credential (DescribeUserScramCredentials only; writes nothing). */
  private async missing(inputs: KafkaScramUsersInputs): Promise<string[]> {
    const described = await observeForDrift("kafka-scram-users", "the users", inputs, (bounded) =>
      withScramAdmin(bounded, (conn) =>
        describeUsers(
          conn,
          inputs.users.map((u) => u.name),
        ),
      ),
    );
    return described ? inputs.users.filter((u) => !hasCredential(described, u)).map((u) => u.name) : [];
  }

  async diff(
    _id: string,
    olds: KafkaScramUsersOutputs,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log", "missing"], (news.missing ?? []).length > 0);
  }

  async create(inputs: KafkaScramUsersInputs): Promise<pulumi.dynamic.CreateResult> {
    const outs = await this.converge(inputs, []);
    return { id: `kafka-scram-users-${inputs.brokers[0]}`, outs };
  }

  async update(
    _id: string,
    olds: KafkaScramUsersOutputs,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    return { outs: await this.converge(news, removedUsers(olds.users, news), olds.password) };
  }

  /** Users whose credential for their mechanism is gone are left out, so refresh shows the drift. */
  async read(id: string, props: KafkaScramUsersOutputs): Promise<pulumi.dynamic.ReadResult> {
    const described = await withScramAdmin(props, (conn) =>
      describeUsers(
        conn,
        props.users.map((u) => u.name),
      ),
    );
    const present = props.users.filter((u) => hasCredential(described, u));
    return { id, props: { ...props, users: present } };
  }

  /**
   * Keeps the credentials. A renamed or re-parented resource is created, and sets them, before the old
   * one is deleted: removing them here would lock clients out until the next run. `pulumi destroy` keeps
   * them too, like everything the initialisers make. A user leaves when config drops it (update).
   */
  async delete(_id: string, props: KafkaScramUsersOutputs): Promise<void> {
    progress("kafka-scram-users").log(
      `kept the SCRAM credentials of ${props.users.map((u) => u.name).join(", ") || "(none)"}: removing this resource removes no login; drop a user from config to remove it`,
    );
  }

  /**
   * Sets every declared user's credential and removes those of `removed`, in one request (two when a
   * user changes mechanism). Re-salting on every run keeps it idempotent and safe after a failure.
   */
  private async converge(
    inputs: KafkaScramUsersInputs,
    removed: ScramUserSpec[],
    previousPassword?: string,
  ): Promise<KafkaScramUsersOutputs> {
    const { log, lines } = progress("kafka-scram-users");
    const failures = userFailures(inputs);
    if (failures.length > 0) throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
    const { randomBytes } = require("crypto");
    await withScramAdmin(
      inputs,
      async (conn) => {
        const before = await describeUsers(
          conn,
          [...inputs.users, ...removed].map((u) => u.name),
        );
        const has = (u: ScramUserSpec) => hasCredential(before, u);
        const upsertions: Upsertion[] = inputs.users.map((u) => {
          const salt: Buffer = randomBytes(32);
          return {
            name: u.name,
            mechanism: u.mechanism,
            iterations: inputs.iterations,
            salt,
            saltedPassword: saltedPassword(
              inputs.userPasswords[u.name],
              salt,
              inputs.iterations,
              u.mechanism,
            ),
          };
        });
        // Kafka refuses a request that names a user twice: a user whose mechanism changed has its old
        // credential removed in a second request, after the new one is set.
        const deletions = removed.filter(has);
        const renamed = (d: ScramUserSpec) => upsertions.some((u) => u.name === d.name);
        await alterUsers(
          conn,
          deletions.filter((d) => !renamed(d)),
          upsertions,
        );
        await alterUsers(conn, deletions.filter(renamed), []);
        for (const u of inputs.users) {
          log(
            `${has(u) ? "set" : "created"} SCRAM user ${u.name} (${u.mechanism}, ${inputs.iterations} iterations)`,
          );
        }
        for (const d of removed) {
          log(
            has(d)
              ? `removed the ${d.mechanism} credential of ${d.name} (removed from config; users hold no data)`
              : `user ${d.name} left config and had no ${d.mechanism} credential any more`,
          );
        }
      },
      previousPassword,
    );
    // What check observed is not an output (and an undefined key would not serialize).
    const declared = { ...inputs };
    delete declared.missing;
    return { ...declared, log: lines };
  }
}
