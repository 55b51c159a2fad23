/**
 * MongoDB collections and indexes as config declares them: the inputs, index names and keys as the
 * server reports them, and the checks of a spec and of a change to it. Pure: no network.
 */
import { ForwardSpec } from "../shared/port-forward";
import { VersionedInputs } from "../shared/version";
import { formatKeys } from "./apply";
import type { MongoRole } from "./app-user";

/** Direction of one index key: ascending, descending, or a field of a text index. */
export type IndexDirection = 1 | -1 | "text";

/**
 * One index key as `[field, direction]`. A list of pairs, not an object: the order of a compound index's
 * fields is its meaning, and an object's key order does not survive the engine (inputs travel as
 * protobuf Structs, whose fields are a map, and state is stored with sorted keys).
 */
export type IndexKey = [string, IndexDirection];

/** One index as config declares it. */
export interface IndexSpec {
  /** Index name; MongoDB's default (`field_1_other_-1`) when unset. */
  name?: string;
  keys: IndexKey[];
  unique?: boolean;
  /** A TTL index: documents expire this many seconds after the date in the (single) indexed field. */
  expireAfterSeconds?: number;
}

/** One collection and its indexes (`_id_` is MongoDB's own and never listed). */
export interface CollectionSpec {
  name: string;
  indexes: IndexSpec[];
}

/** An index with its name resolved, as planned or as the server reports it. */
export interface ResolvedIndex {
  name: string;
  /** Directions other than 1, -1 and "text" (2dsphere, hashed) only appear on indexes made by others. */
  keys: [string, IndexDirection | string][];
  unique?: true;
  expireAfterSeconds?: number;
}

/** An index this resource created (and so may drop when it leaves config). */
export interface OwnedIndex {
  collection: string;
  name: string;
}

/** Inputs of the provider (plain values, as the engine passes them). */
export interface MongoCollectionsInputs extends VersionedInputs {
  /** Seed list, `host:port` each. */
  hosts: string[];
  /** Replica set name; unset for a standalone server or a direct connection. */
  replicaSet?: string;
  /** Talk to the one seed host only, without replica-set discovery. */
  directConnection?: boolean;
  /** Connect with TLS. */
  tls?: boolean;
  /** User the initialiser connects as. */
  username: string;
  /** Its password (secret: the engine marks the output of the same name secret). */
  password: string;
  /** Database the user is defined in. */
  authSource: string;
  /** Database the collections live in. */
  database: string;
  /** The desired collections and indexes. */
  collections: CollectionSpec[];
  /** Drop collections an update removes from config (data loss); otherwise kept. Never on delete. */
  dropRemovedCollections: boolean;
  /** The application user, defined in `database`; unset: not managed. */
  appUser?: string;
  /** Its password (secret). A change is set on the server by the update that brings it. */
  appPassword?: string;
  /** Its roles; default readWrite on `database`. */
  appRoles?: MongoRole[];
  /** Seconds to keep retrying to reach the server. */
  timeoutSeconds: number;
  /** How to reach the members from here (shared/port-forward.ts, mongodb/forward.ts); unset: as given. */
  forward?: ForwardSpec;
  /**
   * Whether `check` reads the application user (`usersInfo`) so that `diff` sees it dropped or short of
   * a role: true in `pulumi up`, false in a preview. `check` drops it from the inputs.
   */
  observe?: boolean;
  /** Set by `check` only: the application user is missing or lacks a role. */
  appUserMissing?: boolean;
}

/** Outputs: the inputs (`collections` as observed by `read`), what this resource created, the last steps. */
export interface MongoCollectionsOutputs extends MongoCollectionsInputs {
  ownedIndexes: OwnedIndex[];
  /** True when `read` found the application user missing or short of a role. */
  appUserDrifted?: boolean;
  log: string[];
}

/** One command of a plan; `spec` is what is sent (see {@link commandFor}). */
export type MongoOp =
  | { op: "createCollection"; collection: string }
  | {
      op: "createIndex";
      collection: string;
      spec: { name: string; key: Record<string, IndexDirection>; unique?: true; expireAfterSeconds?: number };
    }
  | { op: "collMod"; collection: string; spec: { name: string; expireAfterSeconds: number }; was?: number }
  | { op: "dropIndex"; collection: string; spec: { name: string } }
  | { op: "dropCollection"; collection: string };

export type Failure = { property: string; reason: string };

/** Largest `expireAfterSeconds` MongoDB accepts (a signed 32-bit integer). */
const MAX_TTL_SECONDS = 2147483647;
/** MongoDB's own index on `_id`: never declared, never dropped. */
export const ID_INDEX = "_id_";

