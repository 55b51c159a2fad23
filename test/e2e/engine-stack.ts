/**
 * The engine e2e's stack: all five services in `external` mode against the servers of
 * scripts/services.sh, the objects named after the run (e2e_<run>, e2e-<run>, E2e<RUN>), and the desired
 * state the steps edit.
 */
import type { DataServices } from "../support/servers";

type Json = Record<string, unknown>;

/** The seed's application schemas (§3.1). */
export const APP_SCHEMAS = ["iam", "model_registry", "system_config", "scheduler", "vector_store"];

/** Names of the objects the stack declares, for one run. */
export function engineNames(run: string) {
  return {
    db: `e2e_${run}`,
    appUser: `e2e_${run}_app`,
    mongoDb: `e2e_${run}`,
    cls: `E2e${run.toUpperCase()}Doc`,
    events: `e2e-${run}-events`,
    logs: `e2e-${run}-logs`,
    audit: `e2e-${run}-audit`,
    aclUser: `e2e-${run}-app`,
    kafkaUser: `e2e-${run}-app`,
    migration: "0008_e2e_marker.sql",
  };
}
export type EngineNames = ReturnType<typeof engineNames>;

export interface Topic {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}
export interface Collection {
  name: string;
  indexes: Array<{
    name?: string;
    keys: Record<string, 1 | -1>;
    unique?: boolean;
    expireAfterSeconds?: number;
  }>;
}

/** The desired state the steps edit; written to Pulumi.e2e.yaml by {@link writeConfig}. */
export interface Desired {
  topics: Topic[];
  collections: Collection[];
  vectorizer: string;
  transformersEnabled: boolean;
}

/** The desired state of step 1. */
export function initialDesired(N: EngineNames): Desired {
  return {
    topics: [
      {
        name: N.events,
        partitions: 2,
        replicationFactor: 1,
        configs: { "retention.ms": "3600000", "cleanup.policy": "delete" },
      },
      { name: N.logs, partitions: 1, replicationFactor: 1, configs: { "retention.ms": "7200000" } },
    ],
    collections: [
      {
        name: "events",
        indexes: [{ keys: { ts: 1 } }, { name: "kind_ts", keys: { kind: 1, ts: -1 } }],
      },
      { name: "docs", indexes: [{ name: "slug_unique", keys: { slug: 1 }, unique: true }] },
    ],
    vectorizer: "none",
    transformersEnabled: false,
  };
}

/** The stack's configuration (Pulumi.e2e.yaml) for `d`. */
export function stackConfig(s: DataServices, d: Desired, N: EngineNames): Json {
  const mongo = s.mongodb;
  return {
    createNamespace: false,
    credentialsSecret: { enabled: false },
    postgres: {
      mode: "external",
      endpoint: { host: s.postgres.host, port: s.postgres.port },
      adminUser: s.postgres.user,
      database: N.db,
      appUser: N.appUser,
      initTimeoutSeconds: 60,
    },
    mongodb: {
      mode: "external",
      endpoint: { hosts: [`${mongo.host}:${mongo.port}`], directConnection: true },
      adminUser: mongo.username,
      database: N.mongoDb,
      // FerretDB, the stand-in, refuses users with roles ("not implemented"); MongoDB's default role
      // (readWrite) is covered by test/unit/init-mongodb-user.test.ts.
      appRoles: [],
      collections: d.collections,
      initTimeoutSeconds: 60,
    },
    weaviate: {
      mode: "external",
      endpoint: { scheme: s.weaviate.scheme, host: s.weaviate.host, port: s.weaviate.port },
      modules: { "text2vec-transformers": { enabled: d.transformersEnabled } },
      classes: [
        {
          name: N.cls,
          description: "e2e documents",
          vectorizer: d.vectorizer,
          properties: [
            { name: "title", dataType: ["text"] },
            { name: "body", dataType: ["text"] },
          ],
        },
      ],
      initTimeoutSeconds: 60,
    },
    redis: {
      mode: "external",
      endpoint: { sentinels: s.redis.sentinels, masterName: s.redis.masterName },
      nodes: s.redis.nodes.length,
      aclUsers: [{ name: N.aclUser, keys: ["e2e:*"], commands: "+@read +@write -@dangerous" }],
      initTimeoutSeconds: 60,
    },
    kafka: {
      mode: "external",
      endpoint: { brokers: s.kafka.brokers },
      nodes: 1,
      // The first user is the configured admin; the initialiser creates the second (SCRAM users).
      clientUsers: [s.kafka.username, N.kafkaUser],
      topics: d.topics,
      initTimeoutSeconds: 60,
    },
  };
}

/** The migration step 4 adds. */
export const MIGRATION_SQL = `-- e2e: a migration added by the test (step 4)
CREATE TABLE system_config.e2e_marker (id integer PRIMARY KEY, note text NOT NULL);
`;

/** The stack's secret config: the servers' own credentials (`pulumi config set --secret`). */
export function stackSecrets(s: DataServices): Record<string, string> {
  return {
    postgresPassword: s.postgres.password,
    mongodbPassword: s.mongodb.password,
    redisPassword: s.redis.password,
    kafkaPassword: s.kafka.password,
    weaviateApiKey: s.weaviate.apiKey,
    redisSentinelPassword: s.redis.sentinelPassword,
  };
}
