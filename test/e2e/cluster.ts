/**
 * The e2e tests' view of the cluster-shaped servers of scripts/cluster-servers.sh: whether they answer,
 * redis-cli inside their network namespace, a failover, what every broker and node holds. Where each pod's
 * ports lead is scripts/local/stand-in-forwards.ts (the local stack uses it too).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { portOpen, RUN_DIR } from "../support/servers";
import type { ClusterServers } from "../../scripts/local/stand-in-forwards";

const CLUSTER_RUN = process.env.AIPD_CLUSTER_RUN ?? path.join(RUN_DIR, "cluster");

/** cluster.json when its servers answer; otherwise fails (CI=true) or skips the test. */
export async function requireCluster(t: TestContext): Promise<ClusterServers | undefined> {
  const file = path.join(CLUSTER_RUN, "cluster.json");
  let reason: string | undefined;
  let c: ClusterServers | undefined;
  if (!fs.existsSync(file)) reason = `${file} is missing: run 'npm run services:start'`;
  else {
    c = JSON.parse(fs.readFileSync(file, "utf8")) as ClusterServers;
    const b = c.kafka.brokers[0];
    if (!(await portOpen(b.target.host, b.target.port)))
      reason = `cluster-shaped Kafka is not answering on ${b.target.host}:${b.target.port}`;
    else if (redisCli(c, c.redis.nodes[0].ip, c.redis.nodes[0].port, ["PING"]).trim() !== "PONG")
      reason = `cluster-shaped Redis does not answer in netns ${c.redis.netns}`;
  }
  if (!reason) return c;
  if (process.env.CI === "true") throw new Error(`cluster-shaped servers required under CI=true: ${reason}`);
  t.skip(reason);
  return undefined;
}

/** redis-cli inside the servers' network namespace (the only place their addresses reach). */
function redisCli(c: ClusterServers, ip: string, port: number, args: string[]): string {
  const r = spawnSync(
    "ip",
    ["netns", "exec", c.redis.netns, "redis-cli", "--no-auth-warning", "-h", ip, "-p", String(port), ...args],
    { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: c.redis.password }, timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(" ")} in netns ${c.redis.netns}: ${r.stderr}`);
  return r.stdout;
}

/** The master's announced name, as the first answering Sentinel says. */
export function redisMaster(c: ClusterServers): string {
  const n = c.redis.nodes[0];
  return redisCli(c, n.ip, n.sentinelPort, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", c.redis.masterName])
    .trim()
    .split("\n")[0];
}

/** A topic as every broker holds it: partitions with their replicas and in-sync replicas, dynamic configs. */
export interface ClusterTopic {
  brokers: number[];
  partitions: { replicas: number[]; isr: number[] }[];
  configs: Record<string, string>;
}

/**
 * The topic read through the brokers' INTERNAL listeners (loopback, advertised as themselves): the test's
 * own view, independent of the mapping under test. Undefined when it does not exist.
 */
export async function clusterTopic(c: ClusterServers, name: string): Promise<ClusterTopic | undefined> {
  const { Kafka, ConfigResourceTypes, logLevel } = require("kafkajs");
  const kafka = new Kafka({
    clientId: "aipd-e2e-check",
    brokers: c.kafka.brokers.map((b) => `${b.internal.host}:${b.internal.port}`),
    sasl: { mechanism: "plain", username: c.kafka.internalUser, password: c.kafka.internalPassword },
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    if (!((await admin.listTopics()) as string[]).includes(name)) return undefined;
    const meta = await admin.fetchTopicMetadata({ topics: [name] });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name }],
    });
    const configs: Record<string, string> = {};
    for (const e of cfg.resources[0].configEntries as {
      configName: string;
      configValue: string;
      configSource: number;
    }[])
      if (e.configSource === 1) configs[e.configName] = e.configValue;
    return {
      brokers: (cluster.brokers as { nodeId: number }[]).map((b) => b.nodeId).sort(),
      partitions: (meta.topics[0].partitions as { replicas: number[]; isr: number[] }[]).map((p) => ({
        replicas: [...p.replicas].sort(),
        isr: [...p.isr].sort(),
      })),
      configs,
    };
  } finally {
    await admin.disconnect();
  }
}

/** `ACL GETUSER` of `user` on every node, by pod (undefined where the node lacks the user). */
export function aclOnEveryNode(c: ClusterServers, user: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const n of c.redis.nodes) {
    const reply = redisCli(c, n.ip, n.port, ["ACL", "GETUSER", user]).trim();
    out[n.pod] = reply === "" ? undefined : reply.replace(/\s+/g, " ");
  }
  return out;
}

/**
 * True while the initialiser is connected to a Redis node: a normal client whose last command was an ACL
 * one (the Sentinels' links send PING, INFO and PUBLISH; the test's own redis-cli calls have ended).
 */
export function aclClientOnANode(c: ClusterServers): boolean {
  return c.redis.nodes.some((n) =>
    /\bcmd=acl\|/.test(redisCli(c, n.ip, n.port, ["CLIENT", "LIST", "TYPE", "normal"])),
  );
}

/** Makes the Sentinels fail the master over to a replica; returns the new master's name once they agree. */
export async function redisFailover(c: ClusterServers, timeoutMs = 120_000): Promise<string> {
  const before = redisMaster(c);
  const n = c.redis.nodes[0];
  redisCli(c, n.ip, n.sentinelPort, ["SENTINEL", "FAILOVER", c.redis.masterName]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = redisMaster(c);
    const node = c.redis.nodes.find((x) => x.name === now);
    if (
      now !== before &&
      node &&
      /role:master/.test(redisCli(c, node.ip, node.port, ["INFO", "replication"]))
    )
      return now;
    if (Date.now() > deadline) throw new Error(`no failover within ${timeoutMs} ms: master still ${now}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
