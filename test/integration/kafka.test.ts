/**
 * Kafka topics initialiser against the real KRaft broker (SASL SCRAM-SHA-512) of scripts/services.sh,
 * driven through its serialized form as Pulumi's dynamic-provider host runs it.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { KafkaTopicsOutputs, KafkaTopicsProvider } from "../../init/kafka";
import { viaSerialization } from "../support/dynamic";
import { topicsInputs } from "../support/kafka-fixtures";
import { closedPort, lateProxy, requireServer, Services, withKafkaAdmin } from "../support/servers";
import { until } from "../support/wait";
import { failsAtOnce } from "../support/stderr";

const { ConfigResourceTypes } = require("kafkajs");

const run = randomBytes(3).toString("hex");

const inputs = topicsInputs;

const withAdmin = withKafkaAdmin;

/** Removes the test's topics (the initialiser's delete keeps them). */
async function dropTopics(svc: Services["kafka"], names: string[]): Promise<void> {
  await withAdmin(svc, (admin) => admin.deleteTopics({ topics: names }));
}

async function topicState(svc: Services["kafka"], name: string) {
  return withAdmin(svc, async (admin) => {
    const meta = await admin.fetchTopicMetadata({ topics: [name] });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name }],
    });
    const dyn: Record<string, string> = {};
    for (const c of cfg.resources[0].configEntries)
      if (c.configSource === 1) dyn[c.configName] = c.configValue;
    return { partitions: meta.topics[0].partitions.length, configs: dyn };
  });
}

const topic = (
  suffix: string,
  partitions = 2,
  configs: Record<string, string> = { "retention.ms": "3600000" },
) => ({
  name: `it-${run}-${suffix}`,
  partitions,
  replicationFactor: 1,
  configs,
});

