/**
 * Config variants that several unit test files run the program with. A run is a child process of
 * several seconds; runProgram keeps each config's run, so the files that share a variant share its run.
 */
import { serviceOverride } from "./unit-config";

/**
 * The dev stack with every service in external mode, each with its endpoint and its secret: one run in
 * which each component deploys nothing and hands out what config names.
 */
export const ALL_EXTERNAL: Record<string, unknown> = {
  ...serviceOverride("dev", "postgres", {
    mode: "external",
    endpoint: { host: "db.example.com", port: 5432 },
    // Refused for a deployed server without an image; an external server has no image to check.
    pgvectorSource: "postgresqlImage",
  }),
  "ai-platform-data:postgresPassword": "external-pw",
  "ai-platform-data:mongodb": {
    mode: "external",
    endpoint: {
      hosts: ["db1.example.com:27017", "db2.example.com:27017"],
      replicaSet: "prod",
      tls: true,
    },
  },
  "ai-platform-data:mongodbPassword": "EXTERNALROOTPW",
  "ai-platform-data:redis": {
    mode: "external",
    nodes: 3,
    sentinel: { quorum: 2 },
    endpoint: {
      sentinels: [
        { host: "s1.example", port: 26379 },
        { host: "s2.example", port: 26380 },
      ],
      masterName: "cache",
    },
    aclUsers: [{ name: "app", keys: ["cache:*"] }],
  },
  "ai-platform-data:redisPassword": "external-redis-password",
  "ai-platform-data:kafka": {
    mode: "external",
    endpoint: { brokers: ["k1.example.com:9092", "k2.example.com:9092"] },
  },
  "ai-platform-data:kafkaPassword": "external-kafka-pw",
  "ai-platform-data:weaviate": {
    mode: "external",
    endpoint: { scheme: "https", host: "vectors.example.com", port: 443 },
  },
  "ai-platform-data:weaviateApiKey": "external-weaviate-key",
};

/** The prod stack with PostgreSQL and Kafka external, the others deployed: for the policy pack's tests. */
export const PROD_EXTERNAL_POSTGRES_KAFKA: Record<string, unknown> = {
  ...serviceOverride("prod", "postgres", {
    mode: "external",
    endpoint: { host: "db.example.com", port: 5432 },
  }),
  "ai-platform-data:postgresPassword": "external-pw",
  ...serviceOverride("prod", "kafka", {
    mode: "external",
    endpoint: { brokers: ["k1.example.com:9092"] },
  }),
  "ai-platform-data:kafkaPassword": "external-pw",
};
