/**
 * MongoDB collections initialiser without a server, part 1 of 4: what config may declare (index names, key
 * order, the seed config, refusals of what MongoDB would refuse or ignore) and the changes `check` refuses.
 * The plan is in init-mongodb-plan, the executor in init-mongodb-executor, the provider in
 * init-mongodb-provider.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  collectionsFromConfig,
  CollectionSpec,
  commandFor,
  defaultIndexName,
  planIndexes,
  refusedIndexChanges,
  specFailures,
} from "../../init/mongodb";
import { cache, logs } from "../support/unit-mongo-collections";

describe("MongoDB collections initialiser (no server): declarations", () => {
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
});
