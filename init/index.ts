/**
 * Wires each initialiser after its component: it depends on the Helm release and its Secret, and gets
 * its desired state from config and its connection from the component (endpoint override and
 * `external` mode already applied there).
 */
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import type { Kafka } from "../components/kafka";
import type { MongoDB } from "../components/mongodb";
import type { PostgreSQL } from "../components/postgres";
import type { Redis } from "../components/redis";
import type { Weaviate } from "../components/weaviate";
import { forwardInput, KubeAccess, kubernetesProviderAccess } from "./connect";
import { kafkaUserAccess } from "../config";
import { KafkaTopics } from "./kafka";
import { bindingsFor, KafkaAcls, observerBindings } from "./kafka-acls";
import { KafkaScramUsers } from "./kafka-users";
import { collectionsFromConfig, MongoCollections } from "./mongodb";
import { loadMigrations, PostgresSchema } from "./postgres";
import { RedisAclUsers } from "./redis";
import { WeaviateClasses } from "./weaviate";

/** The deployed components; a missing one is disabled. */
export interface DeployedComponents {
  postgres?: PostgreSQL;
  mongodb?: MongoDB;
  weaviate?: Weaviate;
  redis?: Redis;
  kafka?: Kafka;
}

/** The initialisers created. */
export interface Initialisers {
  postgresSchema?: PostgresSchema;
  mongodbCollections?: MongoCollections;
  weaviateClasses?: WeaviateClasses;
  redisAclUsers?: RedisAclUsers;
  kafkaTopics?: KafkaTopics;
  kafkaScramUsers?: KafkaScramUsers;
  kafkaAcls?: KafkaAcls;
}

function after(
  component: pulumi.ComponentResource & { ready: pulumi.Resource[] },
): pulumi.CustomResourceOptions {
  return { parent: component, dependsOn: component.ready };
}

/**
 * `access`: how port-forwards reach the API server (default: the Kubernetes provider's stack config);
 * each initialiser gets a `forward` input unless its service is reached as given (init/connect.ts).
 */
