/**
 * MongoDB collections initialiser against the FerretDB 1.24 of scripts/services.sh (MongoDB wire
 * protocol, SCRAM-SHA-256), driven only through its serialized form as Pulumi's dynamic-provider host
 * runs it; then the backup round trip with the CronJob's own script (components/backup/mongodb.sh) and
 * the README's restore procedure, with mongodump/mongorestore 100.10.0 built by scripts/mongo-tools.sh.
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
 * The backup round trip cannot check `--oplog`/`--oplogReplay` (FerretDB is no replica set: the script
 * runs with MONGODB_REPLICA_SET empty) nor index restore (mongorestore sends each index with an `ns`
 * option and `ignoreUnknownIndexOptions: true`; FerretDB ignores the latter and refuses the former), so
 * documents are restored with --noIndexRestore and the initialiser rebuilds the declared indexes.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { CollectionSpec, MongoCollectionsOutputs, MongoCollectionsProvider } from "../../init/mongodb";
import { viaSerialization } from "../support/dynamic";
import { collectionsInputs, dropDatabases, systemLogs, withDb } from "../support/mongo-fixtures";
import { closedPort, lateProxy, requireServer, Services } from "../support/servers";

const run = randomBytes(3).toString("hex");
/** Databases made by these tests, dropped at the end. */
const databases = new Set<string>();

function dbName(tag: string): string {
  const name = `aipd_it_${run}_${tag}`;
  databases.add(name);
  return name;
}

/** Collection → its indexes (`_id_` left out) as `name: {keys} [unique]`, straight from the server. */
async function serverState(svc: Services["mongodb"], database: string): Promise<Record<string, string[]>> {
  return withDb(svc, database, async (db) => {
    const out: Record<string, string[]> = {};
    const cols: { name: string }[] = await db.listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of cols.sort((a, b) => a.name.localeCompare(b.name))) {
      const idx: { name: string; key: Record<string, number>; unique?: boolean }[] = await db
        .collection(name)
        .listIndexes()
        .toArray();
      out[name] = idx
        .filter((i) => i.name !== "_id_")
        .map((i) => `${i.name}: ${JSON.stringify(i.key)}${i.unique ? " unique" : ""}`)
        .sort();
    }
    return out;
  });
}

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

async function provider() {
  return (await viaSerialization(new MongoCollectionsProvider())).provider;
}

const taskCache: CollectionSpec = {
  name: "task_status_cache",
  indexes: [
    { keys: [["task_id", 1]], unique: true },
    {
      // Order matters: {status, last_updated}, not the alphabetical {last_updated, status}.
      keys: [
        ["status", 1],
        ["last_updated", -1],
      ],
    },
  ],
};
const configurations: CollectionSpec = { name: "configurations", indexes: [] };

after(async () => {
  const file = `${process.env.AIPD_RUN ?? "/tmp/ai-platform-data/services"}/services.json`;
  if (!fs.existsSync(file)) return;
  await dropDatabases((JSON.parse(fs.readFileSync(file, "utf8")) as Services).mongodb, databases);
});

