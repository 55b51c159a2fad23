/**
 * MongoDB collections initialiser against the FerretDB 1.24 of scripts/services.sh (MongoDB wire
 * protocol, SCRAM-SHA-256), driven only through its serialized form as Pulumi's dynamic-provider host
 * runs it: one resource's life cycle (create, re-run, change, drift, removal, delete) and the index
 * changes MongoDB cannot make in place.
 *
 * MongoDB behaviours FerretDB cannot check, proved instead by test/unit/init-mongodb.test.ts on the
 * exact commands sent (the test "what FerretDB cannot check" below asserts FerretDB's answers, so it
 * fails and tells us when a later FerretDB supports them):
 *  - TTL index creation: `createIndexes` with `expireAfterSeconds` (FerretDB: NotImplemented, 238);
 *  - a TTL change with `collMod` {collMod, index: {name, expireAfterSeconds}} (FerretDB: NotImplemented);
 *  - IndexOptionsConflict (85): MongoDB refuses `createIndexes` for an existing name and keys with other
 *    options (unique, expireAfterSeconds); FerretDB answers ok, "all indexes already exist". The provider
 *    never relies on it (it compares `listIndexes` first), the unit tests cover its message.
 * The integration tests therefore declare no TTL index except where the refusal itself is the point.
 */
import * as assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CollectionSpec, MongoCollectionsOutputs } from "../../init/mongodb";
import {
  collectionsInputs,
  collectionsProvider,
  configurations,
  scenarioDatabases,
  serverState,
  systemLogs,
  taskCache,
  withDb,
} from "../support/mongo-fixtures";
import { requireServer, Services } from "../support/servers";

const { dbName, cleanup } = scenarioDatabases();
after(cleanup);

/**
 * Write commands FerretDB has received, from its Prometheus counters (its debug endpoint). A
 * server-side observation of "no writes".
 */
async function writeCommands(svc: Services["mongodb"]): Promise<number> {
  const res = await fetch(`http://${svc.host}:${svc.metricsPort}/debug/metrics`);
  assert.equal(res.status, 200, "FerretDB's metrics endpoint answers");
  const writes =
    /command="(create|createIndexes|collMod|drop|dropIndexes|dropDatabase|insert|update|delete|findAndModify)"/;
  let n = 0;
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("ferretdb_client_requests_total{") && writes.test(line))
      n += Number(line.split(" ").pop());
  }
  return n;
}

