/**
 * MongoDB collections initialiser without a server, part 4 of 4: the provider as the engine drives it
 * (`read`, `diff` exactness, `check`, `delete`), also from its serialized form.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  comparableCollections,
  MongoCollectionsInputs,
  MongoCollectionsOutputs,
  MongoCollectionsProvider,
  observedCollections,
} from "../../init/mongodb";
import { UNKNOWN } from "../../init/shared/unknown";
import { serializedOnce } from "../support/unit-serialized";
import { closedPort } from "../support/servers";
import { base, cache, logs, serverOf } from "../support/unit-mongo-collections";

describe("MongoDB collections initialiser (no server): provider", () => {
  const serialized = serializedOnce(() => new MongoCollectionsProvider());

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
    const { provider, text } = await serialized();
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
    const { provider } = await serialized();
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
    const { provider } = await serialized();
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
