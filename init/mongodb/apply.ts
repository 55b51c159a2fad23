/**
 * Sending a MongoDB plan (a list of {@link MongoOp}, computed by init/mongodb.ts from what the server
 * has): the commands, batched where the server takes a batch, one log line per operation done, and
 * the indexes created and dropped, so that the caller keeps `ownedIndexes` exact even when a command
 * fails part way.
 *
 * Batching: all the indexes a run creates in one collection go in one `createIndexes` command, and a
 * collection that gets indexes is not created on its own first (`createIndexes` creates a missing
 * collection, and says so in `createdCollectionAutomatically`). Every other operation is a command of
 * its own: MongoDB has no batch form of `create`, `collMod`, `dropIndexes` for several names, or `drop`.
 */
import type { IndexDirection, MongoOp, OwnedIndex } from "./spec";
import { describeError } from "../shared/retry";

/** `{status: 1, last_updated: -1}`, for messages. */
export function formatKeys(keys: [string, IndexDirection | string][]): string {
  return `{${keys.map(([f, d]) => `${f}: ${typeof d === "string" ? JSON.stringify(d) : d}`).join(", ")}}`;
}

/** The command document for one operation on its own. */
export function commandFor(op: MongoOp): Record<string, unknown> {
  switch (op.op) {
    case "createCollection":
      return { create: op.collection };
    case "createIndex":
      return { createIndexes: op.collection, indexes: [op.spec] };
    case "collMod":
      return {
        collMod: op.collection,
        index: { name: op.spec.name, expireAfterSeconds: op.spec.expireAfterSeconds },
      };
    case "dropIndex":
      return { dropIndexes: op.collection, index: op.spec.name };
    case "dropCollection":
      return { drop: op.collection };
  }
}

type CreateIndex = Extract<MongoOp, { op: "createIndex" }>;

/** One command to send, and the operations it carries (several only for `createIndexes`). */
export interface MongoBatch {
  command: Record<string, unknown>;
  ops: MongoOp[];
  /** For `createIndexes`: the collection did not exist, so this command creates it. */
  createsCollection?: boolean;
}

/**
 * The commands that carry `ops`, in order. The createIndex operations of a collection are one
 * `createIndexes`: where the collection is created, when it is new (it then creates the collection),
 * otherwise where the first of them was. Within a collection the order that matters is kept (drops
 * before creates, for an index renamed in config); the collMods between creates are independent of them.
 */
export function batchOps(ops: MongoOp[]): MongoBatch[] {
  const indexed = new Set(ops.filter((o) => o.op === "createIndex").map((o) => o.collection));
  const open = new Map<string, MongoBatch>();
  const batches: MongoBatch[] = [];
  const start = (collection: string, createsCollection: boolean) => {
    const b: MongoBatch = { command: { createIndexes: collection, indexes: [] }, ops: [] };
    if (createsCollection) b.createsCollection = true;
    open.set(collection, b);
    batches.push(b);
    return b;
  };
  for (const op of ops) {
    if (op.op === "createCollection" && indexed.has(op.collection)) start(op.collection, true);
    else if (op.op !== "createIndex") batches.push({ command: commandFor(op), ops: [op] });
    else {
      const b = open.get(op.collection) ?? start(op.collection, false);
      b.ops.push(op);
      (b.command.indexes as CreateIndex["spec"][]).push(op.spec);
    }
  }
  return batches;
}

/** The log line of a completed operation. */
function describeOp(op: MongoOp): string {
  switch (op.op) {
    case "createCollection":
      return `created collection ${op.collection}`;
    case "createIndex": {
      const opts = [
        op.spec.unique ? "unique" : undefined,
        op.spec.expireAfterSeconds !== undefined ? `TTL ${op.spec.expireAfterSeconds} s` : undefined,
      ].filter((x) => x !== undefined);
      return `created index ${op.collection}.${op.spec.name} on ${formatKeys(Object.entries(op.spec.key))}${
        opts.length > 0 ? ` (${opts.join(", ")})` : ""
      }`;
    }
    case "collMod":
      return op.was === undefined
        ? `made index ${op.collection}.${op.spec.name} a TTL index of ${op.spec.expireAfterSeconds} s (collMod)`
        : `changed TTL of index ${op.collection}.${op.spec.name} from ${op.was} s to ${op.spec.expireAfterSeconds} s (collMod)`;
    case "dropIndex":
      return `dropped index ${op.collection}.${op.spec.name} (removed from config; this resource created it)`;
    case "dropCollection":
      return `dropped collection ${op.collection} with its documents (mongodb.dropRemovedCollections is true)`;
  }
}

/** What {@link applyOps} needs of a driver `Db`: a fake that records commands stands in for tests. */
export interface CommandDb {
  command(cmd: Record<string, unknown>): Promise<unknown>;
}

