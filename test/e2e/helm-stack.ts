/**
 * The helm-mode e2e's stack: every service from its stand-in chart (test/fixtures/charts), credentials from
 * Secrets the test keeps (as External Secrets would), holding the test servers' own passwords, and every
 * initialiser on `connect: port-forward` with no endpoint override: it reaches the release's pods through
 * the API server, and kwok sends their ports to the servers (cluster.ts).
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { KAFKA_SECRET_KEYS } from "../../components/kafka";
import { MONGODB_SECRET_KEYS } from "../../components/mongodb";
import { POSTGRES_SECRET_KEYS } from "../../components/postgresql";
import { REDIS_PASSWORD_KEY, redisAclPasswordKey } from "../../components/redis";
import { WEAVIATE_SECRET_KEYS, WEAVIATE_USERS } from "../../components/weaviate";
import type { DataServices } from "../support/servers";
import type { ClusterServers } from "./cluster";
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

/** Passwords of users the initialisers create (the servers do not have them yet): one per process. */
const made = {
  postgresApp: randomBytes(16).toString("hex"),
  mongodbApp: randomBytes(16).toString("hex"),
  mongodbMetrics: randomBytes(16).toString("hex"),
  mongodbReplicaSetKey: randomBytes(24).toString("hex"),
  redisAcl: randomBytes(16).toString("hex"),
  kafkaApp: randomBytes(16).toString("hex"),
  kafkaInterBroker: randomBytes(16).toString("hex"),
  kafkaController: randomBytes(16).toString("hex"),
  weaviateApp: randomBytes(16).toString("hex"),
};

function secretData(
  s: DataServices,
  c: ClusterServers,
  run: string,
): Record<keyof typeof SECRET, Record<string, string>> {
  const n = helmNames(run);
  return {
    postgres: {
      [POSTGRES_SECRET_KEYS.admin]: s.postgres.password,
      [POSTGRES_SECRET_KEYS.user]: made.postgresApp,
    },
    mongodb: {
      [MONGODB_SECRET_KEYS.root]: s.mongodb.password,
      [MONGODB_SECRET_KEYS.users]: made.mongodbApp,
      [MONGODB_SECRET_KEYS.metrics]: made.mongodbMetrics,
      [MONGODB_SECRET_KEYS.replicaSetKey]: made.mongodbReplicaSetKey,
    },
    redis: { [REDIS_PASSWORD_KEY]: c.redis.password, [redisAclPasswordKey(n.aclUser)]: made.redisAcl },
    kafka: {
      [KAFKA_SECRET_KEYS.clientPasswords]: `${c.kafka.password},${made.kafkaApp}`,
      [KAFKA_SECRET_KEYS.systemUser]: c.kafka.password,
      [KAFKA_SECRET_KEYS.interBroker]: made.kafkaInterBroker,
      [KAFKA_SECRET_KEYS.controller]: made.kafkaController,
    },
    weaviate: {
      [WEAVIATE_SECRET_KEYS.allowedKeys]: `${s.weaviate.apiKey},${made.weaviateApp}`,
      [WEAVIATE_SECRET_KEYS.users]: `${WEAVIATE_USERS.admin},${WEAVIATE_USERS.app}`,
      [WEAVIATE_SECRET_KEYS.adminKey]: s.weaviate.apiKey,
      [WEAVIATE_SECRET_KEYS.appKey]: made.weaviateApp,
    },
  };
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
