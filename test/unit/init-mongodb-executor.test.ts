/**
 * MongoDB collections initialiser without a server, part 3 of 4: the executor against a fake `Db` that
 * records commands, and the indexes a run owns afterwards, also when it stopped part way.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyOps,
  batchOps,
  IndexKey,
  MongoOp,
  nextOwned,
  partialOwned,
  planCollections,
  planIndexes,
} from "../../init/mongodb";
import { fakeDb, logs, serverError } from "../support/unit-mongo-collections";

describe("MongoDB collections initialiser (no server): executor", () => {
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
});
