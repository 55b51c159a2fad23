import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  KafkaTopicsInputs,
  KafkaTopicsProvider,
  planTopics,
  refusedTopicChanges,
  TopicSpec,
} from "../../init/kafka";
import { UNKNOWN } from "../../init/shared/unknown";
import { serializedOnce } from "../support/unit-serialized";
import { closedPort } from "../support/servers";

const t = (
  name: string,
  partitions = 3,
  replicationFactor = 1,
  configs: Record<string, string> = {},
): TopicSpec => ({
  name,
  partitions,
  replicationFactor,
  configs,
});

const base: KafkaTopicsInputs = {
  brokers: ["kafka:9092"],
  mechanism: "scram-sha-512",
  username: "admin",
  password: "pw",
  topics: [t("a"), t("b")],
  deleteRemovedTopics: false,
  timeoutSeconds: 60,
};

/** The provider as the engine's host loads it, serialized once for the whole file. */
const serialized = serializedOnce(() => new KafkaTopicsProvider());

describe("Kafka topics initialiser (no server)", () => {
  it("refuses fewer partitions and another replication factor, naming the topic and the way out", () => {
    const f = refusedTopicChanges([t("a", 3)], [t("a", 2, 2)]);
    assert.equal(f.length, 2);
    assert.match(
      f[0].reason,
      /topic "a" has 3 partitions and Kafka cannot remove partitions; keep kafka.topics\[0\].partitions at 3/,
    );
    assert.match(f[1].reason, /kafka-reassign-partitions.sh/);
    assert.deepEqual(refusedTopicChanges([t("a", 3)], [t("a", 5), t("new", 1)]), []);
  });

  it("plans creation, growth and config changes from what the cluster has", () => {
    const actual = new Map([["a", t("a", 3, 1, { "retention.ms": "1" })]]);
    const plan = planTopics([t("a", 6, 1, { "retention.ms": "2" }), t("b")], actual);
    assert.deepEqual(
      plan.create.map((x) => x.name),
      ["b"],
    );
    assert.deepEqual(plan.grow, [{ name: "a", count: 6 }]);
    assert.deepEqual(
      plan.reconfigure.map((x) => x.name),
      ["a"],
    );
    assert.deepEqual(plan.refused, []);
    assert.equal(planTopics([t("a", 1)], actual).refused.length, 1);
    assert.deepEqual(planTopics([t("a", 3, 1, { "retention.ms": "1" })], actual), {
      create: [],
      grow: [],
      reconfigure: [],
      refused: [],
    });
  });

  it("diffs exactly: key order is no change, a config value is", async () => {
    const p = new KafkaTopicsProvider();
    const olds = { ...base, log: ["created topic a"] };
    const reordered = {
      ...base,
      topics: [{ configs: {}, replicationFactor: 1, partitions: 3, name: "a" }, t("b")],
    };
    assert.equal((await p.diff("id", olds, reordered)).changes, false);
    assert.equal(
      (await p.diff("id", olds, { ...base, topics: [t("a", 3, 1, { "retention.ms": "5" }), t("b")] }))
        .changes,
      true,
    );
    assert.equal((await p.diff("id", olds, { ...base, deleteRemovedTopics: true })).changes, true);
  });

  it("check of the serialized provider refuses fewer partitions and another replication factor", async () => {
    const { provider } = await serialized();
    const c = t("c", 3);
    const check = await provider.check!(
      { ...base, topics: [c] },
      { ...base, topics: [{ ...c, partitions: 2 }, t("d")] },
    );
    assert.equal(check.failures!.length, 1);
    assert.match(check.failures![0].reason, /has 3 partitions and Kafka cannot remove partitions/);
    const rf = await provider.check!(
      { ...base, topics: [c] },
      { ...base, topics: [{ ...c, replicationFactor: 2 }] },
    );
    assert.match(rf.failures![0].reason, /replication factor 1; this program does not reassign/);
  });

  it("check refuses a replication factor above the node count", async () => {
    const r = await new KafkaTopicsProvider().check({}, { ...base, nodes: 1, topics: [t("a", 3, 2)] });
    assert.match(r.failures![0].reason, /replication factor 2 on 1 Kafka node\(s\); use at most 1/);
    assert.deepEqual(
      (await new KafkaTopicsProvider().check({}, { ...base, nodes: 3, topics: [t("a", 3, 3)] })).failures,
      [],
    );
  });

  it("check refuses duplicate topics", async () => {
    const r = await new KafkaTopicsProvider().check({}, { ...base, topics: [t("a"), t("a")] });
    assert.match(r.failures![0].reason, /appears twice/);
  });

  it("survives Pulumi's closure serialization without capturing a client", async () => {
    const { provider, text } = await serialized();
    assert.equal(typeof provider.create, "function");
    assert.ok(!/kafkajs\/src/.test(text), "the kafkajs module was captured into the provider");
    assert.equal((await provider.diff!("id", { ...base, log: [] }, base)).changes, false);
  });
});

describe("Kafka topics initialiser: delete keeps data (issue 8 item 3)", () => {
  it("delete drops no topic, even with deleteRemovedTopics: it also runs on destroy and on a rename", async () => {
    const { provider } = await serialized();
    // A broker nobody listens on: a delete that tried to drop topics would fail after its deadline.
    const port = await closedPort();
    const outs = {
      ...base,
      brokers: [`127.0.0.1:${port}`],
      deleteRemovedTopics: true,
      timeoutSeconds: 2,
      log: [],
    };
    await provider.delete!("id", outs);
  });

  it("check defers what a preview does not know yet (topics, node count)", async () => {
    const { provider } = await serialized();
    const preview = { ...base, password: UNKNOWN, brokers: UNKNOWN, topics: UNKNOWN, nodes: UNKNOWN };
    assert.deepEqual((await provider.check!({}, preview as never)).failures, []);
    const unknownNodes = { ...base, topics: [t("a", 3, 3)], nodes: UNKNOWN as never };
    assert.deepEqual((await provider.check!({}, unknownNodes)).failures, []);
    // What is known is still checked.
    const dup = { ...base, password: UNKNOWN, topics: [t("a"), t("a")] };
    assert.match((await provider.check!({}, dup)).failures![0].reason, /appears twice/);
  });
});

describe("shared retry helper", () => {
  it("classifies errors correctly from its serialized form", async () => {
    const { isTransient } = await import("../../init/shared/retry");
    const pulumi = await import("@pulumi/pulumi");

    const requireFromString = require("require-from-string");
    const sf = await pulumi.runtime.serializeFunction(() => isTransient);
    const serialized = requireFromString(sf.text).handler() as typeof isTransient;
    assert.equal(serialized({ code: "ECONNREFUSED" }), true);
    assert.equal(serialized({ code: "28P01", message: "password authentication failed" }), false);
  });
});