describe("MongoDB collections initialiser (real FerretDB, MongoDB wire protocol)", () => {
  it("creates, re-runs without writes, applies a change, shows and repairs drift, keeps data", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await provider();
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

  it("refuses an index change MongoDB cannot make in place, in check and against the server", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await provider();
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
    const check = await p.check!(collectionsInputs(svc, db, [before]), collectionsInputs(svc, db, [changed]));
    assert.equal(check.failures!.length, 1);
    assert.match(
      check.failures![0].reason,
      /index "events.by_time" would change its keys from \{ts: 1\} to \{ts: 1, kind: 1\}\. .*give the entry a new name .*"by_time_v2".*then remove the old entry/,
    );

    // The same refusal when the server itself has the other shape (another stack, a hand-made index).
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
    const p = await provider();
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

  it("waits for a server that starts late", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    // Serialized before the proxy's clock starts: on a busy machine that alone can outlast its delay.
    const p = await provider();
    const proxy = await lateProxy({ host: svc.host, port: svc.port }, 3000);
    try {
      const db = dbName("late");
      const res = await p.create!({
        ...collectionsInputs(svc, db, [systemLogs]),
        hosts: [`127.0.0.1:${proxy.port}`],
      });
      assert.ok(proxy.accepted() > 0, "the server that started late was never reached");
      assert.equal((res.outs as MongoCollectionsOutputs).log.length, 3);
      assert.deepEqual(Object.keys(await serverState(svc, db)), ["system_logs"]);
    } finally {
      proxy.close();
    }
  });

  it("fails clearly when the server stays down past the deadline", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const port = await closedPort();
    const p = await provider();
    const started = Date.now();
    await assert.rejects(
      p.create!({
        ...collectionsInputs(svc, "unused", [systemLogs], { timeoutSeconds: 3 }),
        hosts: [`127.0.0.1:${port}`],
      }),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(
            `MongoDB at 127.0.0.1:${port} as ${svc.username} \\(authSource admin\\) not reachable after \\d+ attempts?`,
          ),
        );
        assert.match(e.message, /deadline 3 s, set by initTimeoutSeconds\); last error: .*ECONNREFUSED/);
        assert.ok(!e.message.includes(svc.password));
        return true;
      },
    );
    assert.ok(Date.now() - started < 8000, "the deadline was not kept");
  });

  it("fails at once on wrong credentials, without the password in the message", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const p = await provider();
    const started = Date.now();
    await assert.rejects(
      p.create!(collectionsInputs(svc, dbName("auth"), [systemLogs], { password: wrong })),
      (e: Error) => {
        assert.match(e.message, /MongoDB at .* as admin \(authSource admin\): Authentication failed/);
        assert.ok(!e.message.includes(wrong), "the wrong password leaked into the error");
        assert.ok(!(e.stack ?? "").includes(wrong));
        return true;
      },
    );
    assert.ok(
      Date.now() - started < 5000,
      "an authentication failure must not be retried until the deadline",
    );
  });

  it("converges after a run that stopped half way", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await provider();

    // (a) Part of the state made directly, as a run killed after a few commands would leave it.
    const a = dbName("half_a");
    await withDb(svc, a, async (d) => {
      await d.createCollection("system_logs");
      await d.collection("system_logs").createIndex({ timestamp: 1 }, { name: "timestamp_1" });
    });
    const resA = await p.create!(collectionsInputs(svc, a, [systemLogs, taskCache]));
    assert.deepEqual((resA.outs as MongoCollectionsOutputs).log, [
      "index system_logs.timestamp_1 was already on the server: not recorded as created by this resource, so it is kept if it leaves config",
      "created collection task_status_cache",
      "created index task_status_cache.task_id_1 on {task_id: 1} (unique)",
      "created index task_status_cache.status_1_last_updated_-1 on {status: 1, last_updated: -1}",
      "created index system_logs.level_1_timestamp_1 on {level: 1, timestamp: 1}",
    ]);

    // (b) A run that fails on a bad item half way (FerretDB refuses the TTL index, and with it the
    // whole createIndexes of its collection, as MongoDB does for a bad spec), then the fixed config.
    const b = dbName("half_b");
    const bad: CollectionSpec = {
      name: "task_status_cache",
      indexes: [...taskCache.indexes, { name: "ttl", keys: [["expires", 1]], expireAfterSeconds: 60 }],
    };
    await assert.rejects(
      p.create!(collectionsInputs(svc, b, [systemLogs, bad])),
      /creating indexes task_status_cache\.task_id_1, .*task_status_cache\.ttl failed/,
    );
    const partial = await serverState(svc, b);
    assert.equal(partial.system_logs.length, 2, "the commands before the failure were applied");
    const resB = await p.create!(collectionsInputs(svc, b, [systemLogs, taskCache]));
    assert.deepEqual(
      (resB.outs as MongoCollectionsOutputs).log.filter((l) => l.startsWith("created")),
      [
        "created collection task_status_cache",
        "created index task_status_cache.task_id_1 on {task_id: 1} (unique)",
        "created index task_status_cache.status_1_last_updated_-1 on {status: 1, last_updated: -1}",
      ],
      "only what the failed run had not done",
    );
    assert.deepEqual(await serverState(svc, b), await serverState(svc, a));
    const again = await p.update!(
      resB.id,
      resB.outs as MongoCollectionsOutputs,
      collectionsInputs(svc, b, [systemLogs, taskCache]),
    );
    assert.deepEqual((again.outs as MongoCollectionsOutputs).log, []);
  });

  it("a run that fails part way records the indexes it created, and the next run still owns them", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await provider();
    const db = dbName("partial");
    const first = await p.create!(collectionsInputs(svc, db, [systemLogs]));
    const firstOuts = first.outs as MongoCollectionsOutputs;

    // task_id_1 is created (its collection's createIndexes), then FerretDB refuses the next
    // collection's TTL index (MongoDB would fail on another bad item).
    const cache: CollectionSpec = {
      name: "task_status_cache",
      indexes: [{ name: "task_id_1", keys: [["task_id", 1]] }],
    };
    const expiring: CollectionSpec = {
      name: "expiring",
      indexes: [{ name: "ttl", keys: [["expires", 1]], expireAfterSeconds: 60 }],
    };
    let failure: { id?: string; reasons?: string[]; properties?: MongoCollectionsOutputs } = {};
    await assert.rejects(
      p.update!(first.id, firstOuts, collectionsInputs(svc, db, [systemLogs, cache, expiring])),
      (e: Error) => {
        failure = e as typeof failure;
        return true;
      },
    );
    // What the dynamic-provider host turns into ErrorResourceInitFailed: id, outputs, reasons.
    assert.equal(failure.id, first.id);
    assert.match(
      failure.reasons?.[0] ?? "",
      new RegExp(`^MongoDB at .*, database ${db}: creating index expiring\\.ttl failed`),
    );
    const reached = failure.properties!;
    assert.deepEqual(
      reached.ownedIndexes.map((o) => `${o.collection}.${o.name}`),
      [
        ...firstOuts.ownedIndexes.map((o) => `${o.collection}.${o.name}`),
        "task_status_cache.task_id_1",
      ].sort(),
    );
    assert.deepEqual(reached.collections, firstOuts.collections, "collections stay those last converged");
    assert.ok(!JSON.stringify(failure.reasons).includes(svc.password));

    // The TTL entry and the index created by the failed run both leave config: the index is dropped,
    // because the recorded state says this resource created it.
    const next = await p.update!(
      first.id,
      reached,
      collectionsInputs(svc, db, [systemLogs, { ...cache, indexes: [] }]),
    );
    assert.deepEqual((next.outs as MongoCollectionsOutputs).log, [
      "dropped index task_status_cache.task_id_1 (removed from config; this resource created it)",
    ]);
    assert.deepEqual((await serverState(svc, db)).task_status_cache, []);
    assert.deepEqual((next.outs as MongoCollectionsOutputs).ownedIndexes, firstOuts.ownedIndexes);
  });

  it("a run that fails before changing anything reports a plain error (the last state stands)", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await provider();
    const db = dbName("nothing_done");
    const first = await p.create!(collectionsInputs(svc, db, [systemLogs]));
    const ttlOnly: CollectionSpec = {
      name: "system_logs",
      indexes: [...systemLogs.indexes!, { name: "ttl", keys: [["expires", 1]], expireAfterSeconds: 60 }],
    };
    await assert.rejects(
      p.update!(first.id, first.outs as MongoCollectionsOutputs, collectionsInputs(svc, db, [ttlOnly])),
      (e: Error & { id?: string }) => {
        assert.equal(e.id, undefined);
        assert.match(e.message, /creating index system_logs\.ttl failed/);
        return true;
      },
    );
  });
});

