/**
 * The data objects the initialisers keep: MongoDB collections and indexes, Weaviate classes, Redis ACL
 * users, Kafka topics (one entry of the lists in the service schemas of config/schema.ts).
 */
import { z } from "zod";

const indexKeySchema = z.record(z.string(), z.union([z.literal(1), z.literal(-1), z.literal("text")]));
export const mongoIndexSchema = z
  .object({
    /** Index name; derived from the keys as MongoDB does when unset. */
    name: z.string().min(1).optional(),
    /** Fields and directions, in order. */
    keys: indexKeySchema.refine((k) => Object.keys(k).length > 0, "an index needs at least one key"),
    unique: z.boolean().optional(),
    /** A TTL index: documents expire this many seconds after the indexed date. */
    expireAfterSeconds: z.number().int().min(0).optional(),
  })
  .strict();
export const mongoCollectionSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/, "must be a valid collection name"),
    indexes: z.array(mongoIndexSchema).default([]),
  })
  .strict();

export const weaviatePropertySchema = z
  .object({
    name: z.string().regex(/^[_A-Za-z][_0-9A-Za-z]{0,230}$/, "must be a GraphQL name"),
    dataType: z.array(z.string().min(1)).min(1),
    description: z.string().optional(),
  })
  .strict();
export const weaviateClassSchema = z
  .object({
    name: z.string().regex(/^[A-Z][_0-9A-Za-z]*$/, "must start with a capital letter (GraphQL class name)"),
    description: z.string().optional(),
    /** A vectorizer module, or `none` to bring your own vectors. */
    vectorizer: z.string().min(1).default("none"),
    properties: z.array(weaviatePropertySchema).default([]),
  })
  .strict();

export const aclUserSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only"),
    /** Key patterns (`~pattern` in ACL syntax, without the tilde). */
    keys: z.array(z.string().min(1)).default([]),
    /** Pub/Sub channel patterns (`&pattern`). */
    channels: z.array(z.string().min(1)).default([]),
    /** Command rules, for example `+@read +@write -@dangerous`. */
    commands: z
      .string()
      .regex(/^([+-]@?[a-z|-]+\s*)+$/, "space-separated +cmd, -cmd, +@category or -@category rules")
      .default("+@read +@write -@dangerous"),
  })
  .strict();

export const kafkaTopicSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "letters, digits, '.', '_' and '-' (at most 249)"),
    partitions: z.number().int().min(1).max(10000).default(3),
    replicationFactor: z.number().int().min(1).max(16).default(1),
    /** Topic-level configs (`retention.ms`, `cleanup.policy`, `min.insync.replicas`, ...), as strings. */
    configs: z.record(z.string(), z.string()).default({}),
  })
  .strict();
