/**
 * The ACL requests of the Kafka ACL initialiser through kafkajs's admin client: describe the bindings of
 * the managed users, create and delete bindings. kafkajs is required inside the functions: Pulumi
 * serializes the provider, which must capture no module object.
 */
import { KafkaAdmin, KafkajsAcl, withAdmin } from "../kafka/admin";
import { isKafkaFatal } from "../shared/kafka";
import { AclBinding, KafkaAclsInputs } from "./spec";

/** kafkajs's enums (name -> code) for the four coded fields of a binding. */
function codes(): Record<"resource" | "pattern" | "operation" | "permission", Record<string, number>> {
  const k = require("kafkajs");
  return {
    resource: k.AclResourceTypes,
    pattern: k.ResourcePatternTypes,
    operation: k.AclOperationTypes,
    permission: k.AclPermissionTypes,
  };
}

function nameOf(table: Record<string, number>, code: number): string {
  return Object.keys(table).find((k) => table[k] === code) ?? String(code);
}

function toKafkajs(b: AclBinding, c: ReturnType<typeof codes>): KafkajsAcl {
  return {
    resourceType: c.resource[b.resource],
    resourceName: b.name,
    resourcePatternType: c.pattern[b.pattern],
    principal: `User:${b.user}`,
    host: b.host,
    operation: c.operation[b.operation],
    permissionType: c.permission[b.permission],
  };
}

/**
 * A broker answer no retry can change: the initialiser's user may not manage ACLs, or the cluster has no
 * authorizer. Both end the run at once with a message that says what to do.
 */
export function aclRefusal(e: unknown): Error | undefined {
  const type = String((e as { type?: unknown })?.type ?? "");
  const fatal = (message: string) => Object.assign(new Error(message), { aclRefusal: true });
  if (type === "SECURITY_DISABLED") {
    return fatal(
      "the Kafka cluster has no authorizer, so it cannot hold ACLs: set authorizer.class.name on the brokers (helm mode does), or remove kafka.access for an external cluster without one",
    );
  }
  if (type === "CLUSTER_AUTHORIZATION_FAILED") {
    return fatal(
      "CLUSTER_AUTHORIZATION_FAILED: the initialiser's user (the first of kafka.clientUsers) needs ALTER and DESCRIBE on the cluster to manage ACLs; make it a super user (super.users)",
    );
  }
  return undefined;
}

/** Connects as the initialiser's user, runs `fn`, disconnects (withAdmin's retries and deadline). */
export function withAclAdmin<T>(inputs: KafkaAclsInputs, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  return withAdmin(
    inputs,
    async (admin) => {
      try {
        return await fn(admin);
      } catch (e) {
        throw aclRefusal(e) ?? e;
      }
    },
    "kafka-acls",
    (e) => isKafkaFatal(e) || (e as { aclRefusal?: boolean })?.aclRefusal === true,
  );
}

/** Every binding whose principal is one of `users`, on any resource. */
export async function describeBindings(admin: KafkaAdmin, users: string[]): Promise<AclBinding[]> {
  const c = codes();
  const out: AclBinding[] = [];
  for (const user of users) {
    const answer = await admin.describeAcls({
      resourceType: c.resource.ANY,
      resourcePatternType: c.pattern.ANY,
      principal: `User:${user}`,
      operation: c.operation.ANY,
      permissionType: c.permission.ANY,
    });
    for (const r of answer.resources) {
      for (const a of r.acls) {
        out.push({
          user,
          resource: nameOf(c.resource, r.resourceType),
          pattern: nameOf(c.pattern, r.resourcePatternType),
          name: r.resourceName,
          operation: nameOf(c.operation, a.operation),
          permission: nameOf(c.permission, a.permissionType),
          host: a.host,
        });
      }
    }
  }
  return out;
}

export async function createBindings(admin: KafkaAdmin, bindings: AclBinding[]): Promise<void> {
  const c = codes();
  if (bindings.length > 0) await admin.createAcls({ acl: bindings.map((b) => toKafkajs(b, c)) });
}

/** Deletes exactly these bindings (each filter names every field, so it matches that binding alone). */
export async function deleteBindings(admin: KafkaAdmin, bindings: AclBinding[]): Promise<void> {
  const c = codes();
  if (bindings.length > 0) await admin.deleteAcls({ filters: bindings.map((b) => toKafkajs(b, c)) });
}
