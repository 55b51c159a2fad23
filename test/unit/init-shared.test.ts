import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import { MongoCollectionsProvider } from "../../init/mongodb";
import { removedNames } from "../../init/shared/diff";
import { endpointListFailures } from "../../init/shared/unknown";

describe("initialisers' shared helpers", () => {
  it("removedNames lists what the old inputs held and the new ones do not, in the old order", () => {
    const olds = [{ name: "events" }, { name: "audit" }, { name: "logs" }];
    assert.deepEqual(removedNames(olds, [{ name: "logs" }, { name: "new" }]), ["events", "audit"]);
    assert.deepEqual(removedNames(undefined, [{ name: "logs" }]), []);
    assert.deepEqual(removedNames(olds, olds), []);
  });

  it("a known empty server list fails check; an unknown one is left to the real run", async () => {
    assert.deepEqual(endpointListFailures("hosts", []), [
      { property: "hosts", reason: "at least one host:port is needed" },
    ]);
    assert.deepEqual(endpointListFailures("hosts", "db:27017"), [
      { property: "hosts", reason: "at least one host:port is needed" },
    ]);
    assert.deepEqual(endpointListFailures("hosts", ["db:27017"]), []);
    assert.deepEqual(endpointListFailures("hosts", pulumi.runtime.unknownValue), []);

    const mongo = await new MongoCollectionsProvider().check({}, {
      hosts: [],
      database: "app",
      collections: [],
    } as never);
    assert.deepEqual(
      mongo.failures?.filter((f) => f.property === "hosts"),
      [{ property: "hosts", reason: "at least one host:port is needed" }],
    );
    const kafka = await new KafkaScramUsersProvider().check({}, {
      brokers: [],
      username: "admin",
      users: [],
    } as never);
    assert.deepEqual(
      kafka.failures?.filter((f) => f.property === "brokers"),
      [{ property: "brokers", reason: "at least one host:port is needed" }],
    );
  });
});