/** Server error codes that mean "already as wanted" for an operation (a run that stopped half way). */
const ALREADY_DONE: Partial<Record<MongoOp["op"], number[]>> = {
  createCollection: [48], // NamespaceExists
  dropIndex: [26, 27], // NamespaceNotFound, IndexNotFound
  dropCollection: [26],
};

/** The command about to be sent, for error messages. */
function batchTitle(b: MongoBatch): string {
  const op = b.ops[0];
  switch (op.op) {
    case "createCollection":
      return `creating collection ${op.collection}`;
    case "createIndex":
      return `creating ${b.ops.length > 1 ? "indexes" : "index"} ${b.ops
        .map((o) => `${o.collection}.${(o as CreateIndex).spec.name}`)
        .join(", ")}`;
    case "collMod":
      return `setting the TTL of index ${op.collection}.${op.spec.name} (collMod)`;
    case "dropIndex":
      return `dropping index ${op.collection}.${op.spec.name}`;
    case "dropCollection":
      return `dropping collection ${op.collection}`;
  }
}

/**
 * Sends the operations, batched ({@link batchOps}), one log line per operation. Returns the indexes
 * created and dropped, so the caller can keep `ownedIndexes` exact. Errors name the command and, for
 * an index conflict, the way out; they carry what the commands before did (`done`), and, when a
 * `createIndexes` failed, which of its indexes the server has all the same (read back with
 * `listIndexes`: a server may have built some before it failed).
 */
export async function applyOps(
  db: CommandDb,
  ops: MongoOp[],
  log: (line: string) => void,
): Promise<AppliedOps> {
  const result: AppliedOps = { created: [], dropped: [] };
  for (const b of batchOps(ops)) {
    const op = b.ops[0];
    let answer: { createdCollectionAutomatically?: boolean } | undefined;
    let already = false;
    try {
      answer = (await db.command(b.command)) as typeof answer;
    } catch (e) {
      const code = (e as { code?: number } | undefined)?.code;
      if (code === undefined || !ALREADY_DONE[op.op]?.includes(code)) {
        const hint =
          code === 85 || code === 86
            ? "; an index with the same name or the same keys but other options is in the way: name the entry after the existing index, or drop that index first"
            : "";
        if (op.op === "createIndex") result.created.push(...(await builtAnyway(db, b)));
        throw opsFailed(`${batchTitle(b)} failed: ${describeError(e)}${hint}`, result, e);
      }
      // A run that stopped half way (or someone else) already did it.
      log(`${batchTitle(b)}: already done on the server (code ${code})`);
      already = true;
    }
    if (b.createsCollection && answer?.createdCollectionAutomatically !== false) {
      log(`created collection ${op.collection}`);
    }
    for (const o of b.ops) {
      if (!already) log(describeOp(o));
      if (o.op === "createIndex") result.created.push({ collection: o.collection, name: o.spec.name });
      if (o.op === "dropIndex") result.dropped.push({ collection: o.collection, name: o.spec.name });
    }
  }
  return result;
}

/** The indexes of a failed `createIndexes` that the server has nonetheless (none if it cannot say). */
async function builtAnyway(db: CommandDb, b: MongoBatch): Promise<OwnedIndex[]> {
  const collection = b.ops[0].collection;
  try {
    const answer = (await db.command({ listIndexes: collection })) as {
      cursor?: { firstBatch?: { name: string }[] };
    };
    const have = new Set((answer?.cursor?.firstBatch ?? []).map((i) => i.name));
    return b.ops
      .map((o) => (o as CreateIndex).spec.name)
      .filter((name) => have.has(name))
      .map((name) => ({ collection, name }));
  } catch {
    return [];
  }
}

/** Indexes a run created and dropped, so that ownership stays exact. */
export interface AppliedOps {
  created: OwnedIndex[];
  dropped: OwnedIndex[];
}

/**
 * {@link applyOps} stopped at a command; `done` is what the commands before it did, `cause` the
 * server's error (whether it may be retried). A plain Error with fields: a class extending Error loses
 * its message in Pulumi's closure serialization.
 */
export type OpsFailed = Error & { done: AppliedOps };

function opsFailed(message: string, done: AppliedOps, cause: unknown): OpsFailed {
  return Object.assign(new Error(message), { done, cause });
}

/**
 * Ownership after a run that stopped part way: what was owned, less what it dropped, plus what it
 * created. Owned indexes that left config but were not dropped yet stay owned, so the next run
 * still drops them.
 */
export function partialOwned(owned: OwnedIndex[], done: AppliedOps): OwnedIndex[] {
  const same = (a: OwnedIndex) => (b: OwnedIndex) => a.collection === b.collection && a.name === b.name;
  const kept = owned.filter((o) => !done.dropped.some(same(o)));
  return [...kept, ...done.created.filter((c) => !kept.some(same(c)))].sort(
    (a, b) => a.collection.localeCompare(b.collection) || a.name.localeCompare(b.name),
  );
}
