/**
 * MongoDB collections and indexes (seed §3.4) through the `mongodb` driver 6.x: missing collections and
 * indexes created, a changed TTL applied in place with `collMod`, an index removed from config dropped
 * only if this resource created it (`ownedIndexes`), collections never dropped unless an update removes
 * them from config with `dropRemovedCollections` set (never on delete). The application user is managed
 * here too (mongodb/app-user.ts). Every change is computed first as a list of commands by pure
 * functions (`planCollections`, `planIndexes`), then sent by mongodb/apply.ts, batched where MongoDB
 * takes a batch (one `createIndexes` per collection).
 */
import * as pulumi from "@pulumi/pulumi";
import { AppliedOps, applyOps, CommandDb, formatKeys, OpsFailed, partialOwned } from "./mongodb/apply";
import {
  convergeAppUser,
  defaultAppRoles,
  missingRoles,
  MongoRole,
  observeAppUser,
} from "./mongodb/app-user";
import { mongoTarget } from "./mongodb/forward";
import { inPlaceDiff, stableJson } from "./shared/diff";
import { initialiserOptions } from "./shared/options";
import { partialFailure } from "./shared/partial";
import { parseHostPort } from "./shared/address-map";
import { ForwardSpec, isForwardRefusal, openForwarder } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { mayRetry, withSession } from "./shared/retry";
import { containsUnknown, isUnknown, known } from "./shared/unknown";
import { codeVersion, VersionedInputs } from "./shared/version";

export { applyOps, batchOps, commandFor, describeOp, formatKeys, partialOwned } from "./mongodb/apply";
export type { AppliedOps, CommandDb, OpsFailed } from "./mongodb/apply";

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

type Failure = { property: string; reason: string };

/** Largest `expireAfterSeconds` MongoDB accepts (a signed 32-bit integer). */
export const MAX_TTL_SECONDS = 2147483647;
/** MongoDB's own index on `_id`: never declared, never dropped. */
const ID_INDEX = "_id_";

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
function rebuildHint(collection: string, name: string, property: string): string {
  return (
    `MongoDB cannot change an index in place (it would have to be dropped and rebuilt). To rebuild it, give the ` +
    `entry a new name (ai-platform-data:mongodb.${property}.name, e.g. "${name}_v2") so a new index is built beside ` +
    `the old one, then remove the old entry in a later update (it is dropped if this resource created it; ` +
    `otherwise drop "${collection}.${name}" by hand)`
  );
}

