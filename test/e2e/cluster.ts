/**
 * The cluster-shaped servers of scripts/cluster-servers.sh (Kafka brokers advertising in-cluster names,
 * Redis nodes and Sentinels in a network namespace), and the kwok PortForward objects that send each
 * stand-in pod's ports to them and to the loopback servers of scripts/services.sh. Shared by the
 * helm-mode e2e and the local stack: the namespace and release names are fixed (cluster.json).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { portOpen, RUN_DIR, type DataServices } from "../support/servers";
import type { KubeObject } from "./kube";

/** cluster.json of scripts/cluster-servers.sh. */
export interface ClusterServers {
  /** The namespace the servers' names are in (the releases must be installed there). */
  namespace: string;
  kafka: {
    release: string;
    mechanism: string;
    username: string;
    password: string;
    brokers: {
      pod: string;
      /** The address the broker hands back in metadata (resolves nowhere). */
      advertised: string;
      podPort: number;
      /** Where its client listener really is. */
      target: { host: string; port: number };
      /** Its PLAINTEXT listener for the brokers' own traffic (and the test's direct reads). */
      internal: { host: string; port: number };
    }[];
  };
  redis: {
    release: string;
    netns: string;
    masterName: string;
    password: string;
    nodes: { pod: string; name: string; ip: string; port: number; sentinelPort: number }[];
  };
}

export const CLUSTER_RUN = process.env.AIPD_CLUSTER_RUN ?? path.join(RUN_DIR, "cluster");

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
export function redisCli(c: ClusterServers, ip: string, port: number, args: string[]): string {
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

/** A command kwok runs in the netns for one forwarded connection: its stdin/stdout to ip:port. */
function netnsRelay(netns: string, ip: string, port: number): string[] {
  return ["ip", "netns", "exec", netns, "bash", "-c", `exec 3<>/dev/tcp/${ip}/${port}; cat <&3 & cat >&3`];
}

/**
 * One kwok PortForward per stand-in pod the releases create: PostgreSQL, MongoDB and Weaviate to the
 * loopback servers of services.sh, each Kafka broker pod to its broker, each Redis pod (node and
 * Sentinel ports) into the network namespace. A pod without one answers "no forward found".
 */
export function clusterPortForwards(
  c: ClusterServers,
  s: DataServices,
  namespace = c.namespace,
): KubeObject[] {
  type Fwd = { ports: number[]; target?: { address: string; port: number }; command?: string[] };
  const to = (port: number, target: number): Fwd => ({
    ports: [port],
    target: { address: "127.0.0.1", port: target },
  });
  const pods: Record<string, Fwd[]> = {
    "postgresql-0": [to(5432, s.postgres.port)],
    "weaviate-0": [to(8080, s.weaviate.port), to(50051, s.weaviate.grpcPort)],
  };
  // FerretDB is one server: every member pod (and the arbiter) leads to it.
  for (const p of ["mongodb-0", "mongodb-1", "mongodb-2", "mongodb-arbiter-0"])
    pods[p] = [to(27017, s.mongodb.port)];
  for (const b of c.kafka.brokers) pods[b.pod] = [to(b.podPort, b.target.port)];
  for (const n of c.redis.nodes)
    pods[n.pod] = [
      { ports: [n.port], command: netnsRelay(c.redis.netns, n.ip, n.port) },
      { ports: [n.sentinelPort], command: netnsRelay(c.redis.netns, n.ip, n.sentinelPort) },
    ];
  return Object.entries(pods).map(([name, forwards]) => ({
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "PortForward",
    metadata: { name, namespace },
    spec: { forwards },
  }));
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