describe("Kafka topics initialiser (real broker)", () => {
  it("creates, is idempotent, grows partitions, converges configs, keeps removed topics", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    const a = topic("a");
    const b = topic("b", 1, { "cleanup.policy": "compact" });

    const created = await provider.create!(inputs(svc, [a, b]));
    const outs = created.outs as KafkaTopicsOutputs;
    assert.equal(outs.log.filter((l) => l.startsWith("created topic")).length, 2);
    assert.deepEqual(await topicState(svc, a.name), {
      partitions: 2,
      configs: { "retention.ms": "3600000" },
    });
    assert.deepEqual(await topicState(svc, b.name), {
      partitions: 1,
      configs: { "cleanup.policy": "compact" },
    });

    // Same config: diff says nothing, and a re-run writes nothing.
    const same = await provider.diff!(created.id, outs, inputs(svc, [b, a].reverse()));
    assert.equal(same.changes, false);
    const rerun = await provider.update!(created.id, outs, inputs(svc, [a, b]));
    assert.deepEqual((rerun.outs as KafkaTopicsOutputs).log, []);

    // More partitions and another retention: applied in place.
    const a2 = { ...a, partitions: 4, configs: { "retention.ms": "7200000", "min.insync.replicas": "1" } };
    const changed = await provider.diff!(created.id, outs, inputs(svc, [a2, b]));
    assert.equal(changed.changes, true);
    const upd = await provider.update!(created.id, outs, inputs(svc, [a2, b]));
    assert.ok((upd.outs as KafkaTopicsOutputs).log.includes(`grew topic ${a.name} to 4 partitions`));
    assert.deepEqual(await topicState(svc, a.name), {
      partitions: 4,
      configs: { "retention.ms": "7200000", "min.insync.replicas": "1" },
    });

    // Refresh sees drift made behind the program's back, and update repairs it.
    await withAdmin(svc, (admin) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: b.name,
            configEntries: [{ name: "cleanup.policy", value: "delete" }],
          },
        ],
      }),
    );
    const read = await provider.read!(created.id, upd.outs as KafkaTopicsOutputs);
    const readTopics = (read.props as KafkaTopicsOutputs).topics;
    assert.deepEqual(readTopics.find((x) => x.name === b.name)!.configs, { "cleanup.policy": "delete" });
    const drift = await provider.diff!(created.id, read.props as KafkaTopicsOutputs, inputs(svc, [a2, b]));
    assert.equal(drift.changes, true);
    await provider.update!(created.id, read.props as KafkaTopicsOutputs, inputs(svc, [a2, b]));
    assert.deepEqual((await topicState(svc, b.name)).configs, { "cleanup.policy": "compact" });

    // Removing a topic from config keeps it; delete keeps everything.
    const removed = await provider.update!(created.id, upd.outs as KafkaTopicsOutputs, inputs(svc, [a2]));
    assert.ok((removed.outs as KafkaTopicsOutputs).log.some((l) => l.includes(`kept topics ${b.name}`)));
    await provider.delete!(created.id, removed.outs as KafkaTopicsOutputs);
    const names: string[] = await withAdmin(svc, (admin) => admin.listTopics());
    assert.ok(names.includes(a.name) && names.includes(b.name));

    // Opted in, delete still keeps every topic: it also runs on destroy and on a rename (issue 8 item 3).
    const optedIn = { ...(upd.outs as KafkaTopicsOutputs), deleteRemovedTopics: true };
    await provider.delete!(created.id, optedIn);
    const kept: string[] = await withAdmin(svc, (admin) => admin.listTopics());
    assert.ok(kept.includes(a.name) && kept.includes(b.name), "delete dropped an opted-in topic");

    // Opted in, an update that removes a topic from config deletes that topic alone.
    const dropped = await provider.update!(
      created.id,
      optedIn,
      inputs(svc, [a2], { deleteRemovedTopics: true }),
    );
    assert.ok(
      (dropped.outs as KafkaTopicsOutputs).log.includes(
        `deleted topics ${b.name} (kafka.deleteRemovedTopics is true)`,
      ),
    );
    // A deleted topic leaves the brokers' metadata a moment after the delete returns.
    const after = await until(`topic ${b.name} gone from the topic list`, async () => {
      const names: string[] = await withAdmin(svc, (admin) => admin.listTopics());
      return names.includes(b.name) ? undefined : names;
    });
    assert.ok(after.includes(a.name));
    await dropTopics(svc, [a.name]);
  });

  // check's refusals need no broker: test/unit/init-kafka.test.ts.
  it("refuses fewer partitions than the cluster has (a new stack, say) and leaves the topic as it is", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    const c = topic("c", 3);
    await provider.create!(inputs(svc, [c]));
    await assert.rejects(
      provider.create!(inputs(svc, [{ ...c, partitions: 1 }])),
      /cannot remove partitions/,
    );
    assert.equal((await topicState(svc, c.name)).partitions, 3);
    await dropTopics(svc, [c.name]);
  });

  it("waits for a broker that starts late", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const [host, port] = svc.brokers[0].split(":");
    // Kafka hands out its advertised address after the first request, so the proxy only covers bootstrap.
    // Serialized before the proxy's clock starts: on a busy machine that alone can outlast its delay.
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    const proxy = await lateProxy({ host, port: Number(port) }, 3000);
    try {
      const e = topic("late");
      const res = await provider.create!(inputs({ ...svc, brokers: [`127.0.0.1:${proxy.port}`] }, [e]));
      assert.ok(proxy.accepted() > 0, "the broker that started late was never reached");
      assert.ok(
        (res.outs as KafkaTopicsOutputs).log.includes(
          `created topic ${e.name} (2 partitions, replication factor 1)`,
        ),
      );
      await dropTopics(svc, [e.name]);
    } finally {
      proxy.close();
    }
  });

  it("fails clearly when the broker stays down past the deadline", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const port = await closedPort();
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    await assert.rejects(
      provider.create!(
        inputs({ ...svc, brokers: [`127.0.0.1:${port}`] }, [topic("down")], { timeoutSeconds: 3 }),
      ),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`Kafka at 127.0.0.1:${port} .* not reachable after \\d+ attempts`),
        );
        assert.match(e.message, /deadline 3 s, set by initTimeoutSeconds/);
        assert.ok(!e.message.includes(svc.password));
        return true;
      },
    );
  });

  it("fails at once on wrong credentials, without the password in the error", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    // An authentication failure is not retried until the deadline.
    const e = await failsAtOnce(() => provider.create!(inputs({ ...svc, password: wrong }, [topic("auth")])));
    assert.match(e.message, /SASL|uthentication/);
    assert.ok(!e.message.includes(wrong), "the wrong password leaked into the error");
  });

  it("converges after a run that stopped half way", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const f = topic("f", 2);
    const g = topic("g", 2, { "retention.ms": "1000000" });
    // Half way: f exists with fewer partitions and no configs, g does not exist yet.
    await withAdmin(svc, (admin) =>
      admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: f.name, numPartitions: 1, replicationFactor: 1 }],
      }),
    );
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    await provider.create!(inputs(svc, [f, g]));
    assert.deepEqual(await topicState(svc, f.name), { partitions: 2, configs: f.configs });
    assert.deepEqual(await topicState(svc, g.name), { partitions: 2, configs: g.configs });
    await dropTopics(svc, [f.name, g.name]);
  });
});