function sameKeysHint(collection: string, name: string, property: string): string {
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

/** Collections to create, and removed ones to drop (opted in) or keep, from what the server has. */
export function planCollections(
  desired: CollectionSpec[],
  existing: Set<string>,
  removed: string[],
  dropRemoved: boolean,
): { create: MongoOp[]; drop: MongoOp[]; kept: string[] } {
  const plan = { create: [] as MongoOp[], drop: [] as MongoOp[], kept: [] as string[] };
  for (const c of desired) {
    if (!existing.has(c.name)) plan.create.push({ op: "createCollection", collection: c.name });
  }
  for (const name of removed) {
    if (!existing.has(name)) continue;
    if (dropRemoved) plan.drop.push({ op: "dropCollection", collection: name });
    else
      plan.kept.push(
        `kept collection ${name} removed from config, with its documents and indexes (mongodb.dropRemovedCollections is false)`,
      );
  }
  return plan;
}

/**
 * The index commands that bring the server (`actual`: collection → its indexes) to `desired`.
 * `owned` are the indexes this resource created: only those are dropped when they leave config.
 * `previous` is the config of the last run, to say which removed indexes are kept. Within a
 * collection drops come first, so an index renamed in config (same keys) can be rebuilt.
 */
export function planIndexes(
  desired: CollectionSpec[],
  actual: Map<string, ResolvedIndex[]>,
  owned: OwnedIndex[],
  previous: CollectionSpec[] = [],
): { ops: MongoOp[]; refused: string[]; kept: string[]; adopted: string[] } {
  const plan = {
    ops: [] as MongoOp[],
    refused: [] as string[],
    kept: [] as string[],
    adopted: [] as string[],
  };
  desired.forEach((c, i) => {
    const have = actual.get(c.name) ?? [];
    const want = (c.indexes ?? []).map(resolveIndex);
    const wanted = new Set(want.map((w) => w.name));
    const mine = new Set(owned.filter((o) => o.collection === c.name).map((o) => o.name));
    const dropping = new Set<string>();
    for (const h of have) {
      if (h.name !== ID_INDEX && mine.has(h.name) && !wanted.has(h.name)) {
        plan.ops.push({ op: "dropIndex", collection: c.name, spec: { name: h.name } });
        dropping.add(h.name);
      }
    }
    const prev = previous.find((p) => p.name === c.name);
    for (const p of (prev?.indexes ?? []).map(resolveIndex)) {
      if (!wanted.has(p.name) && !mine.has(p.name) && have.some((h) => h.name === p.name)) {
        plan.kept.push(
          `kept index ${c.name}.${p.name} removed from config (this resource did not create it; drop it by hand if it should go)`,
        );
      }
    }
    want.forEach((w, j) => {
      const property = `collections[${i}].indexes[${j}]`;
      const where = `index "${c.name}.${w.name}"`;
      const h = have.find((x) => x.name === w.name);
      if (!h) {
        const twin = have.find(
          (x) => !dropping.has(x.name) && canonicalKeys(x.keys) === canonicalKeys(w.keys),
        );
        if (twin) {
          plan.refused.push(
            `${where}: collection "${c.name}" already has index "${twin.name}" on the same keys ${formatKeys(w.keys)} and MongoDB keeps one index per key pattern; name the entry "${twin.name}" in config to manage that index, or drop it first`,
          );
          return;
        }
        const spec: Extract<MongoOp, { op: "createIndex" }>["spec"] = {
          name: w.name,
          key: Object.fromEntries(w.keys) as Record<string, IndexDirection>,
        };
        if (w.unique) spec.unique = true;
        if (w.expireAfterSeconds !== undefined) spec.expireAfterSeconds = w.expireAfterSeconds;
        plan.ops.push({ op: "createIndex", collection: c.name, spec });
        return;
      }
      if (!mine.has(w.name)) {
        plan.adopted.push(
          `index ${c.name}.${w.name} was already on the server: not recorded as created by this resource, so it is kept if it leaves config`,
        );
      }
      if (canonicalKeys(h.keys) !== canonicalKeys(w.keys)) {
        plan.refused.push(
          `${where} has keys ${formatKeys(h.keys)} on the server, config asks for ${formatKeys(w.keys)}. ${rebuildHint(c.name, w.name, property)}`,
        );
      } else if (!!h.unique !== !!w.unique) {
        plan.refused.push(
          `${where} has unique ${!!h.unique} on the server, config asks for ${!!w.unique}. ${sameKeysHint(c.name, w.name, property)}`,
        );
      } else if (h.expireAfterSeconds !== w.expireAfterSeconds) {
        if (w.expireAfterSeconds === undefined) {
          plan.refused.push(
            `${where} has a TTL of ${h.expireAfterSeconds} s on the server and config has none: collMod cannot remove a TTL. ${sameKeysHint(c.name, w.name, property)}`,
          );
        } else {
          const op: MongoOp = {
            op: "collMod",
            collection: c.name,
            spec: { name: w.name, expireAfterSeconds: w.expireAfterSeconds },
          };
          if (h.expireAfterSeconds !== undefined) op.was = h.expireAfterSeconds;
          plan.ops.push(op);
        }
      }
    });
  });
  return plan;
}

/** Ownership after a run: what was owned and is still declared, plus what this run created. */
export function nextOwned(
  owned: OwnedIndex[],
  created: OwnedIndex[],
  declared: CollectionSpec[],
): OwnedIndex[] {
  const isDeclared = (o: OwnedIndex) =>
    declared.some(
      (c) => c.name === o.collection && (c.indexes ?? []).some((ix) => resolveIndex(ix).name === o.name),
    );
  const all = [...owned.filter(isDeclared), ...created];
  const seen = new Set<string>();
  return all
    .filter((o) => {
      const k = JSON.stringify([o.collection, o.name]);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.collection.localeCompare(b.collection) || a.name.localeCompare(b.name));
}

/** Collections in a form where equal desired states are equal text: names resolved, sorted by name. */
export function comparableCollections(collections: CollectionSpec[] | undefined): string {
  return stableJson(
    [...(collections ?? [])]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => ({
        name: c.name,
        indexes: (c.indexes ?? []).map(resolveIndex).sort((a, b) => a.name.localeCompare(b.name)),
      })),
  );
}

/**
 * The declared collections as the server has them, for `read`: existing collections only, with the
 * declared and owned indexes that exist (keys in config's order when they are the same keys).
 */
export function observedCollections(
  declared: CollectionSpec[],
  actual: Map<string, ResolvedIndex[]>,
  owned: OwnedIndex[],
): CollectionSpec[] {
  const result: CollectionSpec[] = [];
  for (const c of declared) {
    const have = actual.get(c.name);
    if (!have) continue;
    const want = (c.indexes ?? []).map(resolveIndex);
    const indexes: IndexSpec[] = [];
    for (const h of have) {
      const w = want.find((x) => x.name === h.name);
      const mine = owned.some((o) => o.collection === c.name && o.name === h.name);
      if (!w && !mine) continue;
      const keys = w && canonicalKeys(w.keys) === canonicalKeys(h.keys) ? w.keys : h.keys;
      const spec: IndexSpec = { name: h.name, keys: keys as IndexKey[] };
      if (h.unique) spec.unique = true;
      if (h.expireAfterSeconds !== undefined) spec.expireAfterSeconds = h.expireAfterSeconds;
      indexes.push(spec);
    }
    const rank = (n: string | undefined) => {
      const k = want.findIndex((x) => x.name === n);
      return k < 0 ? want.length : k;
    };
    indexes.sort((a, b) => rank(a.name) - rank(b.name));
    result.push({ name: c.name, indexes });
  }
  return result;
}

/** The parts of a driver `Db` the provider uses (typed locally: the module is required lazily). */
interface MongoDb extends CommandDb {
  listCollections(
    filter: Record<string, unknown>,
    options: { nameOnly: boolean },
  ): { toArray(): Promise<{ name: string; type?: string }[]> };
  collection(name: string): {
    listIndexes(): { toArray(): Promise<Parameters<typeof observedIndex>[0][]> };
  };
}

/** The provider. The driver is required inside the methods: Pulumi serializes this object. */
export class MongoCollectionsProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<MongoCollectionsInputs>,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    // Values not known yet (a preview) are checked by the real run.
    const collections = known(news.collections) ?? [];
    const failures = [...specFailures(collections)];
    // Only compare with the old config when both are well formed (a malformed one is reported above).
    if (failures.length === 0) failures.push(...refusedIndexChanges(known(olds.collections), collections));
    if (!isUnknown(news.hosts) && (!Array.isArray(news.hosts) || news.hosts.length === 0)) {
      failures.push({ property: "hosts", reason: "at least one host:port is needed" });
    }
    return { inputs: news, failures };
  }

  async diff(
    _id: string,
    olds: MongoCollectionsOutputs,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    // Collections are compared in their canonical form (key order, default index names).
    const collectionsChanged =
      containsUnknown(news.collections) ||
      comparableCollections(olds.collections) !== comparableCollections(news.collections);
    return inPlaceDiff(
      olds,
      news,
      ["log", "ownedIndexes", "appUserDrifted", "collections"],
      collectionsChanged || olds.appUserDrifted === true,
    );
  }

  async create(inputs: MongoCollectionsInputs): Promise<pulumi.dynamic.CreateResult> {
    const id = `mongodb-collections-${inputs.database}`;
    return { id, outs: await this.converge(id, inputs, undefined, true) };
  }

  async update(
    id: string,
    olds: MongoCollectionsOutputs,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const setPassword = olds.appPassword !== news.appPassword || olds.appUser !== news.appUser;
    return { outs: await this.converge(id, news, olds, setPassword) };
  }

  async read(id: string, props: MongoCollectionsOutputs): Promise<pulumi.dynamic.ReadResult> {
    const owned = props.ownedIndexes ?? [];
    const { actual, drifted } = await this.withDb(props, async (db) => ({
      actual: await this.observe(
        db,
        props.collections.map((c) => c.name),
      ),
      drifted: props.appUser ? await this.appUserDrifted(db, props) : false,
    }));
    const collections = observedCollections(props.collections, actual, owned);
    return { id, props: { ...props, collections, appUserDrifted: drifted } };
  }

  /**
   * Keeps every collection and the application user, whatever `dropRemovedCollections` says: delete
   * also runs on `pulumi destroy` and when the resource's URN changes (a rename, a new parent without
   * an alias), where the data is still wanted. Only an update that removes a collection drops it.
   */
  async delete(_id: string, props: MongoCollectionsOutputs): Promise<void> {
    const why = props.dropRemovedCollections
      ? "mongodb.dropRemovedCollections applies to collections an update removes from config, never to delete"
      : "mongodb.dropRemovedCollections is false";
    progress("mongodb-collections").log(
      `kept collections ${props.collections.map((c) => c.name).join(", ")} in database ${props.database}, with their documents and indexes (${why})`,
    );
  }

  /**
   * Brings the database to the desired collections and indexes from whatever the server has; safe to
   * re-run after a run that stopped half way. `previous` is the state of the last run. A run that
   * fails after creating or dropping an index throws a {@link partialFailure} whose outputs record the
   * ownership reached, with `collections` still those of the last converged run: the next run then
   * drops what this one created if it left config, and still sees the collections that left config.
   */
  private async converge(
    id: string,
    inputs: MongoCollectionsInputs,
    previous: MongoCollectionsOutputs | undefined,
    setAppPassword: boolean,
  ): Promise<MongoCollectionsOutputs> {
    const { log, lines } = progress("mongodb-collections");
    const collections = inputs.collections ?? [];
    const failures = specFailures(collections);
    if (failures.length > 0) throw new Error(failures.map((f) => f.reason).join("; "));
    const sameDb = previous !== undefined && previous.database === inputs.database;
    if (previous && !sameDb) {
      log(
        `database changed from ${previous.database} to ${inputs.database}: kept collections ${previous.collections
          .map((c) => c.name)
          .join(", ")} in ${previous.database} as they are`,
      );
    }
    const before = sameDb ? previous : undefined;
    let owned = before?.ownedIndexes ?? [];
    const removed = (before?.collections ?? [])
      .map((c) => c.name)
      .filter((n) => !collections.some((c) => c.name === n));
    // Ownership reached by an attempt that failed part way: kept across the attempts of a retried run
    // (the next attempt plans with it), and recorded as a partial failure if the run fails.
    let movedOwnership = false;
    try {
      await this.withDb(inputs, async (db) => {
        if (inputs.appUser && inputs.appPassword !== undefined) {
          const roles = inputs.appRoles ?? defaultAppRoles(inputs.database);
          const want = {
            user: inputs.appUser,
            password: inputs.appPassword,
            roles,
            database: inputs.database,
          };
          await convergeAppUser(db, want, setAppPassword || previous?.appUserDrifted === true, log);
        }
        if (previous?.appUser && previous.appUser !== inputs.appUser) {
          log(`kept user ${previous.appUser} in database ${previous.database} (no longer in config)`);
        }
        const actual = await this.observe(db, [...collections.map((c) => c.name), ...removed]);
        const cols = planCollections(
          collections,
          new Set(actual.keys()),
          removed,
          inputs.dropRemovedCollections,
        );
        const idx = planIndexes(collections, actual, owned, before?.collections);
        if (idx.refused.length > 0) {
          throw new Error(
            `refusing to change indexes in database ${inputs.database}: ${idx.refused.join("; ")}`,
          );
        }
        // Said once, when this resource first meets the database; not on every later run.
        if (!previous) idx.adopted.forEach((line) => log(line));
        let done: AppliedOps;
        try {
          done = await applyOps(db, [...cols.create, ...idx.ops, ...cols.drop], log);
        } catch (e) {
          const part = (e as Partial<OpsFailed>).done;
          if (part && part.created.length + part.dropped.length > 0) {
            owned = partialOwned(owned, part);
            movedOwnership = true;
          }
          throw e;
        }
        cols.kept.forEach((line) => log(line));
        idx.kept.forEach((line) => log(line));
        owned = nextOwned(owned, done.created, collections);
      });
    } catch (e) {
      if (!movedOwnership) throw e;
      const reached = { ...inputs, collections: before?.collections ?? [], ownedIndexes: owned, log: lines };
      throw partialFailure((e as Error).message, id, reached);
    }
    return { ...inputs, ownedIndexes: owned, appUserDrifted: false, log: lines };
  }

  /** Whether the application user is missing or lacks a role (for `read`). */
  private async appUserDrifted(db: MongoDb, props: MongoCollectionsOutputs): Promise<boolean> {
    const observed = await observeAppUser(db, props.appUser!);
    return (
      !observed.exists ||
      missingRoles(props.appRoles ?? defaultAppRoles(props.database), observed.roles).length > 0
    );
  }

  /** The indexes of each named collection that exists. */
  private async observe(db: MongoDb, names: string[]): Promise<Map<string, ResolvedIndex[]>> {
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    const result = new Map<string, ResolvedIndex[]>();
    for (const name of names) {
      if (!existing.has(name) || result.has(name)) continue;
      const raw = await db.collection(name).listIndexes().toArray();
      result.set(name, raw.map(observedIndex));
    }
    return result;
  }

  /**
   * Connects, runs `fn` against the database, closes; again from the start, up to the deadline, when
   * the server answers that a command may be retried (see shared/retry's withSession).
   */
  private async withDb<T>(inputs: MongoCollectionsInputs, fn: (db: MongoDb) => Promise<T>): Promise<T> {
    const { MongoClient } = require("mongodb");
    const what =
      `MongoDB at ${inputs.hosts.join(",")}` +
      `${inputs.replicaSet ? ` (replica set ${inputs.replicaSet})` : ""}` +
      ` as ${inputs.username} (authSource ${inputs.authSource})`;
    const deadlineMs = inputs.timeoutSeconds * 1000;
    const started = Date.now();
    const options: Record<string, unknown> = {
      auth: { username: inputs.username, password: inputs.password },
      authSource: inputs.authSource,
      appName: "ai-platform-data-init",
      connectTimeoutMS: 5000,
    };
    if (inputs.replicaSet) options.replicaSet = inputs.replicaSet;
    if (inputs.directConnection !== undefined) options.directConnection = inputs.directConnection;
    if (inputs.tls !== undefined) options.tls = inputs.tls;
    type Client = { db(name: string): MongoDb; close(): Promise<void> };
    const fw = await openForwarder(
      inputs.forward,
      parseHostPort(inputs.hosts[0]),
      progress("mongodb-collections").log,
    );
    return withSession<Client, T>(
      {
        what,
        workWhat: `${what}, database ${inputs.database}`,
        deadlineMs,
        startedAt: started,
        secrets: [inputs.password, inputs.appPassword],
        log: progress("mongodb-collections").log,
        connect: async () => {
          // Each attempt waits for a server at most 2 s (the driver re-checks within it), never past the deadline.
          const left = deadlineMs - (Date.now() - started);
          const wait = Math.max(500, Math.min(2000, left));
          // Through port-forwards: the primary's own forward, directly (mongodb/forward.ts).
          const at = await mongoTarget(inputs, options, fw, wait);
          const c = new MongoClient(`mongodb://${at.hosts.join(",")}/`, {
            ...at.options,
            serverSelectionTimeoutMS: wait,
          });
          try {
            await c.connect();
            // Authenticated, and the database answers: connect() alone may not have selected a server.
            await c.db(inputs.database).command({ ping: 1 });
            return c;
          } catch (e) {
            await c.close().catch(() => undefined);
            throw e;
          }
        },
        close: (c) => c.close(),
        isFatal: (e) => {
          const err = e as { code?: number; message?: string };
          // 18 AuthenticationFailed, 13 Unauthorized: a wrong password does not get better by waiting.
          if (err?.code === 18 || err?.code === 13) return true;
          if (/Authentication failed|requires authentication|not authorized/i.test(err?.message ?? "")) {
            return true;
          }
          return isForwardRefusal(e) || !mayRetry(e);
        },
      },
      (c) => fn(c.db(inputs.database)),
    ).finally(() => fw.close());
  }
}

