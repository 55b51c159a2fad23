/**
 * What the Redis tests share: one connection to a node or Sentinel of scripts/services.sh, the ACL
 * users initialiser's inputs for the test servers, and server-side observations (the current master,
 * ACL writes counted by INFO commandstats).
 */
import { randomBytes } from "node:crypto";
import type { AclUserSpec, RedisAclUsersInputs, RedisAclUsersOutputs } from "../../init/redis";
import type * as pulumi from "@pulumi/pulumi";
import type { Services } from "./servers";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ioredis is required untyped here
export type RedisClient = any;
type Endpoint = { host: string; port: number };

/** Runs `fn` with one connection to a node or Sentinel (as `username` when given), closed after. */
export async function onRedis<T>(
  node: Endpoint,
  password: string,
  fn: (c: RedisClient) => Promise<T>,
  username?: string,
): Promise<T> {
  const Redis = require("ioredis");
  const c = new Redis({
    ...node,
    username,
    password,
    // The ready check sends INFO, which an ACL user without @dangerous may not run.
    enableReadyCheck: false,
    protocol: 2, // like init/redis-topology.ts
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/**
 * One file's ACL users: names and passwords carry the file's run id; `inputs` gives the initialiser's
 * inputs for the test servers.
 */
export function aclScenarios() {
  const run = randomBytes(3).toString("hex");
  return {
    user: (suffix: string, commands = "+@read +@write -@dangerous"): AclUserSpec => ({
      name: `it-${run}-${suffix}`,
      keys: ["cache:*"],
      channels: [],
      commands,
    }),
    inputs(
      svc: Services["redis"],
      users: AclUserSpec[],
      extra: Partial<RedisAclUsersInputs> = {},
    ): RedisAclUsersInputs {
      return {
        sentinels: svc.sentinels,
        masterName: svc.masterName,
        password: svc.password,
        sentinelPassword: svc.sentinelPassword,
        users,
        userPasswords: Object.fromEntries(users.map((u) => [u.name, `pw-${u.name}-${run}`])),
        expectedNodes: svc.nodes.length,
        timeoutSeconds: 30,
        ...extra,
      };
    },
  };
}

/** Calls of the ACL and CONFIG subcommands that write, summed over every node (INFO commandstats). */
export async function aclWrites(svc: Services["redis"]): Promise<number> {
  let total = 0;
  for (const node of svc.nodes) {
    const stats = await onRedis<string>(node, svc.password, (c) => c.call("INFO", "commandstats"));
    for (const m of stats.matchAll(
      /^cmdstat_(acl\|setuser|acl\|deluser|acl\|save|config\|rewrite):calls=(\d+)/gm,
    ))
      total += Number(m[2]);
  }
  return total;
}

/** The master the first Sentinel names now. */
export async function currentMaster(svc: Services["redis"]): Promise<{ host: string; port: number }> {
  const [host, port] = await onRedis<string[]>(svc.sentinels[0], svc.sentinelPassword, (c) =>
    c.call("SENTINEL", "get-master-addr-by-name", svc.masterName),
  );
  return { host, port: Number(port) };
}

/**
 * Removes a test's ACL users from every node and Sentinel the way config does it: an update without
 * them (delete keeps users, so that a renamed resource never locks applications out).
 */
export async function removeAclUsers(
  provider: pulumi.dynamic.ResourceProvider,
  id: string,
  outs: RedisAclUsersOutputs,
): Promise<void> {
  await provider.update!(id, outs, { ...outs, users: [], userPasswords: {} });
}
