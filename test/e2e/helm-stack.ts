/**
 * The helm-mode e2e's stack: every service from its pinned published chart (unpacked by the test), credentials from
 * Secrets the test keeps (as External Secrets would), holding the test servers' own passwords, and every
 * initialiser on `connect: port-forward` with no endpoint override: it reaches the release's pods through
 * the API server, and kwok sends their ports to the servers (cluster.ts).
 */
import * as path from "node:path";
import { newStandInPasswords, standInSecretData } from "../../scripts/local/stand-in";
import type { DataServices } from "../support/servers";
import type { ClusterServers } from "../../scripts/local/stand-in-forwards";
import type { KubeObject } from "./kube";

type Json = Record<string, unknown>;

/** Names of the objects the stack declares, for one run. */
export function helmNames(run: string) {
  return {
    db: `e2e_${run}_helm`,
    appUser: `e2e_${run}_helm_app`,
    aclUser: `e2e-${run}-helm`,
    kafkaUser: `e2e-${run}-helm`,
    topic: `e2e-${run}-helm`,
    cls: `E2e${run.toUpperCase()}Helm`,
  };
}

/** The Secret each service reads (`<service>.credentials.existingSecret`). */
const SECRET = {
  postgres: "e2e-postgres-credentials",
  mongodb: "e2e-mongodb-credentials",
  redis: "e2e-redis-credentials",
  kafka: "e2e-kafka-credentials",
  weaviate: "e2e-weaviate-credentials",
};

/** Passwords of users the initialisers create (the servers do not have them yet): one set per process. */
const made = newStandInPasswords();

function secretData(
  s: DataServices,
  c: ClusterServers,
  run: string,
): Record<keyof typeof SECRET, Record<string, string>> {
  // Kafka and Redis are the cluster-shaped servers, with their own admin passwords.
  const servers = { ...s, kafka: { password: c.kafka.password }, redis: { password: c.redis.password } };
  return standInSecretData(servers, made, helmNames(run).aclUser);
}

/** The Secrets the user keeps, as Kubernetes objects (created before `pulumi up`). */
export function userSecrets(
  s: DataServices,
  c: ClusterServers,
  namespace: string,
  run: string,
): KubeObject[] {
  return Object.entries(secretData(s, c, run)).map(([svc, data]) => ({
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: SECRET[svc as keyof typeof SECRET], namespace },
    stringData: data,
  }));
}

/** Every value of those Secrets, named, for the plain-text search. */
export function userSecretValues(s: DataServices, c: ClusterServers, run: string): Array<[string, string]> {
  return Object.entries(secretData(s, c, run)).flatMap(([svc, data]) =>
    Object.entries(data).map(([k, v]): [string, string] => [`${SECRET[svc as keyof typeof SECRET]}.${k}`, v]),
  );
}

/** What the steps change in the stack config. */
export interface HelmStackKnobs {
  run: string;
  chartsDir: string;
  /** `redis.resources.limits.memory`. */
  memoryLimit: string;
  /** Partitions and `retention.ms` of the stack's topic. */
  topic: { partitions: number; retentionMs: string };
  /** Key patterns of the stack's Redis ACL user. */
  aclKeys: string[];
}

/** The stack config (`ai-platform-data:` keys without the prefix), in the cluster servers' namespace. */
export function helmStackConfig(s: DataServices, c: ClusterServers, o: HelmStackKnobs): Json {
  const n = helmNames(o.run);
  const chart = (name: string) => ({ source: path.join(o.chartsDir, name) });
  const small = (memory: string) => ({
    requests: { cpu: "50m", memory: "64Mi" },
    limits: { cpu: "500m", memory },
  });
  const backup = { storageSize: "1Gi" };
  return {
    namespace: c.namespace,
    createNamespace: true,
    monitoring: { serviceMonitor: true, prometheusRule: true },
    postgres: {
      chart: chart("postgresql"),
      credentials: { existingSecret: SECRET.postgres },
      connect: "port-forward",
      adminUser: s.postgres.user,
      database: n.db,
      appUser: n.appUser,
      storageSize: "1Gi",
      resources: small("512Mi"),
      backup,
      initTimeoutSeconds: 120,
    },
    mongodb: {
      chart: chart("mongodb"),
      credentials: { existingSecret: SECRET.mongodb },
      connect: "port-forward",
      adminUser: s.mongodb.username,
      database: n.db,
      appUser: n.appUser,
      // FerretDB, the MongoDB stand-in, refuses users with roles.
      appRoles: [],
      storageSize: "1Gi",
      resources: small("512Mi"),
      collections: [{ name: "events", indexes: [{ keys: { ts: 1 } }] }],
      backup,
      initTimeoutSeconds: 120,
    },
    weaviate: {
      chart: chart("weaviate"),
      credentials: { existingSecret: SECRET.weaviate },
      connect: "port-forward",
      storageSize: "1Gi",
      resources: small("512Mi"),
      classes: [{ name: n.cls, vectorizer: "none", properties: [{ name: "title", dataType: ["text"] }] }],
      backup,
      initTimeoutSeconds: 120,
    },
    redis: {
      chart: chart("redis"),
      credentials: { existingSecret: SECRET.redis },
      connect: "port-forward",
      nodes: c.redis.nodes.length,
      sentinel: { quorum: 2, masterSet: c.redis.masterName },
      storageSize: "1Gi",
      resources: small(o.memoryLimit),
      aclUsers: [{ name: n.aclUser, keys: o.aclKeys, commands: "+@read +@write -@dangerous" }],
      backup,
      initTimeoutSeconds: 120,
    },
    kafka: {
      chart: chart("kafka"),
      credentials: { existingSecret: SECRET.kafka },
      connect: "port-forward",
      nodes: c.kafka.brokers.length,
      clientUsers: [c.kafka.username, n.kafkaUser],
      storageSize: "1Gi",
      resources: small("1Gi"),
      topics: [
        {
          name: n.topic,
          partitions: o.topic.partitions,
          // On every broker: a change to the topic has to reach each of them.
          replicationFactor: c.kafka.brokers.length,
          configs: { "retention.ms": o.topic.retentionMs },
        },
      ],
      backup,
      initTimeoutSeconds: 120,
    },
  };
}