/** The bin directory of mongodump/mongorestore, built once by scripts/mongo-tools.sh (cached). */
function mongoTools(t: TestContext): string | undefined {
  const script = path.join(__dirname, "../../scripts/mongo-tools.sh");
  const r = spawnSync("bash", [script], { encoding: "utf8" });
  if (r.status === 0) return r.stdout.trim().split("\n").pop();
  const reason = `scripts/mongo-tools.sh could not provide mongodump/mongorestore: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`;
  if (process.env.CI === "true") throw new Error(reason);
  t.skip(reason);
  return undefined;
}

describe("MongoDB backup round trip (components/backup/mongodb.sh, README restore)", () => {
  it("dumps with the CronJob's script, prunes old archives, restores into a fresh database", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const bin = mongoTools(t);
    if (!bin) return;
    const source = dbName("bak");
    const restored = dbName("bak_restored");
    const { ObjectId } = require("mongodb");
    const docs = [
      {
        _id: new ObjectId(),
        level: "info",
        service: "api",
        timestamp: new Date("2024-05-01T10:00:00Z"),
        n: 1,
      },
      {
        _id: new ObjectId(),
        level: "error",
        service: "worker",
        timestamp: new Date("2024-05-01T10:00:01Z"),
        n: 2.5,
        tags: ["a", "b"],
        ctx: { retry: true, detail: null },
      },
    ];
    await withDb(svc, source, (d) => d.collection("system_logs").insertMany(docs));
    await withDb(svc, source, (d) =>
      d.collection("configurations").insertOne({ component: "api", is_active: true }),
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-mongo-backup-"));
    try {
      const old = path.join(dir, "mongodb-20000101T000000Z.archive.gz");
      fs.writeFileSync(old, "old");
      const monthAgo = new Date(Date.now() - 30 * 86400_000);
      fs.utimesSync(old, monthAgo, monthAgo);
      // The environment the CronJob gets (components/mongodb.ts), with this server's values.
      const env = {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        MONGODB_HOSTS: `${svc.host}:${svc.port}`,
        MONGODB_REPLICA_SET: "",
        MONGODB_AUTH_DB: svc.authSource,
        MONGODB_USER: svc.username,
        MONGODB_PASSWORD: svc.password,
        BACKUP_DIR: dir,
        RETENTION_DAYS: "7",
      };
      const script = path.join(__dirname, "../../components/backup/mongodb.sh");
      const dump = spawnSync("sh", [script], { env, encoding: "utf8" });
      assert.equal(dump.status, 0, dump.stderr);
      assert.match(
        dump.stdout,
        /backup written: .*mongodb-\d{8}T\d{6}Z\.archive\.gz \(\d+ bytes, standalone, no oplog\)/,
      );
      assert.match(dump.stderr, new RegExp(`done dumping ${source}.system_logs \\(2 documents\\)`));
      assert.ok(!`${dump.stdout}${dump.stderr}`.includes(svc.password));
      const files = fs.readdirSync(dir);
      const archives = files.filter((f) => /^mongodb-\d{8}T\d{6}Z\.archive\.gz$/.test(f));
      assert.equal(archives.length, 1, files.join(", "));
      assert.ok(!fs.existsSync(old), "the old archive was pruned");
      assert.ok(!files.some((f) => f.endsWith(".partial")));
      const archive = path.join(dir, archives[0]);
      assert.equal(fs.statSync(archive).mode & 0o777, 0o600, "the archive is readable by its owner only");

      // README restore: mongorestore --gzip --archive, one database into a fresh one (--nsFrom/--nsTo),
      // the password from a --config file. --noIndexRestore: FerretDB refuses mongorestore's index
      // documents (checked below); the initialiser rebuilds the declared indexes.
      const cfg = path.join(dir, "restore.yaml");
      fs.writeFileSync(cfg, `password: '${svc.password.replace(/'/g, "''")}'\n`, { mode: 0o600 });
      const restoreArgs = [
        `--config=${cfg}`,
        `--uri=mongodb://${encodeURIComponent(svc.username)}@${svc.host}:${svc.port}/?authSource=${svc.authSource}`,
        "--gzip",
        `--archive=${archive}`,
        `--nsInclude=${source}.*`,
        `--nsFrom=${source}.*`,
        `--nsTo=${restored}.*`,
      ];
      const restore = spawnSync(path.join(bin, "mongorestore"), [...restoreArgs, "--noIndexRestore"], {
        encoding: "utf8",
      });
      assert.equal(restore.status, 0, restore.stderr);
      assert.match(
        restore.stderr,
        /3 document\(s\) restored successfully\. 0 document\(s\) failed to restore/,
      );

      const back = await withDb(svc, restored, (d) =>
        d.collection("system_logs").find().sort({ n: 1 }).toArray(),
      );
      assert.deepEqual(back, docs);
      assert.deepEqual(
        await withDb(svc, restored, (d) =>
          d
            .collection("configurations")
            .find({}, { projection: { _id: 0 } })
            .toArray(),
        ),
        [{ component: "api", is_active: true }],
      );

      // The initialiser, pointed at the restored database, rebuilds the declared indexes.
      const p = await provider();
      const res = await p.create!(collectionsInputs(svc, restored, [systemLogs, configurations]));
      assert.deepEqual((res.outs as MongoCollectionsOutputs).log, [
        "created index system_logs.timestamp_1 on {timestamp: 1}",
        "created index system_logs.level_1_timestamp_1 on {level: 1, timestamp: 1}",
      ]);

      // What FerretDB cannot check: restoring indexes from the archive (MongoDB accepts mongorestore's
      // `ns` index option because it sends ignoreUnknownIndexOptions; FerretDB does not).
      const indexed = dbName("bak_indexes");
      await withDb(svc, source, (d) => d.collection("system_logs").createIndex({ level: 1 }));
      execFileSync("sh", [script], { env, encoding: "utf8", stdio: "pipe" });
      const newest = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".archive.gz"))
        .sort()
        .pop()!;
      const withIdx = spawnSync(
        path.join(bin, "mongorestore"),
        [
          ...restoreArgs.slice(0, 3),
          `--archive=${path.join(dir, newest)}`,
          `--nsInclude=${source}.*`,
          `--nsFrom=${source}.*`,
          `--nsTo=${indexed}.*`,
        ],
        { encoding: "utf8" },
      );
      assert.notEqual(withIdx.status, 0, "FerretDB now restores indexes: drop --noIndexRestore above");
      assert.match(withIdx.stderr, /Index option "ns" is unknown/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
