/**
 * The stack configuration schema: every knob of the program, its type, its default and its limits.
 *
 * This file is the one place where defaults live. `Pulumi.yaml` declares the same top-level keys
 * (a unit test keeps the two in step), `Pulumi.dev.yaml` and `Pulumi.prod.yaml` override them.
 */
import { z } from "zod";
import { k8sLabelMap, k8sName } from "./quantities";
import {
  hostPort,
  identifier,
  imageSchema,
  imagesSchema,
  loginName,
  offsiteSchema,
  plainName,
  serviceBase,
} from "./common-schema";
import { aclUserSchema, kafkaTopicSchema, mongoCollectionSchema, weaviateClassSchema } from "./data-schema";
import { kafkaAccessSchema } from "./kafka-access";

export { backupSchema, imageSchema, offsiteSchema, resourcesSchema } from "./common-schema";
export type { BackupConfig, HostPort, ImageConfig, OffsiteConfig, ResourcesConfig } from "./common-schema";
export {
  kafkaTopicSchema,
  mongoCollectionSchema,
  mongoIndexSchema,
  weaviateClassSchema,
  weaviatePropertySchema,
} from "./data-schema";

export const postgresSchema = z
  .object({
    ...serviceBase({
      storage: "8Gi",
      requests: { cpu: "250m", memory: "512Mi" },
      limits: { cpu: "1", memory: "1Gi" },
    }),
    /** Where the initialiser connects instead of the in-cluster service (a forwarded port, a managed server). */
    endpoint: hostPort.optional(),
    /** Administrator role; in `external` mode its password comes from secret config `postgresPassword`. */
    adminUser: identifier.default("postgres"),
    /** The application database. */
    database: identifier.default("ai_platform"),
    /** The role applications connect as, with DML on the application schemas. */
    appUser: identifier.default("ai_platform"),
    /**
     * The initialiser's sessions: how long a statement waits for a lock, and runs at most, in seconds. A
     * migration blocked by an application's transaction gives up and is retried (until
     * `initTimeoutSeconds`) rather than queueing every other query behind its lock request; a migration
     * that needs longer says so itself (`SET LOCAL lock_timeout = '5min'`).
     */
    initLockTimeoutSeconds: z.number().int().min(1).max(3600).default(10),
    initStatementTimeoutSeconds: z.number().int().min(1).max(86400).default(300),
    /** Read replicas; 0 deploys the chart's `standalone` architecture. */
    readReplicas: z.number().int().min(0).max(10).default(0),
    /** postgresql.conf settings, merged over the defaults from the design (seed §2.3). */
    settings: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    /** Libraries for `shared_preload_libraries`. */
    sharedPreloadLibraries: z.string().default("pgaudit"),
    /**
     * Where the `vector` extension comes from in `helm` mode (Bitnami's image has none,
     * bitnami/containers#32677): `initContainer` copies it at pod start from `images.pgvector` into the
     * server's extension and library directories; `postgresqlImage` means `images.postgresql` is your own
     * image that already ships it.
     */
    pgvectorSource: z.enum(["initContainer", "postgresqlImage"]).default("initContainer"),
    /**
     * Images: the server, pgvector's (see `pgvectorSource`) and the chart's helpers. `pgvector` is the
     * image the extension files are copied from: official PostgreSQL layout, built for the server's
     * major version. Unset parts keep `docker.io`, `pgvector/pgvector`, `0.8.0-pg16`.
     */
    images: imagesSchema("postgresql", "pgvector", "metrics", "volumePermissions"),
  })
  .strict();

