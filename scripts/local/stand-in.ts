/**
 * What the stand-in deployments (the `local` stack and the helm-mode e2e) put in the credentials Secrets
 * a user keeps: the loopback servers' own passwords for the admin logins, and passwords the caller made
 * for the users the initialisers create. Keys are the components' (`<service>.credentials.existingSecret`).
 */
import { randomBytes } from "node:crypto";
import { KAFKA_SECRET_KEYS } from "../../components/kafka";
import { MONGODB_SECRET_KEYS } from "../../components/mongodb";
import { POSTGRES_SECRET_KEYS } from "../../components/postgres";
import {
  REDIS_BACKUP_PASSWORD_KEY,
  REDIS_METRICS_PASSWORD_KEY,
  REDIS_PASSWORD_KEY,
  redisAclPasswordKey,
} from "../../components/redis";
import { WEAVIATE_SECRET_KEYS, WEAVIATE_USERS } from "../../components/weaviate";

/** The servers' admin credentials, as scripts/services.sh describes them in services.json. */
export interface StandInServers {
  postgres: { password: string };
  mongodb: { password: string };
  redis: { password: string };
  kafka: { password: string };
  weaviate: { apiKey: string };
}

/** Passwords of users the initialisers create (the servers do not have them yet). */
export interface StandInPasswords {
  postgresApp: string;
  /** The exporter's role (POSTGRES_METRICS_USER), which the initialiser creates. */
  postgresMetrics: string;
  /** The backup job's role (POSTGRES_BACKUP_USER). */
  postgresBackup: string;
  mongodbApp: string;
  mongodbMetrics: string;
  mongodbReplicaSetKey: string;
  redisAcl: string;
  /** The exporter's ACL user (REDIS_METRICS_USER), which the initialiser creates. */
  redisMetrics: string;
  /** The backup job's ACL user (REDIS_BACKUP_USER). */
  redisBackup: string;
  kafkaApp: string;
  /** The read-only login of the exporter and backup job (KAFKA_OBSERVER_USER). */
  kafkaObserver: string;
  kafkaInterBroker: string;
  kafkaController: string;
  weaviateApp: string;
}

/** New random passwords for the users the initialisers create. */
export function newStandInPasswords(): StandInPasswords {
  const made = (bytes = 16) => randomBytes(bytes).toString("hex");
  return {
    postgresApp: made(),
    postgresMetrics: made(),
    postgresBackup: made(),
    mongodbApp: made(),
    mongodbMetrics: made(),
    mongodbReplicaSetKey: made(24),
    redisAcl: made(),
    redisMetrics: made(),
    redisBackup: made(),
    kafkaApp: made(),
    kafkaObserver: made(),
    kafkaInterBroker: made(),
    kafkaController: made(),
    weaviateApp: made(),
  };
}

/** Each service's Secret data, by service. `redisAclUser` is the stack's first Redis ACL user. */
export function standInSecretData(
  s: StandInServers,
  made: StandInPasswords,
  redisAclUser: string,
): Record<"postgres" | "mongodb" | "redis" | "kafka" | "weaviate", Record<string, string>> {
  return {
    postgres: {
      [POSTGRES_SECRET_KEYS.admin]: s.postgres.password,
      [POSTGRES_SECRET_KEYS.user]: made.postgresApp,
      [POSTGRES_SECRET_KEYS.metrics]: made.postgresMetrics,
      [POSTGRES_SECRET_KEYS.backup]: made.postgresBackup,
    },
    mongodb: {
      [MONGODB_SECRET_KEYS.root]: s.mongodb.password,
      [MONGODB_SECRET_KEYS.users]: made.mongodbApp,
      [MONGODB_SECRET_KEYS.metrics]: made.mongodbMetrics,
      [MONGODB_SECRET_KEYS.replicaSetKey]: made.mongodbReplicaSetKey,
    },
    redis: {
      [REDIS_PASSWORD_KEY]: s.redis.password,
      [redisAclPasswordKey(redisAclUser)]: made.redisAcl,
      [REDIS_METRICS_PASSWORD_KEY]: made.redisMetrics,
      [REDIS_BACKUP_PASSWORD_KEY]: made.redisBackup,
    },
    kafka: {
      [KAFKA_SECRET_KEYS.clientPasswords]: `${s.kafka.password},${made.kafkaApp},${made.kafkaObserver}`,
      [KAFKA_SECRET_KEYS.systemUser]: made.kafkaObserver,
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
