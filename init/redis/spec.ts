/**
 * Redis ACL users, what config asks for and how a server's answer is compared with it (pure: no network):
 * the inputs and outputs, the exact rules of a user, the comparable form of `ACL GETUSER`, and drift.
 */
import * as crypto from "crypto";
import { aclPasswordHash } from "../../components/redis/sentinel-users";
import type { ForwardSpec } from "../shared/port-forward";
import type { HostPort } from "../redis-topology";

/** An ACL user as config declares it (its password is a separate secret input). */
export interface AclUserSpec {
  name: string;
  /** Key patterns, without the `~`. */
  keys: string[];
  /** Pub/Sub channel patterns, without the `&`. */
  channels: string[];
  /** Command rules, `+@read -@dangerous`. */
  commands: string;
}

/** Inputs of the provider. */
export interface RedisAclUsersInputs {
  sentinels: HostPort[];
  masterName: string;
  /** Password of the nodes' default user (a secret). */
  password: string;
  /** Password of the Sentinels (a secret). */
  sentinelPassword: string;
  users: AclUserSpec[];
  /** Password of each user by name (a secret). */
  userPasswords: Record<string, string>;
  /**
   * Nodes (master + replicas) the set is declared with. A run waits, up to the deadline, until the
   * Sentinels and the master together name at least this many: a replica Sentinel has not picked up yet
   * (a new pod, a node back after a failover) must get the users too. 0 trusts what Sentinel lists.
   */
  expectedNodes?: number;
  timeoutSeconds: number;
  /** How to reach the Sentinels and nodes from here (shared/port-forward.ts); unset: as given. */
  forward?: ForwardSpec;
  /**
   * Whether `check` reads every server's users so that `diff` sees drift (a user deleted by hand, a
   * Sentinel that came back without its logins): true in `pulumi up`, false in a preview, which stays
   * off the servers (`pulumi preview --refresh` shows drift there). `check` drops it from the inputs.
   */
  observe?: boolean;
  /**
   * Set by `check` only (never by the program): per server, per user, the digest of what the server holds
   * now, in the form of `applied`; a server that could not be read within the probe's deadline is absent.
   */
  observed?: Record<string, Record<string, string>>;
}

export interface RedisAclUsersOutputs extends RedisAclUsersInputs {
  /** Nodes the users were last set on (`host:port`). */
  nodes: string[];
  /** Sentinels the users' discovery login was last set on (`host:port`). */
  sentinelNodes: string[];
  /**
   * Per server (`node host:port`, `sentinel host:port`), per user: the digest of the server's `ACL GETUSER`
   * answer once converged, an HMAC keyed with the nodes' password (so the digests that `check` leaves in
   * the inputs reveal nothing of a user's password). `read` and `diff` compare against it, so neither
   * needs a probe user. A secret output all the same.
   */
  applied: Record<string, Record<string, string>>;
  /** True when `read` found a server that lacks a user or has other rules. */
  drifted: boolean;
  log: string[];
}

/** The ACL SETUSER arguments for a user on a data node: reset first, so the rules are exactly these. */
export function aclRules(user: AclUserSpec, password: string): string[] {
  return [
    "reset",
    "on",
    `#${aclPasswordHash(password)}`,
    ...user.keys.map((k) => `~${k}`),
    ...(user.channels.length > 0 ? user.channels.map((c) => `&${c}`) : ["resetchannels"]),
    ...user.commands.split(/\s+/).filter(Boolean),
  ];
}

/** A comparable summary of `ACL GETUSER` output (flags, password hashes, commands, keys, channels). */
export function summariseGetUser(reply: unknown[] | null): string | undefined {
  if (!reply) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const v = reply[i + 1];
    out[String(reply[i])] = Array.isArray(v) ? v.map(String).sort() : String(v);
  }
  delete out.selectors;
  return JSON.stringify(out, Object.keys(out).sort());
}

/** The digest of a GETUSER summary kept in `applied` and `observed` (see `applied`). */
export function digest(key: string, summary: string | undefined): string {
  return summary === undefined ? "" : crypto.createHmac("sha256", key).update(summary).digest("hex");
}

/**
 * Whether what `check` observed differs from what the last run applied: a user missing or changed on a
 * server, or a server (a new node, a Sentinel) the last run never set. Pure: the diff's half of drift.
 */
export function observedDrift(
  applied: Record<string, Record<string, string>> | undefined,
  observed: Record<string, Record<string, string>> | undefined,
  users: readonly { name: string }[],
): boolean {
  if (!observed) return false;
  return Object.entries(observed).some(([server, have]) =>
    users.some((u) => !have[u.name] || applied?.[server]?.[u.name] !== have[u.name]),
  );
}