const mongodbSchema = z
  .object({
    ...serviceBase({
      storage: "8Gi",
      requests: { cpu: "250m", memory: "512Mi" },
      limits: { cpu: "1", memory: "1Gi" },
    }),
    /** Seed list for the initialiser instead of the in-cluster service (`host:port` each). */
    endpoint: z
      .object({
        hosts: z.array(z.string().regex(/^[^:]+:\d+$/, "must be host:port")).min(1),
        replicaSet: z.string().optional(),
        directConnection: z.boolean().optional(),
        tls: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** Data-bearing replica-set members. */
    replicas: z.number().int().min(1).max(50).default(1),
    /** Add an arbiter (it holds no data; off by default so every voting member bears data). */
    arbiter: z.boolean().default(false),
    replicaSetName: plainName.default("rs0"),
    /** Root user; in `external` mode its password comes from secret config `mongodbPassword`. */
    adminUser: loginName.default("root"),
    database: plainName.default("ai_platform"),
    appUser: loginName.default("ai_platform"),
    /** Roles the initialiser gives `appUser`; unset: readWrite on `database`. */
    appRoles: z.array(z.object({ role: z.string().min(1), db: z.string().min(1) }).strict()).optional(),
    /** Collections and indexes the initialiser converges (seed §3.4). */
    collections: z.array(mongoCollectionSchema).default([]),
    /** Let the initialiser drop collections that are removed from config (data loss). */
    dropRemovedCollections: z.boolean().default(false),
    images: imagesSchema("mongodb", "metrics", "volumePermissions"),
  })
  .strict();

export const WEAVIATE_MODULES = [
  "text2vec-transformers",
  "img2vec-neural",
  "generative-openai",
  "backup-filesystem",
] as const;
export type WeaviateModule = (typeof WEAVIATE_MODULES)[number];

const weaviateModule = z
  .object({
    enabled: z.boolean(),
    /** Inference container image, for the modules that run one. */
    image: imageSchema.optional(),
  })
  .strict();

export const weaviateSchema = z
  .object({
    ...serviceBase({
      storage: "8Gi",
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { cpu: "1", memory: "2Gi" },
    }),
    endpoint: z
      .object({
        scheme: z.enum(["http", "https"]).default("http"),
        host: z.string().min(1),
        port: z.number().int(),
      })
      .strict()
      .optional(),
    replicas: z.number().int().min(1).max(20).default(1),
    /** HTTP port of the Service (the design's port plan uses 8088). */
    httpPort: z.number().int().min(1).max(65535).default(8088),
    /** gRPC port of the gRPC Service. */
    grpcPort: z.number().int().min(1).max(65535).default(50051),
    image: imageSchema.default({}),
    /** Modules, as the chart's map; each can be switched off. */
    modules: z
      .object({
        "text2vec-transformers": weaviateModule.default({ enabled: false }),
        "img2vec-neural": weaviateModule.default({ enabled: false }),
        "generative-openai": weaviateModule.default({ enabled: false }),
        "backup-filesystem": weaviateModule.default({ enabled: true }),
      })
      .strict()
      .prefault({}),
    /** Classes the initialiser converges (seed §4.4). */
    classes: z.array(weaviateClassSchema).default([]),
    /** Class names the initialiser may delete and recreate when a change cannot be made in place (data loss). */
    allowRecreate: z.array(z.string()).default([]),
    /** Image of the backup job (it only needs curl). */
    backupImage: imageSchema.prefault({}),
    /**
     * What the applications' API key (`db-credentials`) may do: `readOnly` (read and query) or `admin`
     * (also write objects and change the schema). The initialiser and the backup job use the admin key.
     */
    appAccess: z.enum(["readOnly", "admin"]).default("readOnly"),
  })
  .strict();

const REDIS_EVICTION_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
] as const;

const redisSchema = z
  .object({
    ...serviceBase({
      storage: "2Gi",
      requests: { cpu: "100m", memory: "256Mi" },
      limits: { cpu: "500m", memory: "512Mi" },
    }),
    endpoint: z
      .object({
        sentinels: z.array(hostPort).min(1),
        masterName: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Redis nodes (one master, the rest replicas), each with a Sentinel beside it. */
    nodes: z.number().int().min(1).max(9).default(1),
    sentinel: z
      .object({
        /** Sentinels that must agree before a failover. */
        quorum: z.number().int().min(1).default(1),
        masterSet: plainName.default("mymaster"),
      })
      .strict()
      .prefault({}),
    persistence: z
      .object({
        /** RDB snapshots (`save` rules); the backup job copies the RDB file. */
        rdb: z.boolean().default(true),
        /** `save` rule when RDB is on. */
        rdbSave: z.string().default("900 1 300 10 60 10000"),
        /** Append-only file. */
        aof: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** `maxmemory` (Redis syntax, `768mb`); unset: 75% of the memory limit. */
    maxmemory: z
      .string()
      .regex(/^\d+(b|kb|mb|gb)?$/i, "Redis size such as 768mb or 1gb")
      .optional(),
    maxmemoryPolicy: z.enum(REDIS_EVICTION_POLICIES).default("allkeys-lru"),
    /** ACL users the initialiser puts on every node; passwords are generated. */
    aclUsers: z.array(aclUserSchema).default([]),
    images: imagesSchema("redis", "sentinel", "metrics", "volumePermissions", "sysctl"),
  })
  .strict();

export const KAFKA_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;

const kafkaSchema = z
  .object({
    ...serviceBase({
      storage: "8Gi",
      requests: { cpu: "250m", memory: "1Gi" },
      limits: { cpu: "1", memory: "2Gi" },
    }),
    endpoint: z
      .object({ brokers: z.array(z.string().regex(/^[^:]+:\d+$/, "must be host:port")).min(1) })
      .strict()
      .optional(),
    /** Combined controller+broker nodes (KRaft). */
    nodes: z.number().int().min(1).max(15).default(1),
    /** JVM heap options; unset: half of the memory limit. */
    heapOpts: z.string().optional(),
    sasl: z
      .object({
        /** Mechanisms the client listener accepts. */
        enabledMechanisms: z
          .array(z.enum(KAFKA_MECHANISMS))
          .min(1)
          .default(["SCRAM-SHA-512", "SCRAM-SHA-256"]),
        /** Mechanism the initialiser and applications use. */
        clientMechanism: z.enum(KAFKA_MECHANISMS).default("SCRAM-SHA-512"),
        interBrokerMechanism: z.enum(KAFKA_MECHANISMS).default("SCRAM-SHA-512"),
      })
      .strict()
      .prefault({}),
    /** Client users; the first is the one the initialiser uses. Passwords are generated. */
    clientUsers: z
      .array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/))
      .min(1)
      .default(["admin", "app"]),
    /** PBKDF2 iterations of the SCRAM credentials the initialiser sets (Kafka accepts 4096-16384). */
    scramIterations: z.number().int().min(4096).max(16384).default(8192),
    /** Topics the initialiser converges (seed §6.3). */
    topics: z.array(kafkaTopicSchema).default([]),
    /** Let the initialiser delete topics removed from config (data loss). */
    deleteRemovedTopics: z.boolean().default(false),
    /**
     * What each client user but the first may do (config/kafka-access.ts), by user name; a user not
     * listed reads and writes every declared topic. ACLs are converged in helm mode, and in external mode
     * only when this is set (the cluster then needs an authorizer).
     */
    access: z.record(z.string(), kafkaAccessSchema).optional(),
    images: imagesSchema("kafka", "jmx", "kafkaExporter", "volumePermissions"),
  })
  .strict();

export const platformSchema = z
  .object({
    /** Namespace of every object the program creates. */
    namespace: k8sName.default("ai-platform-data"),
    /** Create the namespace (off when a platform team owns it). */
    createNamespace: z.boolean().default(true),
    /** StorageClass of every volume; empty uses the cluster default. */
    storageClass: z.string().default(""),
    /** The `db-credentials` Secret with every service's connection details for applications (seed §7). */
    credentialsSecret: z
      .object({
        enabled: z.boolean().default(true),
        name: k8sName.default("db-credentials"),
      })
      .strict()
      .prefault({}),
    /**
     * Pod anti-affinity of every service with more than one replica: `hard` never puts two replicas of a
     * service on one node (a node drain or failure takes at most one; needs as many schedulable nodes as
     * replicas), `soft` only prefers not to.
     */
    podAntiAffinity: z.enum(["soft", "hard"]).default("soft"),
    /** Helm: wait for readiness and roll back a failed upgrade. */
    helm: z
      .object({
        atomic: z.boolean().default(true),
        timeoutSeconds: z.number().int().min(60).max(7200).default(900),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        /** ServiceMonitor objects (needs the Prometheus Operator CRDs). */
        serviceMonitor: z.boolean().default(false),
        /** PrometheusRule objects with the alert rules of seed §8.1. */
        prometheusRule: z.boolean().default(false),
        /** Labels the Prometheus Operator selects these objects by. */
        labels: k8sLabelMap.default({}),
      })
      .strict()
      .prefault({}),
    network: z
      .object({
        /** Pods carrying these labels may connect to every database. */
        clientLabels: k8sLabelMap.default({ "ai-platform.io/data-client": "true" }),
        /** Namespaces (by name) whose labelled pods may connect too; empty: this namespace only. */
        clientNamespaces: z.array(k8sName).default([]),
        /** Namespaces (by name) whose pods may scrape the exporters' metrics ports (Prometheus). */
        monitoringNamespaces: z.array(k8sName).default([]),
      })
      .strict()
      .prefault({}),
    /** What every service's backup job shares. */
    backup: z
      .object({
        /** Off-site copies in S3 (README, "Backups"); unset: backups stay on each job's claim. */
        s3: offsiteSchema.optional(),
      })
      .strict()
      .prefault({}),
    postgres: postgresSchema.prefault({}),
    mongodb: mongodbSchema.prefault({}),
    weaviate: weaviateSchema.prefault({}),
    redis: redisSchema.prefault({}),
    kafka: kafkaSchema.prefault({}),
  })
  .strict();

export type PlatformConfig = z.infer<typeof platformSchema>;
export type PostgresConfig = PlatformConfig["postgres"];
export type MongodbConfig = PlatformConfig["mongodb"];
export type WeaviateConfig = PlatformConfig["weaviate"];
export type RedisConfig = PlatformConfig["redis"];
export type KafkaConfig = PlatformConfig["kafka"];
export type KafkaTopicConfig = KafkaConfig["topics"][number];
export type MongoCollectionConfig = MongodbConfig["collections"][number];
export type WeaviateClassConfig = WeaviateConfig["classes"][number];
export type RedisAclUserConfig = RedisConfig["aclUsers"][number];

/** Secret config keys (set with `pulumi config set --secret`). */
export const SECRET_KEYS = [
  "openaiApiKey",
  "postgresPassword",
  "mongodbPassword",
  "redisPassword",
  "redisSentinelPassword",
  "kafkaPassword",
  "weaviateApiKey",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
