/**
 * MongoDB collections initialiser without a server: the pure plan (the exact commands it would send),
 * the executor against a fake `Db` that records commands, `check` refusals, `diff` exactness and the
 * serialized provider. The TTL commands (createIndexes with expireAfterSeconds, collMod) are proved
 * here because the test server, FerretDB, answers "not implemented" to both (see
 * test/integration/mongodb.test.ts).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  applyOps,
  batchOps,
  canonicalKeys,
  collectionsFromConfig,
  CollectionSpec,
  commandFor,
  comparableCollections,
  defaultIndexName,
  IndexKey,
  MongoCollectionsInputs,
  MongoCollectionsOutputs,
  MongoCollectionsProvider,
  MongoOp,
  nextOwned,
  partialOwned,
  observedCollections,
  observedIndex,
  planCollections,
  planIndexes,
  refusedIndexChanges,
  ResolvedIndex,
  specFailures,
} from "../../init/mongodb";
import { UNKNOWN } from "../../init/shared/unknown";
import { viaSerialization } from "../support/dynamic";
import { closedPort } from "../support/servers";
import { systemLogs as logs } from "../support/mongo-fixtures";

const cache: CollectionSpec = {
  name: "task_status_cache",
  indexes: [
    { keys: [["task_id", 1]], unique: true },
    { name: "last_updated_ttl", keys: [["last_updated", -1]], expireAfterSeconds: 86400 },
  ],
};

const base: MongoCollectionsInputs = {
  hosts: ["mongodb-0.mongodb-headless.data.svc.cluster.local:27017"],
  replicaSet: "rs0",
  username: "root",
  password: "pw-unit",
  authSource: "admin",
  database: "ai_platform",
  collections: [logs, cache],
  dropRemovedCollections: false,
  timeoutSeconds: 60,
};

const idIndex: ResolvedIndex = { name: "_id_", keys: [["_id", 1]] };
/** The server state after a fresh run of `cols`. */
function serverOf(cols: CollectionSpec[]): Map<string, ResolvedIndex[]> {
  return new Map(
    cols.map((c) => [
      c.name,
      [
        idIndex,
        ...c.indexes.map((ix) => {
          const r: ResolvedIndex = { name: ix.name ?? defaultIndexName(ix.keys), keys: ix.keys };
          if (ix.unique) r.unique = true;
          if (ix.expireAfterSeconds !== undefined) r.expireAfterSeconds = ix.expireAfterSeconds;
          return r;
        }),
      ],
    ]),
  );
}