/** MongoDB's default index name: each `field_direction`, joined with `_` (`status_1_last_updated_-1`). */
export function defaultIndexName(keys: [string, IndexDirection | string][]): string {
  return keys.map(([field, dir]) => `${field}_${dir}`).join("_");
}

/** The index with its name resolved and only the options that are set. */
export function resolveIndex(spec: IndexSpec): ResolvedIndex {
  const r: ResolvedIndex = {
    name: spec.name ?? defaultIndexName(spec.keys),
    keys: spec.keys.map(([f, d]) => [f, d]),
  };
  if (spec.unique) r.unique = true;
  if (spec.expireAfterSeconds !== undefined) r.expireAfterSeconds = spec.expireAfterSeconds;
  return r;
}

/**
 * A form of the keys in which equal indexes compare equal: the fields of a text index form one group
 * (MongoDB stores them as `_fts`/`_ftsx` plus `weights`, without their order).
 */
export function canonicalKeys(keys: [string, IndexDirection | string][]): string {
  const out: unknown[] = [];
  const text: string[] = [];
  for (const [f, d] of keys) {
    if (d === "text") {
      if (text.length === 0) out.push("$text");
      text.push(f);
    } else out.push([f, d]);
  }
  return JSON.stringify(out.map((x) => (x === "$text" ? ["$text", [...text].sort()] : x)));
}

/** One entry of `listIndexes` as a {@link ResolvedIndex}. */
export function observedIndex(raw: {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  expireAfterSeconds?: number;
  weights?: Record<string, unknown>;
}): ResolvedIndex {
  const keys: [string, IndexDirection | string][] = [];
  for (const [field, v] of Object.entries(raw.key)) {
    if (field === "_fts") {
      for (const w of Object.keys(raw.weights ?? {}).sort()) keys.push([w, "text"]);
    } else if (field !== "_ftsx") {
      const n = Number(v);
      keys.push([field, typeof v === "string" ? v : n < 0 ? -1 : 1]);
    }
  }
  const r: ResolvedIndex = { name: raw.name, keys };
  if (raw.unique) r.unique = true;
  if (raw.expireAfterSeconds !== undefined && raw.expireAfterSeconds !== null) {
    r.expireAfterSeconds = Number(raw.expireAfterSeconds);
  }
  return r;
}

/**
 * Config's collections (`keys` as an object, in YAML order) as resource inputs (`keys` as pairs, which
 * keep their order through the engine). Throws when a compound index has an integer-like field name:
 * JavaScript puts such keys first in every object, so the order config meant is already lost.
 */
export function collectionsFromConfig(
  collections: {
    name: string;
    indexes?: {
      name?: string;
      keys: Record<string, IndexDirection>;
      unique?: boolean;
      expireAfterSeconds?: number;
    }[];
  }[],
): CollectionSpec[] {
  return collections.map((c, i) => ({
    name: c.name,
    indexes: (c.indexes ?? []).map((ix, j) => {
      const keys = Object.entries(ix.keys) as IndexKey[];
      if (keys.length > 1 && keys.some(([f]) => /^(0|[1-9]\d*)$/.test(f))) {
        throw new Error(
          `ai-platform-data:mongodb.collections[${i}].indexes[${j}]: field names that are integers (${keys
            .map(([f]) => f)
            .join(", ")}) lose their order in a compound index's keys; rename the field`,
        );
      }
      const spec: IndexSpec = { keys };
      if (ix.name !== undefined) spec.name = ix.name;
      if (ix.unique !== undefined) spec.unique = ix.unique;
      if (ix.expireAfterSeconds !== undefined) spec.expireAfterSeconds = ix.expireAfterSeconds;
      return spec;
    }),
  }));
}

