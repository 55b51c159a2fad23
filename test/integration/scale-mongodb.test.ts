/**
 * The MongoDB collections initialiser at scale, against the FerretDB of scripts/services.sh (MongoDB
 * wire protocol), through its serialized form: a few dozen collections with their indexes in one run,
 * three times over in fresh databases, then the no-op converge.
 *
 * The driver's `Db.prototype.command` is watched in this process (the provider requires the same
 * module), so the test sees every command the provider sends: one `createIndexes` per collection with
 * all of its indexes, no separate `create` for a collection that gets indexes, and no write at all
 * when nothing changed.
 *
 * What FerretDB cannot check, covered by test/unit/init-retry.test.ts and test/unit/init-mongodb.test.ts
 * on the exact errors and commands instead:
 *  - MongoDB's retryable answers: FerretDB is no replica set and never labels an error
 *    RetryableWriteError or TransientTransactionError, nor steps down (NotWritablePrimary, 10107);
 *  - a `createIndexes` that fails part way through building on a populated collection: FerretDB
 *    refuses a bad batch before building anything (MongoDB also validates every spec first);
 *  - TTL and text indexes in a batch: FerretDB answers NotImplemented (238) to `expireAfterSeconds`
 *    and cannot build a text index, so the indexes here are plain, compound and unique ones.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import type { dynamic } from "@pulumi/pulumi";
import {
  CollectionSpec,
  MongoCollectionsInputs,
  MongoCollectionsOutputs,
  MongoCollectionsProvider,
} from "../../init/mongodb";
import { viaSerialization } from "../support/dynamic";
import { collectionsInputs, dropDatabases, withDb } from "../support/mongo-fixtures";
import { requireServer, Services } from "../support/servers";

const { Db } = require("mongodb");

const COLLECTIONS = 36;
/** Of them, this many have no index: they are the only ones created with `create`. */
const BARE = 6;
const RUNS = 3;
const tag = randomBytes(3).toString("hex");
const databases: string[] = [];
let svcForCleanup: Services["mongodb"] | undefined;

/** The commands sent (first key and document) by any `Db` while `fn` runs. */
async function watchCommands<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; sent: Record<string, unknown>[] }> {
  const original = Db.prototype.command;
  const sent: Record<string, unknown>[] = [];
  Db.prototype.command = function (this: unknown, cmd: Record<string, unknown>, ...rest: unknown[]) {
    sent.push(cmd);
    return original.call(this, cmd, ...rest);
  };
  try {
    return { result: await fn(), sent };
  } finally {
    Db.prototype.command = original;
  }
}

const WRITES = ["create", "createIndexes", "collMod", "dropIndexes", "drop", "createUser", "updateUser"];
const kind = (cmd: Record<string, unknown>) => Object.keys(cmd)[0];

function inputs(
  svc: Services["mongodb"],
  database: string,
  collections: CollectionSpec[],
): MongoCollectionsInputs {
  return collectionsInputs(svc, database, collections, { timeoutSeconds: 120 });
}

/** Each collection's index names as the server lists them. */
async function serverIndexes(svc: Services["mongodb"], database: string): Promise<Map<string, string[]>> {
  return withDb(svc, database, async (db) => {
    const out = new Map<string, string[]>();
    for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) {
      const ix = await db.collection(c.name).listIndexes().toArray();
      out.set(c.name, ix.map((i: { name: string }) => i.name).sort());
    }
    return out;
  });
}

after(() => dropDatabases(svcForCleanup, databases));

describe(`MongoDB collections initialiser at scale (${RUNS} runs of ${COLLECTIONS} collections, FerretDB)`, () => {
  it("one createIndexes per collection with all its indexes, and a no-op converge writes nothing", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    svcForCleanup = svc;
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
    for (let run = 1; run <= RUNS; run++) {
      const database = `aipd_scale_${tag}_${run}`;
      databases.push(database);
      const collections: CollectionSpec[] = Array.from({ length: COLLECTIONS }, (_, i) => ({
        name: `c${i}`,
        indexes:
          i < BARE
            ? []
            : [
                {
                  keys: [
                    ["tenant", 1],
                    ["created", -1],
                  ],
                },
                { keys: [["key", 1]], unique: true },
                { name: `seq_${i}`, keys: [["seq", -1]] },
              ],
      }));

      const { result, sent } = await watchCommands((): Promise<dynamic.CreateResult> =>
        provider.create!(inputs(svc, database, collections)),
      );
      const writes = sent.filter((c) => WRITES.includes(kind(c)));
      const byCollection = new Map<string, Record<string, unknown>[]>();
      for (const c of writes) {
        const name = c[kind(c)] as string;
        byCollection.set(name, [...(byCollection.get(name) ?? []), c]);
      }
      for (const c of collections) {
        const cmds = byCollection.get(c.name) ?? [];
        if (c.indexes.length === 0) {
          assert.deepEqual(cmds, [{ create: c.name }], `run ${run}: ${c.name} without indexes`);
        } else {
          // A retried run (a retriable answer) may send a collection's batch again: never a split one.
          assert.ok(cmds.length >= 1, `run ${run}: nothing sent for ${c.name}`);
          for (const cmd of cmds) {
            assert.equal(kind(cmd), "createIndexes", `run ${run}: ${c.name} got ${kind(cmd)}`);
            assert.equal(
              (cmd.indexes as unknown[]).length,
              3,
              `run ${run}: ${c.name}'s indexes in one command`,
            );
          }
        }
      }
      const outs = result.outs as MongoCollectionsOutputs;
      assert.equal(outs.log.filter((l) => l.startsWith("created collection")).length, COLLECTIONS);
      assert.equal(outs.log.filter((l) => l.startsWith("created index")).length, (COLLECTIONS - BARE) * 3);
      assert.equal(outs.ownedIndexes.length, (COLLECTIONS - BARE) * 3);
      const onServer = await serverIndexes(svc, database);
      assert.equal(onServer.size, COLLECTIONS);
      for (let i = 0; i < COLLECTIONS; i++) {
        const want = i < BARE ? ["_id_"] : ["_id_", `seq_${i}`, "key_1", "tenant_1_created_-1"].sort();
        assert.deepEqual(onServer.get(`c${i}`), want, `c${i}`);
      }

      // The no-op converge: reads only.
      const again = await watchCommands((): Promise<dynamic.UpdateResult> =>
        provider.update!(result.id, outs, inputs(svc, database, collections)),
      );
      assert.deepEqual((again.result.outs as MongoCollectionsOutputs).log, []);
      assert.deepEqual(
        again.sent.filter((c) => WRITES.includes(kind(c))),
        [],
        "the no-op converge sent a write command",
      );
    }
  });
});
