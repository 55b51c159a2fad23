/**
 * ai-platform-data: reads the stack config, deploys each enabled service as a component and
 * initialises it. Nothing else lives here: values, checks and wiring details are in the modules.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config";
import { DbCredentials } from "./components/credentials";
import { Kafka } from "./components/kafka";
import { MongoDB } from "./components/mongodb";
import { PostgreSQL } from "./components/postgres";
import { Redis } from "./components/redis";
import { Weaviate } from "./components/weaviate";
import { offsiteTarget } from "./components/shared/backup";
import { PlatformContext } from "./components/shared/context";
import { componentConfigProblems } from "./components/validation";
import { initialiseDatabases } from "./init";

const { config, secrets } = loadConfig(componentConfigProblems);

// Kept on `pulumi destroy` (and when createNamespace is turned off): deleting a namespace makes
// Kubernetes delete everything in it, the data PVCs and the backup PVCs included (issue 8, item 1).
// Why not a NamespacePatch, which never deletes either: changing the resource's type would make the
// next `up` of an existing stack delete this Namespace, the very loss this prevents. README section
// "`pulumi destroy`, and removing everything on purpose".
const namespace = config.createNamespace
  ? new k8s.core.v1.Namespace("namespace", { metadata: { name: config.namespace } }, { retainOnDelete: true })
  : undefined;

const offsite = offsiteTarget(config.backup.s3, config.namespace, {
  dependsOn: namespace ? [namespace] : [],
});

const platform: PlatformContext = {
  namespace: config.namespace,
  storageClass: config.storageClass,
  helm: config.helm,
  monitoring: config.monitoring,
  network: config.network,
  podAntiAffinity: config.podAntiAffinity,
  offsite,
  dependsOn: namespace ? [namespace] : [],
};

const postgres = config.postgres.enabled
  ? new PostgreSQL("postgres", { config: config.postgres, platform, secrets })
  : undefined;

const mongodb = config.mongodb.enabled
  ? new MongoDB("mongodb", { config: config.mongodb, platform, secrets })
  : undefined;
const weaviate = config.weaviate.enabled
  ? new Weaviate("weaviate", { config: config.weaviate, platform, secrets })
  : undefined;
const redis = config.redis.enabled
  ? new Redis("redis", { config: config.redis, platform, secrets })
  : undefined;
const kafka = config.kafka.enabled
  ? new Kafka("kafka", { config: config.kafka, platform, secrets })
  : undefined;

const deployed = [postgres, mongodb, weaviate, redis, kafka].filter((c) => c !== undefined);

const credentials = config.credentialsSecret.enabled
  ? new DbCredentials("db-credentials", {
      secretName: config.credentialsSecret.name,
      platform,
      entries: deployed.map((c) => c.clientSecretData),
    })
  : undefined;

const initialisers = initialiseDatabases(config, { postgres, mongodb, weaviate, redis, kafka });

/** In-cluster endpoints, in clear. */
export const endpoints = {
  postgres: postgres?.endpoint,
  mongodb: mongodb?.endpoint,
  weaviate: weaviate?.endpoint,
  redis: redis?.endpoint,
  kafka: kafka?.endpoint,
};
/** What each initialiser did in its last run (one line per step). */
export const initialisation = {
  postgresSchema: initialisers.postgresSchema?.log,
  mongodbCollections: initialisers.mongodbCollections?.log,
  weaviateClasses: initialisers.weaviateClasses?.log,
  redisAclUsers: initialisers.redisAclUsers?.log,
  kafkaTopics: initialisers.kafkaTopics?.log,
  kafkaScramUsers: initialisers.kafkaScramUsers?.log,
};
/** Name of the Secret applications read their connection details from. */
export const credentialsSecretName = credentials?.secretName ?? null;
/** Connection strings for applications: secret. */
export const connectionStrings = pulumi.secret({
  postgres: postgres?.clientSecretData["postgres-url"],
  mongodb: mongodb?.clientSecretData["mongodb-uri"],
  weaviate: weaviate?.clientSecretData["weaviate-url"],
  redis: redis?.clientSecretData["redis-sentinels"],
  kafka: kafka?.clientSecretData["kafka-brokers"],
});
