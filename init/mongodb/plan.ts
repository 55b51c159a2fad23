/**
 * MongoDB plans: the commands that bring the server from what it has to what config asks for
 * (collections to create or drop, indexes to create, change or drop), computed by pure functions and
 * sent by ./apply.ts; and the comparable forms of both sides for the diff and for `read`.
 */
import { stableJson } from "../shared/diff";
import { formatKeys } from "./apply";
import {
  CollectionSpec,
  ID_INDEX,
  IndexSpec,
  MongoOp,
  OwnedIndex,
  rebuildHint,
  ResolvedIndex,
  resolveIndex,
  sameKeysHint,
  canonicalKeys,
  IndexDirection,
  IndexKey,
} from "./spec";

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