/** Arguments of {@link MongoCollections}. */
export interface MongoCollectionsArgs {
  /** Seed list, `host:port` each (the component's `connection.hosts`). */
  hosts: pulumi.Input<string[]>;
  /** Replica set name; unset for a standalone server or a direct connection. */
  replicaSet?: pulumi.Input<string | undefined>;
  /** Talk to the one seed host only, without replica-set discovery (a forwarded port). */
  directConnection?: pulumi.Input<boolean | undefined>;
  /** Connect with TLS. */
  tls?: pulumi.Input<boolean | undefined>;
  /** User the initialiser connects as (needs createCollection, createIndex, collMod, dropIndex). */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** Database the user is defined in (`admin` for the root user). */
  authSource: pulumi.Input<string>;
  /** Database the collections live in. */
  database: pulumi.Input<string>;
  /** The desired collections and indexes; see {@link collectionsFromConfig} to convert config's. */
  collections: pulumi.Input<CollectionSpec[]>;
  /** Drop collections an update removes from config (data loss; never on delete); default keeps them. */
  dropRemovedCollections: pulumi.Input<boolean>;
  /** The application user (`connection.appUser`), defined in `database`; unset leaves users alone. */
  appUser?: pulumi.Input<string>;
  /** Its password (secret): `connection.appPassword`; a rotation is set on the server. */
  appPassword?: pulumi.Input<string>;
  /** Its roles; default readWrite on `database`. */
  appRoles?: pulumi.Input<MongoRole[]>;
  /** Seconds to keep retrying to reach the server. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the members from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The collections and indexes of the platform's MongoDB database. */
export class MongoCollections extends pulumi.dynamic.Resource {
  /** Collections and indexes as last applied or observed. */
  declare readonly collections: pulumi.Output<CollectionSpec[]>;
  /** Indexes this resource created: the only ones it drops when they leave config. */
  declare readonly ownedIndexes: pulumi.Output<OwnedIndex[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: MongoCollectionsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new MongoCollectionsProvider(),
      name,
      {
        ...args,
        codeVersion: codeVersion(__filename),
        ownedIndexes: undefined,
        appUserDrifted: undefined,
        log: undefined,
      },
      initialiserOptions(opts, ["password", "appPassword"]),
    );
  }
}