describe("MongoDB collections initialiser (real FerretDB, MongoDB wire protocol)", () => {
  it("creates, re-runs without writes, applies a change, shows and repairs drift, keeps data", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await collectionsProvider();
    const db = dbName("main");
    const created = await p.create!(collectionsInputs(svc, db, [systemLogs, configurations, taskCache]));
    let outs = created.outs as MongoCollectionsOutputs;
    // One createIndexes per collection, which creates the new collection too.
    assert.deepEqual(outs.log, [
      "created collection system_logs",
      "created index system_logs.timestamp_1 on {timestamp: 1}",
      "created index system_logs.level_1_timestamp_1 on {level: 1, timestamp: 1}",
      "created collection configurations",
      "created collection task_status_cache",
      "created index task_status_cache.task_id_1 on {task_id: 1} (unique)",
      "created index task_status_cache.status_1_last_updated_-1 on {status: 1, last_updated: -1}",
    ]);
    assert.deepEqual(await serverState(svc, db), {
      configurations: [],
      system_logs: ['level_1_timestamp_1: {"level":1,"timestamp":1}', 'timestamp_1: {"timestamp":1}'],
      task_status_cache: [
        'status_1_last_updated_-1: {"status":1,"last_updated":-1}',
        'task_id_1: {"task_id":1} unique',
      ],
    });
    assert.equal(outs.ownedIndexes.length, 4);
    assert.ok(!JSON.stringify({ ...outs, password: undefined }).includes(svc.password));
    await withDb(svc, db, (d) => d.collection("system_logs").insertOne({ level: "info", msg: "kept" }));

    // Same config: diff says nothing, and a re-run sends no write command to the server.
    const same = collectionsInputs(svc, db, [taskCache, configurations, systemLogs]);
    assert.equal((await p.diff!(created.id, outs, same)).changes, false);
    const writesBefore = await writeCommands(svc);
    const rerun = await p.update!(created.id, outs, same);
    assert.deepEqual((rerun.outs as MongoCollectionsOutputs).log, []);
    assert.equal(await writeCommands(svc), writesBefore, "a re-run with no change wrote to the server");

    // A new index applies in place.
    const withService: CollectionSpec = {
      ...systemLogs,
      indexes: [
        ...systemLogs.indexes,
        {
          keys: [
            ["service", 1],
            ["timestamp", 1],
          ],
        },
      ],
    };
    const desired = collectionsInputs(svc, db, [withService, configurations, taskCache]);
    assert.equal((await p.diff!(created.id, outs, desired)).changes, true);
    outs = (await p.update!(created.id, outs, desired)).outs as MongoCollectionsOutputs;
    assert.ok((await writeCommands(svc)) > writesBefore, "the write counter sees a real write");
    assert.deepEqual(outs.log, [
      "created index system_logs.service_1_timestamp_1 on {service: 1, timestamp: 1}",
    ]);
    assert.ok(
      (await serverState(svc, db)).system_logs.includes('service_1_timestamp_1: {"service":1,"timestamp":1}'),
    );

    // Someone drops an index: refresh (read) shows it, diff sees a change, the update rebuilds it.
    await withDb(svc, db, (d) => d.collection("system_logs").dropIndex("level_1_timestamp_1"));
    const read = await p.read!(created.id, outs);
    const readOuts = read.props as MongoCollectionsOutputs;
    assert.deepEqual(
      readOuts.collections.find((c) => c.name === "system_logs")!.indexes.map((i) => i.name),
      ["timestamp_1", "service_1_timestamp_1"],
    );
    assert.equal((await p.diff!(created.id, readOuts, desired)).changes, true);
    const repaired = (await p.update!(created.id, readOuts, desired)).outs as MongoCollectionsOutputs;
    assert.deepEqual(repaired.log, [
      "created index system_logs.level_1_timestamp_1 on {level: 1, timestamp: 1}",
    ]);
    // With nothing drifted, refresh then diff is quiet.
    const quiet = (await p.read!(created.id, repaired)).props as MongoCollectionsOutputs;
    assert.equal((await p.diff!(created.id, quiet, desired)).changes, false);
    outs = repaired;

    // An index made by someone else, then declared, then removed from config: kept.
    await withDb(svc, db, (d) =>
      d.collection("configurations").createIndex({ component: 1 }, { name: "by_app" }),
    );
    const adopted = collectionsInputs(svc, db, [
      withService,
      { name: "configurations", indexes: [{ name: "by_app", keys: [["component", 1]] }] },
      taskCache,
    ]);
    outs = (await p.update!(created.id, outs, adopted)).outs as MongoCollectionsOutputs;
    assert.deepEqual(outs.log, []);
    assert.ok(!outs.ownedIndexes.some((o) => o.name === "by_app"));

    // Removed from config: an index this resource created is dropped, the other one kept; a removed
    // collection is kept with its documents.
    const trimmed = collectionsInputs(svc, db, [systemLogs, { name: "configurations", indexes: [] }]);
    outs = (await p.update!(created.id, outs, trimmed)).outs as MongoCollectionsOutputs;
    assert.deepEqual(outs.log, [
      "dropped index system_logs.service_1_timestamp_1 (removed from config; this resource created it)",
      "kept collection task_status_cache removed from config, with its documents and indexes (mongodb.dropRemovedCollections is false)",
      "kept index configurations.by_app removed from config (this resource did not create it; drop it by hand if it should go)",
    ]);
    const state = await serverState(svc, db);
    assert.deepEqual(state.system_logs, [
      'level_1_timestamp_1: {"level":1,"timestamp":1}',
      'timestamp_1: {"timestamp":1}',
    ]);
    assert.deepEqual(state.configurations, ['by_app: {"component":1}']);
    assert.equal(state.task_status_cache.length, 2);
    assert.deepEqual(outs.ownedIndexes, [
      { collection: "system_logs", name: "level_1_timestamp_1" },
      { collection: "system_logs", name: "timestamp_1" },
    ]);

    // delete keeps every collection and document.
    await p.delete!(created.id, outs);
    assert.deepEqual(Object.keys(await serverState(svc, db)), [
      "configurations",
      "system_logs",
      "task_status_cache",
    ]);
    assert.equal(await withDb(svc, db, (d) => d.collection("system_logs").countDocuments()), 1);

    // Opted in, delete still keeps them: it also runs on destroy and on a rename (issue 8 item 3).
    const optedIn = { ...outs, dropRemovedCollections: true };
    await p.delete!(created.id, optedIn);
    assert.deepEqual(Object.keys(await serverState(svc, db)), [
      "configurations",
      "system_logs",
      "task_status_cache",
    ]);
    // Opted in, an update that removes a collection from config drops that collection alone.
    const dropped = await p.update!(
      created.id,
      optedIn,
      collectionsInputs(svc, db, [systemLogs], { dropRemovedCollections: true }),
    );
    assert.deepEqual((dropped.outs as MongoCollectionsOutputs).log, [
      "dropped collection configurations with its documents (mongodb.dropRemovedCollections is true)",
    ]);
    assert.deepEqual(Object.keys(await serverState(svc, db)), ["system_logs", "task_status_cache"]);
  });

  it("refuses an index change MongoDB cannot make in place, against the server", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await collectionsProvider();
    const db = dbName("refuse");
    const before: CollectionSpec = { name: "events", indexes: [{ name: "by_time", keys: [["ts", 1]] }] };
    const changed: CollectionSpec = {
      name: "events",
      indexes: [
        {
          name: "by_time",
          keys: [
            ["ts", 1],
            ["kind", 1],
          ],
        },
      ],
    };
    // check refuses it before connecting (test/unit/mongodb-logic.test.ts); the server's side:
    // the same refusal when the server itself has the other shape (another stack, a hand-made index).
    await p.create!(collectionsInputs(svc, db, [before]));
    await assert.rejects(p.create!(collectionsInputs(svc, db, [changed])), (e: Error) => {
      assert.match(
        e.message,
        /refusing to change indexes in database aipd_it_\w+: index "events.by_time" has keys \{ts: 1\} on the server/,
      );
      assert.ok(!e.message.includes(svc.password));
      return true;
    });
    // A unique change on the same keys, against the server.
    await assert.rejects(
      p.create!(
        collectionsInputs(svc, db, [
          { name: "events", indexes: [{ name: "by_time", keys: [["ts", 1]], unique: true }] },
        ]),
      ),
      /has unique false on the server, config asks for true/,
    );
    assert.deepEqual(await serverState(svc, db), { events: ['by_time: {"ts":1}'] });

    // The way out the message gives: a new name builds a new index beside the old one...
    const renamed: CollectionSpec = {
      name: "events",
      indexes: [before.indexes[0], { ...changed.indexes[0], name: "by_time_v2" }],
    };
    const first = await p.create!(collectionsInputs(svc, db, [before]));
    const step1 = await p.update!(
      first.id,
      first.outs as MongoCollectionsOutputs,
      collectionsInputs(svc, db, [renamed]),
    );
    assert.deepEqual((step1.outs as MongoCollectionsOutputs).log, [
      "created index events.by_time_v2 on {ts: 1, kind: 1}",
    ]);
    // ...then removing the old entry drops the old index only if this resource created it (here it
    // was there before this resource met the database, so it stays).
    const step2 = await p.update!(
      first.id,
      step1.outs as MongoCollectionsOutputs,
      collectionsInputs(svc, db, [{ name: "events", indexes: [renamed.indexes[1]] }]),
    );
    assert.match(
      (step2.outs as MongoCollectionsOutputs).log[0],
      /kept index events.by_time removed from config/,
    );
  });

  it("what FerretDB cannot check: TTL index creation, collMod, IndexOptionsConflict (85)", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const db = dbName("ferret");
    await withDb(svc, db, async (d) => {
      await d.createCollection("c");
      await d.command({ createIndexes: "c", indexes: [{ name: "t_1", key: { t: 1 } }] });
      // The exact commands the provider sends (see the unit tests), as FerretDB answers them.
      await assert.rejects(
        d.command({ createIndexes: "c", indexes: [{ name: "u_1", key: { u: 1 }, expireAfterSeconds: 60 }] }),
        (e: { code: number; message: string }) =>
          e.code === 238 && /expireAfterSeconds.*not implemented/.test(e.message),
        "FerretDB now accepts TTL indexes: move the TTL integration checks here from the unit tests",
      );
      await assert.rejects(
        d.command({ collMod: "c", index: { name: "t_1", expireAfterSeconds: 60 } }),
        (e: { code: number; message: string }) =>
          e.code === 238 && /collMod.*not implemented/.test(e.message),
        "FerretDB now implements collMod: check TTL changes against it",
      );
      // MongoDB: 85 IndexOptionsConflict. FerretDB: ok, "all indexes already exist".
      const r = await d.command({
        createIndexes: "c",
        indexes: [{ name: "t_1", key: { t: 1 }, unique: true }],
      });
      assert.equal(
        r.note,
        "all indexes already exist",
        "FerretDB now checks index options: assert code 85 here",
      );
      // Same keys under another name: FerretDB does answer 85, as MongoDB does.
      await assert.rejects(d.command({ createIndexes: "c", indexes: [{ name: "other", key: { t: 1 } }] }), {
        code: 85,
      });
    });

    // Through the provider, the refusal is an error that names the step.
    const p = await collectionsProvider();
    await assert.rejects(
      p.create!(
        collectionsInputs(svc, db, [
          {
            name: "c",
            indexes: [
              { name: "t_1", keys: [["t", 1]] },
              { name: "ttl", keys: [["u", 1]], expireAfterSeconds: 60 },
            ],
          },
        ]),
      ),
      /creating index c.ttl failed: Index option "expireAfterSeconds" is not implemented yet \(238\)/,
    );
  });
});