export function initialiseDatabases(
  config: PlatformConfig,
  c: DeployedComponents,
  access: KubeAccess = kubernetesProviderAccess(),
): Initialisers {
  const out: Initialisers = {};
  const forward = (svc: Parameters<typeof forwardInput>[0]) => forwardInput(svc, config.namespace, access);

  if (c.postgres) {
    const conn = c.postgres.connection;
    out.postgresSchema = new PostgresSchema(
      "postgres-schema",
      {
        host: conn.host,
        port: conn.port,
        adminUser: conn.adminUser,
        password: conn.adminPassword,
        database: conn.database,
        appUser: conn.appUser,
        appPassword: conn.appPassword,
        serviceRoles: conn.serviceRoles,
        serviceRolePasswords: conn.serviceRolePasswords,
        serverSettings: conn.serverSettings,
        migrations: loadMigrations(),
        timeoutSeconds: config.postgres.initTimeoutSeconds,
        lockTimeoutSeconds: config.postgres.initLockTimeoutSeconds,
        statementTimeoutSeconds: config.postgres.initStatementTimeoutSeconds,
        forward: forward(config.postgres),
      },
      after(c.postgres),
    );
  }

  if (c.mongodb) {
    const conn = c.mongodb.connection;
    out.mongodbCollections = new MongoCollections(
      "mongodb-collections",
      {
        hosts: conn.hosts,
        replicaSet: conn.replicaSet,
        directConnection: conn.directConnection,
        tls: conn.tls,
        username: conn.adminUser,
        password: conn.adminPassword,
        authSource: "admin",
        database: conn.database,
        // Ordered pairs: the engine sorts object keys, which would reorder a compound index.
        collections: collectionsFromConfig(config.mongodb.collections),
        dropRemovedCollections: config.mongodb.dropRemovedCollections,
        // Managed here like the other services' users: created when missing, rotations reach the server.
        appUser: conn.appUser,
        appPassword: conn.appPassword,
        appRoles: config.mongodb.appRoles,
        timeoutSeconds: config.mongodb.initTimeoutSeconds,
        forward: forward(config.mongodb),
      },
      after(c.mongodb),
    );
  }

  if (c.weaviate) {
    const conn = c.weaviate.connection;
    out.weaviateClasses = new WeaviateClasses(
      "weaviate-classes",
      {
        scheme: conn.scheme,
        host: conn.host,
        port: conn.port,
        apiKey: conn.apiKey,
        classes: config.weaviate.classes,
        enabledModules: conn.enabledModules,
        allowRecreate: config.weaviate.allowRecreate,
        timeoutSeconds: config.weaviate.initTimeoutSeconds,
        forward: forward(config.weaviate),
      },
      after(c.weaviate),
    );
  }

  const redisUsers = c.redis
    ? [...c.redis.connection.aclUsers, ...(c.redis.connection.serviceUsers ?? [])]
    : [];
  if (c.redis && redisUsers.length > 0) {
    const conn = c.redis.connection;
    out.redisAclUsers = new RedisAclUsers(
      "redis-acl-users",
      {
        sentinels: conn.sentinels,
        masterName: conn.masterName,
        password: conn.password,
        sentinelPassword: conn.sentinelPassword,
        users: redisUsers.map(({ name, keys, channels, commands }) => ({ name, keys, channels, commands })),
        userPasswords: Object.fromEntries(redisUsers.map((u) => [u.name, u.password])),
        expectedNodes: conn.nodes,
        timeoutSeconds: config.redis.initTimeoutSeconds,
        forward: forward(config.redis),
      },
      after(c.redis),
    );
  }

  if (c.kafka) {
    const conn = c.kafka.connection;
    if (conn.scramMechanism && conn.scramUsers.length > 0) {
      const mechanism = conn.scramMechanism;
      out.kafkaScramUsers = new KafkaScramUsers(
        "kafka-scram-users",
        {
          brokers: conn.brokers,
          mechanism: conn.mechanism,
          username: conn.username,
          password: conn.password,
          users: conn.scramUsers.map((u) => ({ name: u.name, mechanism })),
          userPasswords: Object.fromEntries(conn.scramUsers.map((u) => [u.name, u.password])),
          iterations: config.kafka.scramIterations,
          timeoutSeconds: config.kafka.initTimeoutSeconds,
          forward: forward(config.kafka),
        },
        after(c.kafka),
      );
    }
    const kafkaOpts = after(c.kafka);
    // After the users: a rotated password of the initialiser's own user is set there first.
    if (out.kafkaScramUsers) kafkaOpts.dependsOn = [...c.kafka.ready, out.kafkaScramUsers];
    out.kafkaTopics = new KafkaTopics(
      "kafka-topics",
      {
        brokers: conn.brokers,
        mechanism: conn.mechanism,
        username: conn.username,
        password: conn.password,
        topics: config.kafka.topics,
        deleteRemovedTopics: config.kafka.deleteRemovedTopics,
        timeoutSeconds: config.kafka.initTimeoutSeconds,
        nodes: conn.nodes,
        forward: forward(config.kafka),
      },
      kafkaOpts,
    );
    // The release runs the StandardAuthorizer; an external cluster gets ACLs only when config asks.
    const observers = conn.observer ? [conn.observer] : [];
    const aclUsers = [...config.kafka.clientUsers.slice(1), ...observers];
    if (aclUsers.length > 0 && (config.kafka.mode === "helm" || config.kafka.access !== undefined)) {
      const access = kafkaUserAccess({ ...config.kafka, access: config.kafka.access ?? {} });
      const acls = [...bindingsFor(access), ...observers.flatMap(observerBindings)];
      out.kafkaAcls = new KafkaAcls(
        "kafka-acls",
        {
          brokers: conn.brokers,
          mechanism: conn.mechanism,
          username: conn.username,
          password: conn.password,
          users: aclUsers,
          acls,
          timeoutSeconds: config.kafka.initTimeoutSeconds,
          forward: forward(config.kafka),
        },
        // After the users, as the topics: a rotated password of the initialiser's own user is set there first.
        kafkaOpts,
      );
    }
  }

  return out;
}
