/**
 * The MongoDB collections initialiser's check, through its serialized form as Pulumi's dynamic-provider
 * host runs it: an index change MongoDB cannot make in place is refused before anything connects (moved
 * from test/integration/mongodb-collections.test.ts; the host is a loopback port nothing answers on).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CollectionSpec, MongoCollectionsInputs, MongoCollectionsProvider } from "../../init/mongodb";
import { viaSerialization } from "../support/dynamic";

function inputs(collections: CollectionSpec[]): MongoCollectionsInputs {
  return {
    hosts: ["127.0.0.1:9"],
    username: "admin",
    password: "unused",
    authSource: "admin",
    database: "aipd_logic",
    collections,
    dropRemovedCollections: false,
    timeoutSeconds: 30,
  };
}

describe("MongoDB collections initialiser: check refuses before connecting", () => {
  it("refuses new keys under an index's name, naming the way out (a new name, then remove the old)", async () => {
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
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
    const check = await provider.check!(inputs([before]), inputs([changed]));
    assert.equal(check.failures!.length, 1);
    assert.match(
      check.failures![0].reason,
      /index "events.by_time" would change its keys from \{ts: 1\} to \{ts: 1, kind: 1\}\. .*give the entry a new name .*"by_time_v2".*then remove the old entry/,
    );
    // The way out passes check: the new keys under a new name beside the old index.
    const renamed = {
      name: "events",
      indexes: [before.indexes[0], { ...changed.indexes[0], name: "by_time_v2" }],
    };
    assert.deepEqual((await provider.check!(inputs([before]), inputs([renamed]))).failures, []);
  });
});
