/**
 * MongoDB collections initialiser against the FerretDB 1.24 of scripts/services.sh, through its
 * serialized form, when things go wrong: a server that starts late or stays down, wrong credentials,
 * runs that stopped or failed half way and what the next run makes of them.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { CollectionSpec, MongoCollectionsOutputs } from "../../init/mongodb";
import {
  collectionsInputs,
  collectionsProvider,
  scenarioDatabases,
  serverState,
  systemLogs,
  taskCache,
  withDb,
} from "../support/mongo-fixtures";
import { closedPort, lateProxy, requireServer } from "../support/servers";
import { failsAtOnce } from "../support/stderr";

const { dbName, cleanup } = scenarioDatabases();
after(cleanup);

describe("MongoDB collections initialiser: late, down, refused and half-done runs (real FerretDB)", () => {
  it("waits for a server that starts late", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    // Serialized before the proxy's clock starts: on a busy machine that alone can outlast its delay.
    const p = await collectionsProvider();
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
    const p = await collectionsProvider();
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
        // The deadline kept, by the run's own account (the attempts stop at it: shared/retry.ts).
        assert.ok(Number(/ over (\d+) s/.exec(e.message)?.[1]) <= 3, e.message);
        return true;
      },
    );
  });

  it("fails at once on wrong credentials, without the password in the message", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const p = await collectionsProvider();
    // An authentication failure is not retried until the deadline.
    const e = await failsAtOnce(() =>
      p.create!(collectionsInputs(svc, dbName("auth"), [systemLogs], { password: wrong })),
    );
    assert.match(e.message, /MongoDB at .* as admin \(authSource admin\): Authentication failed/);
    assert.ok(!e.message.includes(wrong), "the wrong password leaked into the error");
    assert.ok(!(e.stack ?? "").includes(wrong));
  });

  it("converges after a run that stopped half way", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const p = await collectionsProvider();

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
    const p = await collectionsProvider();
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
    const p = await collectionsProvider();
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
