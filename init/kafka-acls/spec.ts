/**
 * Kafka ACLs, what config asks for: one ALLOW binding per user, resource and operation, made from each
 * client user's access (config/kafka-access.ts), and the plan that turns the observed bindings of the
 * managed users into the desired ones (pure: no network).
 */
import type { KafkaUserAccess } from "../../config/kafka-access";
import { KafkaConnectionInputs } from "../shared/kafka";
import { containsUnknown, isUnknown } from "../shared/unknown";
import { VersionedInputs } from "../shared/version";

/**
 * One ACL binding of a managed user. Desired ones are `ALLOW` from any host; observed ones may be anything
 * (a binding added by hand), and only those the config declares stay.
 */
export interface AclBinding {
  user: string;
  /** Kafka's resource type: TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, ... */
  resource: string;
  /** LITERAL (a name, or `*` for all) or PREFIXED. */
  pattern: string;
  name: string;
  /** READ, WRITE, DESCRIBE, ... */
  operation: string;
  /** ALLOW or DENY. */
  permission: string;
  host: string;
}

/** Inputs of the provider (plain values, as the engine passes them). */
export interface KafkaAclsInputs extends KafkaConnectionInputs, VersionedInputs {
  /** The users whose bindings this resource owns: every client user but the initialiser's. */
  users: string[];
  /** Their bindings, sorted by {@link bindingKey}. */
  acls: AclBinding[];
}

/** Outputs: the inputs (`acls` as observed by `read`) and the steps of the last run. */
export interface KafkaAclsOutputs extends KafkaAclsInputs {
  log: string[];
}

/** A binding's identity, also its sort order. */
export function bindingKey(b: AclBinding): string {
  return [b.user, b.resource, b.pattern, b.name, b.operation, b.permission, b.host].join("|");
}

/** Bindings in {@link bindingKey} order (the order of the inputs, the outputs and the log). */
export function sortBindings(bindings: AclBinding[]): AclBinding[] {
  return [...bindings].sort((a, b) =>
    bindingKey(a) < bindingKey(b) ? -1 : bindingKey(a) > bindingKey(b) ? 1 : 0,
  );
}

/** `*` is Kafka's literal wildcard, `name*` a prefix, anything else one name. */
function resourcePattern(p: string): { pattern: string; name: string } {
  if (p === "*") return { pattern: "LITERAL", name: "*" };
  if (p.endsWith("*")) return { pattern: "PREFIXED", name: p.slice(0, -1) };
  return { pattern: "LITERAL", name: p };
}

/** An ALLOW binding from any host; `p` as in config (a name, `prefix*`, or `*`). */
function allow(user: string, resource: string, p: string, operation: string): AclBinding {
  return { user, resource, ...resourcePattern(p), operation, permission: "ALLOW", host: "*" };
}

/**
 * The bindings of each user's access: consuming needs READ and DESCRIBE on the topic and READ on the
 * group, producing WRITE and DESCRIBE on the topic (an idempotent producer needs no more since Kafka 3.0).
 * Nothing else: no CREATE, DELETE, ALTER or ALTER_CONFIGS on any resource, nothing on the cluster.
 */
export function bindingsFor(access: KafkaUserAccess[]): AclBinding[] {
  const out = new Map<string, AclBinding>();
  const add = (user: string, resource: string, p: string, operation: string) => {
    const b = allow(user, resource, p, operation);
    out.set(bindingKey(b), b);
  };
  for (const a of access) {
    for (const t of a.read) for (const op of ["READ", "DESCRIBE"]) add(a.user, "TOPIC", t, op);
    for (const t of a.write) for (const op of ["WRITE", "DESCRIBE"]) add(a.user, "TOPIC", t, op);
    for (const g of a.groups) add(a.user, "GROUP", g, "READ");
  }
  return sortBindings([...out.values()]);
}

/**
 * The bindings of a read-only observer (the exporter's and backup job's login): it sees the cluster,
 * every topic and group and their configs (consumer lag needs the groups' committed offsets: DESCRIBE on
 * the group and the topic), and can neither read messages nor change anything.
 */
export function observerBindings(user: string): AclBinding[] {
  return sortBindings([
    ...["DESCRIBE", "DESCRIBE_CONFIGS"].map((op) => allow(user, "CLUSTER", "kafka-cluster", op)),
    ...["DESCRIBE", "DESCRIBE_CONFIGS"].map((op) => allow(user, "TOPIC", "*", op)),
    allow(user, "GROUP", "*", "DESCRIBE"),
  ]);
}

/** What to create and what to remove so that the managed users hold exactly the desired bindings. */
export function planBindings(
  desired: AclBinding[],
  observed: AclBinding[],
): { create: AclBinding[]; remove: AclBinding[] } {
  const want = new Set(desired.map(bindingKey));
  const have = new Set(observed.map(bindingKey));
  return {
    create: sortBindings(desired.filter((b) => !have.has(bindingKey(b)))),
    remove: sortBindings(observed.filter((b) => !want.has(bindingKey(b)))),
  };
}

/** One line per user and change, for the run's log: `app: +READ TOPIC events, -DELETE TOPIC *`. */
export function describePlan(plan: { create: AclBinding[]; remove: AclBinding[] }): string[] {
  const byUser = new Map<string, string[]>();
  const text = (sign: string, b: AclBinding) =>
    `${sign}${b.permission === "ALLOW" ? "" : `${b.permission} `}${b.operation} ${b.resource} ${b.pattern === "PREFIXED" ? `${b.name}*` : b.name}${b.host === "*" ? "" : ` from ${b.host}`}`;
  for (const b of plan.create) byUser.set(b.user, [...(byUser.get(b.user) ?? []), text("+", b)]);
  for (const b of plan.remove) byUser.set(b.user, [...(byUser.get(b.user) ?? []), text("-", b)]);
  return [...byUser.entries()].map(([user, changes]) => `ACLs of ${user}: ${changes.join(", ")}`);
}

type Failure = { property: string; reason: string };

/** Problems with the inputs, each naming the property; values not known yet are not checked. */
export function aclFailures(inputs: Partial<KafkaAclsInputs>): Failure[] {
  const failures: Failure[] = [];
  const users = isUnknown(inputs.users) ? undefined : (inputs.users ?? []);
  if (users?.includes(inputs.username as string)) {
    failures.push({
      property: "users",
      reason: `"${inputs.username}" is the initialiser's own (super) user`,
    });
  }
  (isUnknown(inputs.acls) ? [] : (inputs.acls ?? [])).forEach((b, i) => {
    if (containsUnknown(b)) return;
    if (users && !users.includes(b.user)) {
      failures.push({ property: `acls[${i}].user`, reason: `"${b.user}" is not one of users` });
    }
    if (!["LITERAL", "PREFIXED"].includes(b.pattern) || !b.name) {
      failures.push({ property: `acls[${i}]`, reason: `"${b.pattern}" "${b.name}" is no resource pattern` });
    }
  });
  return failures;
}