/** Declared state that MongoDB would refuse or that cannot mean what it says (no network). */
export function specFailures(collections: CollectionSpec[]): Failure[] {
  const failures: Failure[] = [];
  const names = new Set<string>();
  collections.forEach((c, i) => {
    if (names.has(c.name))
      failures.push({ property: `collections[${i}].name`, reason: `collection "${c.name}" appears twice` });
    names.add(c.name);
    const indexNames = new Map<string, number>();
    const keySets = new Map<string, string>();
    (c.indexes ?? []).forEach((ix, j) => {
      const property = `collections[${i}].indexes[${j}]`;
      if (!Array.isArray(ix.keys) || ix.keys.length === 0) {
        failures.push({ property, reason: `an index of collection "${c.name}" has no keys` });
        return;
      }
      const bad = ix.keys.filter(([, d]) => d !== 1 && d !== -1 && d !== "text");
      if (bad.length > 0) {
        failures.push({
          property,
          reason: `index keys of collection "${c.name}" must be 1, -1 or "text": ${formatKeys(bad)}`,
        });
        return;
      }
      const fields = ix.keys.map(([f]) => f);
      if (new Set(fields).size !== fields.length) {
        failures.push({ property, reason: `index ${formatKeys(ix.keys)} names a field twice` });
      }
      const r = resolveIndex(ix);
      const where = `index "${c.name}.${r.name}"`;
      if (r.name === ID_INDEX) {
        failures.push({ property, reason: `${where}: "_id_" is MongoDB's own index on _id; leave it out` });
      }
      if (indexNames.has(r.name)) {
        failures.push({
          property,
          reason: `${where} appears twice in collection "${c.name}" (indexes[${indexNames.get(r.name)}] and indexes[${j}]; an unnamed index is named after its keys)`,
        });
      }
      indexNames.set(r.name, j);
      const ck = canonicalKeys(r.keys);
      if (keySets.has(ck)) {
        failures.push({
          property,
          reason: `${where} has the same keys ${formatKeys(r.keys)} as index "${keySets.get(ck)}": MongoDB keeps one index per key pattern`,
        });
      }
      keySets.set(ck, r.name);
      if (r.expireAfterSeconds !== undefined) {
        const ttl = r.expireAfterSeconds;
        if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS) {
          failures.push({
            property: `${property}.expireAfterSeconds`,
            reason: `${where}: expireAfterSeconds must be an integer from 0 to ${MAX_TTL_SECONDS}, not ${ttl}`,
          });
        }
        if (r.keys.length !== 1 || r.keys[0][1] === "text") {
          failures.push({
            property: `${property}.expireAfterSeconds`,
            reason: `${where}: a TTL index has exactly one (date) field and is not a text index; MongoDB ignores expireAfterSeconds on ${formatKeys(r.keys)}`,
          });
        } else if (r.keys[0][0] === "_id") {
          failures.push({
            property: `${property}.expireAfterSeconds`,
            reason: `${where}: MongoDB does not support a TTL on _id`,
          });
        }
      }
    });
  });
  return failures;
}

/** How to change what MongoDB cannot change in place, for the messages below. */
export function rebuildHint(collection: string, name: string, property: string): string {
  return (
    `MongoDB cannot change an index in place (it would have to be dropped and rebuilt). To rebuild it, give the ` +
    `entry a new name (ai-platform-data:mongodb.${property}.name, e.g. "${name}_v2") so a new index is built beside ` +
    `the old one, then remove the old entry in a later update (it is dropped if this resource created it; ` +
    `otherwise drop "${collection}.${name}" by hand)`
  );
}

export function sameKeysHint(collection: string, name: string, property: string): string {
  return (
    `MongoDB keeps one index per key pattern, so it cannot be built beside the old one: remove the entry ` +
    `(ai-platform-data:mongodb.${property}) and apply (the index is dropped if this resource created it; ` +
    `otherwise drop "${collection}.${name}" by hand), then add it back with the new setting`
  );
}

/** Index changes refused by comparing old and new desired state (no network). */
export function refusedIndexChanges(olds: CollectionSpec[] | undefined, news: CollectionSpec[]): Failure[] {
  const failures: Failure[] = [];
  const before = new Map((olds ?? []).map((c) => [c.name, (c.indexes ?? []).map(resolveIndex)]));
  news.forEach((c, i) => {
    const old = before.get(c.name);
    if (!old) return;
    (c.indexes ?? []).forEach((ix, j) => {
      if (!Array.isArray(ix.keys) || ix.keys.length === 0) return;
      const want = resolveIndex(ix);
      const had = old.find((o) => o.name === want.name);
      if (!had) return;
      const property = `collections[${i}].indexes[${j}]`;
      const where = `index "${c.name}.${want.name}"`;
      if (canonicalKeys(had.keys) !== canonicalKeys(want.keys)) {
        failures.push({
          property,
          reason: `${where} would change its keys from ${formatKeys(had.keys)} to ${formatKeys(want.keys)}. ${rebuildHint(c.name, want.name, property)}`,
        });
      } else if (!!had.unique !== !!want.unique) {
        failures.push({
          property: `${property}.unique`,
          reason: `${where} would change unique from ${!!had.unique} to ${!!want.unique}. ${sameKeysHint(c.name, want.name, property)}`,
        });
      } else if (had.expireAfterSeconds !== undefined && want.expireAfterSeconds === undefined) {
        failures.push({
          property: `${property}.expireAfterSeconds`,
          reason: `${where} would lose its TTL (expireAfterSeconds ${had.expireAfterSeconds}): collMod can change a TTL but not remove it. Keep a TTL (a very large one never expires anything in practice), or: ${sameKeysHint(c.name, want.name, property)}`,
        });
      }
    });
  });
  return failures;
}
