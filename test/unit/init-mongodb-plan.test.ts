/**
 * MongoDB collections initialiser without a server, part 2 of 4: the pure plan, the exact commands it would
 * send for a server state. The TTL commands (createIndexes with expireAfterSeconds, collMod) are proved here
 * because the test server, FerretDB, answers "not implemented" to both (see
 * test/integration/mongodb.test.ts).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  canonicalKeys,
  CollectionSpec,
  commandFor,
  comparableCollections,
  MongoOp,
  observedCollections,
  observedIndex,
  planCollections,
  planIndexes,
} from "../../init/mongodb";
import { cache, idIndex, logs, serverOf } from "../support/unit-mongo-collections";

describe("MongoDB collections initialiser (no server): plan", () => {
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
});