/** A `Db` that records every command and answers from a script. */
function fakeDb(answer: (cmd: Record<string, unknown>) => unknown = () => ({ ok: 1 })) {
  const sent: Record<string, unknown>[] = [];
  return {
    sent,
    async command(cmd: Record<string, unknown>) {
      sent.push(cmd);
      const r = answer(cmd);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

function serverError(code: number, codeName: string, message: string): Error {
  return Object.assign(new Error(message), { name: "MongoServerError", code, codeName });
}

describe("MongoDB collections initialiser (no server)", () => {
  it("names indexes as MongoDB does when config leaves the name out", () => {
    assert.equal(
      defaultIndexName([
        ["status", 1],
        ["last_updated", -1],
      ]),
      "status_1_last_updated_-1",
    );
    assert.equal(defaultIndexName([["body", "text"]]), "body_text");
    assert.equal(defaultIndexName([["a.b", 1]]), "a.b_1");
  });

  it("turns config's key objects into ordered pairs, and refuses integer field names it cannot order", () => {
    const specs = collectionsFromConfig([
      {
        name: "task_status_cache",
        indexes: [
          { keys: { status: 1, last_updated: 1 } },
          { name: "ttl", keys: { last_updated: -1 }, expireAfterSeconds: 86400 },
        ],
      },
      { name: "empty" },
    ]);
    assert.deepEqual(specs, [
      {
        name: "task_status_cache",
        indexes: [
          {
            keys: [
              ["status", 1],
              ["last_updated", 1],
            ],
          },
          { name: "ttl", keys: [["last_updated", -1]], expireAfterSeconds: 86400 },
        ],
      },
      { name: "empty", indexes: [] },
    ]);
    assert.throws(
      () => collectionsFromConfig([{ name: "c", indexes: [{ keys: { b: 1, "2": 1 } }] }]),
      /collections\[0\].indexes\[0\]: field names that are integers .* lose their order/,
    );
  });

  it("the seed config (Pulumi.dev.yaml, §3.4) is valid and plans the 24 h TTL index", () => {
    const stack = parse(fs.readFileSync(path.join(__dirname, "../../Pulumi.dev.yaml"), "utf8"));
    const specs = collectionsFromConfig(stack.config["ai-platform-data:mongodb"].collections);
    assert.deepEqual(
      specs.map((c) => c.name),
      ["system_logs", "configurations", "task_status_cache"],
    );
    assert.deepEqual(specFailures(specs), []);
    const plan = planIndexes(specs, new Map(), []);
    const ttl = plan.ops.find((o) => o.op === "createIndex" && o.spec.name === "last_updated_ttl");
    assert.deepEqual(commandFor(ttl!), {
      createIndexes: "task_status_cache",
      indexes: [{ name: "last_updated_ttl", key: { last_updated: -1 }, expireAfterSeconds: 86400 }],
    });
    assert.equal(plan.ops.length, 9);
  });

  it("refuses declarations MongoDB would refuse or ignore", () => {
    const reasons = (cols: CollectionSpec[]) => specFailures(cols).map((f) => `${f.property}: ${f.reason}`);
    assert.deepEqual(reasons([logs, cache]), []);
    assert.match(reasons([logs, logs])[0], /collections\[1\].name: collection "system_logs" appears twice/);
    assert.match(
      reasons([{ name: "c", indexes: [{ keys: [["a", 1]] }, { name: "a_1", keys: [["b", 1]] }] }])[0],
      /index "c.a_1" appears twice .*an unnamed index is named after its keys/,
    );
    assert.match(
      reasons([{ name: "c", indexes: [{ keys: [["a", 1]] }, { name: "x", keys: [["a", 1]] }] }])[0],
      /same keys \{a: 1\} as index "a_1": MongoDB keeps one index per key pattern/,
    );
    assert.match(
      reasons([{ name: "c", indexes: [{ name: "_id_", keys: [["_id", 1]] }] }])[0],
      /MongoDB's own/,
    );
    const compoundTtl = reasons([
      {
        name: "c",
        indexes: [
          {
            keys: [
              ["a", 1],
              ["b", 1],
            ],
            expireAfterSeconds: 60,
          },
        ],
      },
    ]);
    assert.match(
      compoundTtl[0],
      /expireAfterSeconds: .*exactly one \(date\) field.*ignores expireAfterSeconds/,
    );
    assert.match(
      reasons([{ name: "c", indexes: [{ keys: [["t", 1]], expireAfterSeconds: 2147483648 }] }])[0],
      /integer from 0 to 2147483647/,
    );
    assert.match(
      reasons([{ name: "c", indexes: [{ keys: [["_id", 1]], expireAfterSeconds: 5 }] }])[0],
      /TTL on _id/,
    );
    assert.match(
      reasons([{ name: "c", indexes: [{ keys: [["a", 2 as 1]] }] }])[0],
      /must be 1, -1 or "text": \{a: 2\}/,
    );
    assert.match(reasons([{ name: "c", indexes: [{ keys: [] }] }])[0], /has no keys/);
  });

  it("check refuses key, unique and TTL-removal changes with the way out, and allows a TTL change", () => {
    const c = (indexes: CollectionSpec["indexes"]): CollectionSpec[] => [{ name: "c", indexes }];
    const keys = refusedIndexChanges(
      c([{ name: "ix", keys: [["a", 1]] }]),
      c([
        {
          name: "ix",
          keys: [
            ["a", 1],
            ["b", 1],
          ],
        },
      ]),
    );
    assert.equal(keys[0].property, "collections[0].indexes[0]");
    assert.match(
      keys[0].reason,
      /index "c.ix" would change its keys from \{a: 1\} to \{a: 1, b: 1\}\. MongoDB cannot change an index in place .*give the entry a new name \(ai-platform-data:mongodb.collections\[0\].indexes\[0\].name, e.g. "ix_v2"\) so a new index is built beside the old one, then remove the old entry/,
    );
    // An unnamed index whose direction changes gets another default name: a new index, not a change.
    assert.deepEqual(refusedIndexChanges(c([{ keys: [["a", 1]] }]), c([{ keys: [["a", -1]] }])), []);
    const unique = refusedIndexChanges(c([{ keys: [["a", 1]] }]), c([{ keys: [["a", 1]], unique: true }]));
    assert.equal(unique[0].property, "collections[0].indexes[0].unique");
    assert.match(
      unique[0].reason,
      /would change unique from false to true\. MongoDB keeps one index per key pattern/,
    );
    const ttlGone = refusedIndexChanges(
      c([{ keys: [["t", 1]], expireAfterSeconds: 60 }]),
      c([{ keys: [["t", 1]] }]),
    );
    assert.match(
      ttlGone[0].reason,
      /would lose its TTL \(expireAfterSeconds 60\): collMod can change a TTL but not remove it/,
    );
    assert.deepEqual(
      refusedIndexChanges(
        c([{ keys: [["t", 1]], expireAfterSeconds: 60 }]),
        c([{ keys: [["t", 1]], expireAfterSeconds: 120 }]),
      ),
      [],
    );
    assert.deepEqual(
      refusedIndexChanges(c([{ keys: [["t", 1]] }]), c([{ keys: [["t", 1]], expireAfterSeconds: 120 }])),
      [],
      "adding a TTL to a single-field index is a collMod (MongoDB >= 5.1)",
    );
  });

  it("plans a fresh database: collections, then indexes with their options", () => {
    const cols = planCollections([logs, cache], new Set(), [], false);
    assert.deepEqual(cols.create.map(commandFor), [
      { create: "system_logs" },
      { create: "task_status_cache" },
    ]);
    const plan = planIndexes([logs, cache], new Map(), []);
    assert.deepEqual(plan.refused, []);
    assert.deepEqual(plan.ops.map(commandFor), [
      { createIndexes: "system_logs", indexes: [{ name: "timestamp_1", key: { timestamp: 1 } }] },
      {
        createIndexes: "system_logs",
        indexes: [{ name: "level_1_timestamp_1", key: { level: 1, timestamp: 1 } }],
      },
      {
        createIndexes: "task_status_cache",
        indexes: [{ name: "task_id_1", key: { task_id: 1 }, unique: true }],
      },
      {
        createIndexes: "task_status_cache",
        indexes: [{ name: "last_updated_ttl", key: { last_updated: -1 }, expireAfterSeconds: 86400 }],
      },
    ]);
    // The compound key's order is the order sent.
    const compound = plan.ops[1] as Extract<MongoOp, { op: "createIndex" }>;
    assert.deepEqual(Object.keys(compound.spec.key), ["level", "timestamp"]);
  });

  it("plans nothing when the server is as declared", () => {
    const plan = planIndexes([logs, cache], serverOf([logs, cache]), []);
    assert.deepEqual(plan, {
      ops: [],
      refused: [],
      kept: [],
      adopted: [
        "index system_logs.timestamp_1 was already on the server: not recorded as created by this resource, so it is kept if it leaves config",
        "index system_logs.level_1_timestamp_1 was already on the server: not recorded as created by this resource, so it is kept if it leaves config",
        "index task_status_cache.task_id_1 was already on the server: not recorded as created by this resource, so it is kept if it leaves config",
        "index task_status_cache.last_updated_ttl was already on the server: not recorded as created by this resource, so it is kept if it leaves config",
      ],
    });
    const owned = [
      { collection: "system_logs", name: "timestamp_1" },
      { collection: "system_logs", name: "level_1_timestamp_1" },
      { collection: "task_status_cache", name: "task_id_1" },
      { collection: "task_status_cache", name: "last_updated_ttl" },
    ];
    assert.deepEqual(planIndexes([logs, cache], serverOf([logs, cache]), owned).adopted, []);
    assert.deepEqual(
      planCollections([logs, cache], new Set(["system_logs", "task_status_cache"]), [], false),
      {
        create: [],
        drop: [],
        kept: [],
      },
    );
  });

  it("applies a changed TTL with collMod, never by drop and create", () => {
    const changed: CollectionSpec = {
      ...cache,
      indexes: [cache.indexes[0], { ...cache.indexes[1], expireAfterSeconds: 3600 }],
    };
    const plan = planIndexes([changed], serverOf([cache]), []);
    assert.deepEqual(plan.refused, []);
    assert.deepEqual(plan.ops, [
      {
        op: "collMod",
        collection: "task_status_cache",
        spec: { name: "last_updated_ttl", expireAfterSeconds: 3600 },
        was: 86400,
      },
    ]);
    assert.deepEqual(commandFor(plan.ops[0]), {
      collMod: "task_status_cache",
      index: { name: "last_updated_ttl", expireAfterSeconds: 3600 },
    });
    // A single-field index that becomes a TTL index: collMod too.
    const plain: CollectionSpec = { name: "c", indexes: [{ keys: [["t", 1]] }] };
    const ttl = planIndexes(
      [{ name: "c", indexes: [{ keys: [["t", 1]], expireAfterSeconds: 30 }] }],
      serverOf([plain]),
      [],
    );
    assert.deepEqual(ttl.ops.map(commandFor), [
      { collMod: "c", index: { name: "t_1", expireAfterSeconds: 30 } },
    ]);
    // Removing a TTL cannot be done in place.
    const gone = planIndexes(
      [{ name: "c", indexes: [{ keys: [["t", 1]] }] }],
      serverOf([{ name: "c", indexes: [{ keys: [["t", 1]], expireAfterSeconds: 5 }] }]),
      [],
    );
    assert.match(
      gone.refused[0],
      /has a TTL of 5 s on the server and config has none: collMod cannot remove a TTL/,
    );
  });

  it("drops a removed index only if this resource created it, and never _id_", () => {
    const server = serverOf([logs]);
    const trimmed: CollectionSpec = { ...logs, indexes: [logs.indexes[0]] };
    const owned = [{ collection: "system_logs", name: "level_1_timestamp_1" }];
    const mine = planIndexes([trimmed], server, owned, [logs]);
    assert.deepEqual(mine.ops.map(commandFor), [
      { dropIndexes: "system_logs", index: "level_1_timestamp_1" },
    ]);
    assert.deepEqual(mine.kept, []);
    const theirs = planIndexes([trimmed], server, [], [logs]);
    assert.deepEqual(theirs.ops, []);
    assert.deepEqual(theirs.kept, [
      "kept index system_logs.level_1_timestamp_1 removed from config (this resource did not create it; drop it by hand if it should go)",
    ]);
    const idOwned = planIndexes([trimmed], server, [{ collection: "system_logs", name: "_id_" }]);
    assert.deepEqual(idOwned.ops, []);
    // Owned but already gone from the server: nothing to send.
    assert.deepEqual(planIndexes([trimmed], serverOf([trimmed]), owned).ops, []);
  });

  it("refuses what the server has in another shape, and rebuilds a renamed index it owns", () => {
    const server = serverOf([{ name: "c", indexes: [{ name: "ix", keys: [["a", 1]] }] }]);
    const keys = planIndexes([{ name: "c", indexes: [{ name: "ix", keys: [["b", 1]] }] }], server, []);
    assert.match(
      keys.refused[0],
      /index "c.ix" has keys \{a: 1\} on the server, config asks for \{b: 1\}\. .*new name/,
    );
    const unique = planIndexes(
      [{ name: "c", indexes: [{ name: "ix", keys: [["a", 1]], unique: true }] }],
      server,
      [],
    );
    assert.match(unique.refused[0], /has unique false on the server, config asks for true/);
    // Same keys under another name: MongoDB would answer IndexOptionsConflict (85).
    const twin = planIndexes([{ name: "c", indexes: [{ name: "iy", keys: [["a", 1]] }] }], server, []);
    assert.match(twin.refused[0], /already has index "ix" on the same keys \{a: 1\}.*name the entry "ix"/);
    assert.deepEqual(twin.ops, []);
    // ... unless "ix" is this resource's and leaves config in the same run: dropped first, then built.
    const renamed = planIndexes([{ name: "c", indexes: [{ name: "iy", keys: [["a", 1]] }] }], server, [
      { collection: "c", name: "ix" },
    ]);
    assert.deepEqual(renamed.refused, []);
    assert.deepEqual(renamed.ops.map(commandFor), [
      { dropIndexes: "c", index: "ix" },
      { createIndexes: "c", indexes: [{ name: "iy", key: { a: 1 } }] },
    ]);
  });

  it("reads text indexes the way the server stores them", () => {
    const raw = {
      v: 2,
      name: "title_text_body_text",
      key: { _fts: "text", _ftsx: 1 },
      weights: { title: 1, body: 1 },
      default_language: "english",
    };
    const observed = observedIndex(raw);
    assert.deepEqual(observed.keys, [
      ["body", "text"],
      ["title", "text"],
    ]);
    const declared: CollectionSpec = {
      name: "docs",
      indexes: [
        {
          keys: [
            ["title", "text"],
            ["body", "text"],
          ],
        },
      ],
    };
    assert.equal(canonicalKeys(observed.keys), canonicalKeys(declared.indexes[0].keys));
    assert.deepEqual(planIndexes([declared], new Map([["docs", [idIndex, observed]]]), []).ops, []);
    // read reports it in config's order, so refresh shows no drift.
    const seen = observedCollections([declared], new Map([["docs", [idIndex, observed]]]), []);
    assert.equal(comparableCollections(seen), comparableCollections([declared]));
    assert.deepEqual(observedIndex({ name: "t_1", key: { t: -1 }, expireAfterSeconds: 60, unique: true }), {
      name: "t_1",
      keys: [["t", -1]],
      unique: true,
      expireAfterSeconds: 60,
    });
  });

  it("keeps removed collections unless dropRemovedCollections is set", () => {
    const kept = planCollections([logs], new Set(["system_logs", "old"]), ["old", "never_made"], false);
    assert.deepEqual(kept.drop, []);
    assert.deepEqual(kept.kept, [
      "kept collection old removed from config, with its documents and indexes (mongodb.dropRemovedCollections is false)",
    ]);
    const dropped = planCollections([logs], new Set(["system_logs", "old"]), ["old", "never_made"], true);
    assert.deepEqual(dropped.drop.map(commandFor), [{ drop: "old" }]);
  });

  it("executor: one createIndexes per collection (where a new collection is created, which it creates too); one log line per operation", async () => {
    const db = fakeDb((cmd) =>
      "createIndexes" in cmd ? { ok: 1, createdCollectionAutomatically: true } : { ok: 1 },
    );
    const lines: string[] = [];
    const ttl = { name: "last_updated_ttl", key: { last_updated: -1 as const }, expireAfterSeconds: 86400 };
    const ops: MongoOp[] = [
      { op: "createCollection", collection: "task_status_cache" },
      { op: "createCollection", collection: "configurations" },
      { op: "dropIndex", collection: "system_logs", spec: { name: "level_1_timestamp_1" } },
      { op: "createIndex", collection: "task_status_cache", spec: ttl },
      {
        op: "collMod",
        collection: "system_logs",
        spec: { name: "ts_ttl", expireAfterSeconds: 3600 },
        was: 86400,
      },
      {
        op: "createIndex",
        collection: "task_status_cache",
        spec: { name: "task_id_1", key: { task_id: 1 }, unique: true },
      },
      { op: "createIndex", collection: "system_logs", spec: { name: "level_1", key: { level: 1 } } },
    ];
    const done = await applyOps(db, ops, (l) => lines.push(l));
    assert.deepEqual(
      batchOps(ops).map((b) => b.command),
      db.sent,
      "batchOps says what applyOps sends",
    );
    assert.deepEqual(db.sent, [
      {
        createIndexes: "task_status_cache",
        indexes: [ttl, { name: "task_id_1", key: { task_id: 1 }, unique: true }],
      },
      { create: "configurations" },
      { dropIndexes: "system_logs", index: "level_1_timestamp_1" },
      { collMod: "system_logs", index: { name: "ts_ttl", expireAfterSeconds: 3600 } },
      { createIndexes: "system_logs", indexes: [{ name: "level_1", key: { level: 1 } }] },
    ]);
    assert.deepEqual(lines, [
      "created collection task_status_cache",
      "created index task_status_cache.last_updated_ttl on {last_updated: -1} (TTL 86400 s)",
      "created index task_status_cache.task_id_1 on {task_id: 1} (unique)",
      "created collection configurations",
      "dropped index system_logs.level_1_timestamp_1 (removed from config; this resource created it)",
      "changed TTL of index system_logs.ts_ttl from 86400 s to 3600 s (collMod)",
      "created index system_logs.level_1 on {level: 1}",
    ]);
    assert.deepEqual(done, {
      created: [
        { collection: "task_status_cache", name: "last_updated_ttl" },
        { collection: "task_status_cache", name: "task_id_1" },
        { collection: "system_logs", name: "level_1" },
      ],
      dropped: [{ collection: "system_logs", name: "level_1_timestamp_1" }],
    });
  });

  it("executor: the number of commands grows with the collections, not with their indexes", async () => {
    const collections = Array.from({ length: 40 }, (_, i) => ({
      name: `c${i}`,
      indexes: [
        { keys: [["a", 1]] as IndexKey[] },
        { keys: [["b", -1]] as IndexKey[], unique: true },
        { keys: [["t", 1]] as IndexKey[], expireAfterSeconds: 60 },
      ],
    }));
    const cols = planCollections(collections, new Set(), [], false);
    const idx = planIndexes(collections, new Map(), []);
    const db = fakeDb();
    const done = await applyOps(db, [...cols.create, ...idx.ops], () => undefined);
    assert.equal(db.sent.length, 40);
    assert.ok(db.sent.every((c) => "createIndexes" in c && (c.indexes as unknown[]).length === 3));
    assert.equal(done.created.length, 120);
  });

  it("executor: takes 'already exists / already gone' as done, stops at the first real error and names it", async () => {
    const db = fakeDb((cmd) => {
      if ("create" in cmd) return serverError(48, "NamespaceExists", "Collection x already exists.");
      if ("dropIndexes" in cmd) return serverError(27, "IndexNotFound", "index not found with name [ix]");
      if ("createIndexes" in cmd)
        return serverError(
          85,
          "IndexOptionsConflict",
          "An existing index has the same name as the requested index but different options",
        );
      if ("listIndexes" in cmd) return { cursor: { firstBatch: [{ name: "_id_" }] } };
      return { ok: 1 };
    });
    const lines: string[] = [];
    await assert.rejects(
      applyOps(
        db,
        [
          { op: "createCollection", collection: "y" },
          { op: "dropIndex", collection: "x", spec: { name: "ix" } },
          { op: "createIndex", collection: "x", spec: { name: "t_1", key: { t: 1 }, expireAfterSeconds: 5 } },
          { op: "createCollection", collection: "never_sent" },
        ],
        (l) => lines.push(l),
      ),
      /creating index x.t_1 failed: An existing index has the same name .* \(85\); .*name the entry after the existing index, or drop that index first/,
    );
    assert.deepEqual(lines, [
      "creating collection y: already done on the server (code 48)",
      "dropping index x.ix: already done on the server (code 27)",
    ]);
    assert.deepEqual(
      db.sent.map((c) => Object.keys(c)[0]),
      ["create", "dropIndexes", "createIndexes", "listIndexes"],
      "nothing is sent after a failure but the read-back of the failed batch",
    );
  });

  it("keeps ownedIndexes exact: still declared plus created, sorted, once each", () => {
    const owned = [
      { collection: "system_logs", name: "timestamp_1" },
      { collection: "system_logs", name: "gone_1" },
      { collection: "removed_collection", name: "a_1" },
    ];
    assert.deepEqual(
      nextOwned(
        owned,
        [
          { collection: "system_logs", name: "timestamp_1" },
          { collection: "a", name: "b" },
        ],
        [logs, { name: "a", indexes: [{ name: "b", keys: [["b", 1]] }] }],
      ),
      [
        { collection: "a", name: "b" },
        { collection: "system_logs", name: "timestamp_1" },
      ],
    );
  });

  it("a run that stopped part way keeps owning what it had not dropped yet, and what it created", () => {
    const owned = [
      { collection: "c", name: "gone_1" },
      { collection: "c", name: "leaving_1" },
      { collection: "c", name: "kept_1" },
    ];
    // The run dropped gone_1 and created new_1, then failed before dropping leaving_1 (out of config).
    assert.deepEqual(
      partialOwned(owned, {
        created: [
          { collection: "c", name: "new_1" },
          { collection: "c", name: "kept_1" },
        ],
        dropped: [{ collection: "c", name: "gone_1" }],
      }),
      [
        { collection: "c", name: "kept_1" },
        { collection: "c", name: "leaving_1" },
        { collection: "c", name: "new_1" },
      ],
    );
  });

  it("applyOps stops at the failing command and says what the commands before it did", async () => {
    const sent: string[] = [];
    const db = {
      async command(cmd: Record<string, unknown>) {
        sent.push(Object.keys(cmd)[0]);
        if ("createIndexes" in cmd && cmd.createIndexes === "d") {
          throw Object.assign(new Error("boom"), { name: "MongoServerError", code: 2 });
        }
        // The server built one index of the failed batch before it failed.
        if ("listIndexes" in cmd) return { cursor: { firstBatch: [{ name: "_id_" }, { name: "e_1" }] } };
        return { ok: 1 };
      },
    };
    const ops: MongoOp[] = [
      { op: "dropIndex", collection: "c", spec: { name: "old_1" } },
      { op: "createIndex", collection: "c", spec: { name: "a_1", key: { a: 1 } } },
      { op: "createIndex", collection: "c", spec: { name: "b_1", key: { b: 1 } } },
      { op: "createIndex", collection: "d", spec: { name: "e_1", key: { e: 1 } } },
      { op: "createIndex", collection: "d", spec: { name: "f_1", key: { f: 1 } } },
      { op: "dropIndex", collection: "d", spec: { name: "never" } },
    ];
    await assert.rejects(
      applyOps(db, ops, () => undefined),
      (e: Error & { done?: unknown; cause?: { code?: number } }) => {
        assert.match(e.message, /^creating indexes d\.e_1, d\.f_1 failed: boom/);
        assert.deepEqual(e.done, {
          created: [
            { collection: "c", name: "a_1" },
            { collection: "c", name: "b_1" },
            { collection: "d", name: "e_1" },
          ],
          dropped: [{ collection: "c", name: "old_1" }],
        });
        assert.equal(e.cause?.code, 2, "the server's error stays reachable, for the retry to judge");
        return true;
      },
    );
    assert.deepEqual(sent, ["dropIndexes", "createIndexes", "createIndexes", "listIndexes"]);
  });

  it("read reports only declared and owned indexes that exist, so a dropped index shows as drift", () => {
    const server = serverOf([logs]);
    server.get("system_logs")!.push({ name: "someone_elses", keys: [["x", 1]] });
    const seen = observedCollections([logs, cache], server, []);
    assert.equal(comparableCollections(seen), comparableCollections([logs]));
    server.set(
      "system_logs",
      server.get("system_logs")!.filter((i) => i.name !== "timestamp_1"),
    );
    const drifted = observedCollections([logs], server, []);
    assert.notEqual(comparableCollections(drifted), comparableCollections([logs]));
  });

  it("diffs exactly: object key order, collection order and default names are no change; key order is", async () => {
    const p = new MongoCollectionsProvider();
    const olds: MongoCollectionsOutputs = {
      ...base,
      ownedIndexes: [{ collection: "a", name: "b" }],
      log: ["x"],
    };
    const same = (news: MongoCollectionsInputs) => p.diff("id", olds, news).then((d) => d.changes);
    assert.equal(await same({ ...base, collections: [cache, logs] }), false);
    assert.equal(
      await same({
        timeoutSeconds: 60,
        dropRemovedCollections: false,
        collections: [
          { indexes: cache.indexes.map((i) => ({ ...i })), name: cache.name },
          {
            name: "system_logs",
            indexes: [{ name: "timestamp_1", keys: [["timestamp", 1]] }, { keys: logs.indexes[1].keys }],
          },
        ],
        database: "ai_platform",
        authSource: "admin",
        password: "pw-unit",
        username: "root",
        replicaSet: "rs0",
        hosts: base.hosts,
      }),
      false,
    );
    assert.equal(
      await same({
        ...base,
        collections: [
          {
            ...logs,
            indexes: [
              logs.indexes[0],
              {
                keys: [
                  ["timestamp", 1],
                  ["level", 1],
                ],
              },
            ],
          },
          cache,
        ],
      }),
      true,
    );
    assert.equal(
      await same({
        ...base,
        collections: [
          logs,
          { ...cache, indexes: [cache.indexes[0], { ...cache.indexes[1], expireAfterSeconds: 60 }] },
        ],
      }),
      true,
    );
    assert.equal(await same({ ...base, dropRemovedCollections: true }), true);
    assert.equal(await same({ ...base, password: "rotated" }), true);
    assert.equal(await same({ ...base, __provider: "other" } as MongoCollectionsInputs), false);
  });

  it("check returns the refusals with their property, and validates the new config", async () => {
    const p = new MongoCollectionsProvider();
    const news = {
      ...base,
      collections: [logs, { ...cache, indexes: [{ keys: cache.indexes[0].keys }, cache.indexes[1]] }],
    };
    const r = await p.check(base, news);
    assert.equal(r.failures!.length, 1);
    assert.equal(r.failures![0].property, "collections[1].indexes[0].unique");
    assert.deepEqual((await p.check({}, base)).failures, []);
    const bad = await p.check({}, { ...base, hosts: [], collections: [logs, logs] });
    assert.deepEqual(
      bad.failures!.map((f) => f.property),
      ["collections[1].name", "hosts"],
    );
  });

  it("survives Pulumi's closure serialization without capturing the driver", async () => {
    const { provider, text } = await viaSerialization(new MongoCollectionsProvider());
    assert.equal(typeof provider.create, "function");
    assert.ok(!/node_modules\/mongodb\//.test(text), "the mongodb driver was captured into the provider");
    assert.match(text, /require\("mongodb"\)/, "the driver is required inside the methods");
    assert.equal((await provider.diff!("id", { ...base, ownedIndexes: [], log: [] }, base)).changes, false);
    const checked = await provider.check!(base, {
      ...base,
      collections: [{ ...logs, indexes: [{ name: "timestamp_1", keys: [["ts", 1]] }] }],
    });
    assert.match(checked.failures![0].reason, /would change its keys from \{timestamp: 1\} to \{ts: 1\}/);
  });

  it("delete drops no collection, even with dropRemovedCollections: it also runs on destroy and on a rename", async () => {
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
    // A server nobody listens on: a delete that tried to drop collections would fail after its deadline.
    const port = await closedPort();
    const outs = {
      ...base,
      hosts: [`127.0.0.1:${port}`],
      dropRemovedCollections: true,
      timeoutSeconds: 2,
      ownedIndexes: [],
      log: [],
    };
    await provider.delete!("id", outs);
  });

  it("check and diff accept what a preview does not know yet", async () => {
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
    const preview = {
      ...base,
      hosts: UNKNOWN,
      password: UNKNOWN,
      collections: UNKNOWN,
      appPassword: UNKNOWN,
    };
    assert.deepEqual((await provider.check!(base, preview as never)).failures, []);
    const olds = { ...base, ownedIndexes: [], log: [] };
    assert.equal((await provider.diff!("id", olds, preview as never)).changes, true);
  });
});
