/**
 * The Kafka topics initialiser at scale, against the real KRaft broker of scripts/services.sh, through
 * its serialized form: hundreds of topics in one run, three times over with fresh topics (a run of
 * 200 used to fail in 2 of 3 tries with UNKNOWN_TOPIC_OR_PARTITION while the new topics' metadata
 * spread, issue 13), growing and reconfiguring all of them at once, and the no-op converge.
 *
 * The kafkajs admin client is watched in this process (the provider requires the same module), so
 * the test sees each admin session's calls: one createTopics, createPartitions, describeConfigs and
 * alterConfigs per session at most, whatever the number of topics. A session is one attempt of the
 * shared retry; a second one only follows an answer the broker marks retriable.
 *
 * What this broker cannot show: it is a single combined KRaft node, so NOT_CONTROLLER and leader
 * elections never happen here; their retry is the same code path (unit tests: test/unit/init-retry).
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { after, describe, it } from "node:test";
import type { dynamic } from "@pulumi/pulumi";
import { KafkaTopicsInputs, KafkaTopicsOutputs, KafkaTopicsProvider, TopicSpec } from "../../init/kafka";
import { viaSerialization } from "../support/dynamic";
import { topicsInputs } from "../support/kafka-fixtures";
import { requireServer, Services, withKafkaAdmin } from "../support/servers";

const kafkajs = require("kafkajs");
type CreateResult = dynamic.CreateResult;
type UpdateResult = dynamic.UpdateResult;

const TOPICS = 200;
const RUNS = 3;
const tag = randomBytes(3).toString("hex");
/** Every topic this file creates, deleted at the end (the initialiser's delete keeps topics). */
const created: string[] = [];
let svcForCleanup: Services["kafka"] | undefined;

/** The admin calls of each session (one kafkajs admin client) while `fn` runs. */
async function watchAdmin<T>(fn: () => Promise<T>): Promise<{ result: T; sessions: [string, unknown][][] }> {
  const original = kafkajs.Kafka.prototype.admin;
  const sessions: [string, unknown][][] = [];
  kafkajs.Kafka.prototype.admin = function (this: unknown, ...args: unknown[]) {
    const admin = original.apply(this, args);
    const calls: [string, unknown][] = [];
    sessions.push(calls);
    for (const name of Object.keys(admin)) {
      const f = admin[name];
      if (typeof f !== "function" || name === "on" || name === "logger") continue;
      admin[name] = (...a: unknown[]) => {
        calls.push([name, a[0]]);
        return f(...a);
      };
    }
    return admin;
  };
  try {
    return { result: await fn(), sessions };
  } finally {
    kafkajs.Kafka.prototype.admin = original;
  }
}

const count = (calls: [string, unknown][], name: string) => calls.filter(([n]) => n === name).length;

/** Topic names a kind of call carried, over all sessions. */
function carried(sessions: [string, unknown][][], name: string, field: string, key: string): string[] {
  return sessions.flatMap((calls) =>
    calls
      .filter(([n]) => n === name)
      .flatMap(([, arg]) =>
        ((arg as Record<string, Record<string, string>[]>)[field] ?? []).map((x) => x[key]),
      ),
  );
}

/** At most one call of each batched kind per session: the count does not grow with the topics. */
function assertBatched(sessions: [string, unknown][][]): void {
  assert.ok(sessions.length >= 1);
  for (const calls of sessions) {
    for (const name of ["createTopics", "createPartitions", "describeConfigs", "alterConfigs"]) {
      assert.ok(count(calls, name) <= 1, `${name} was called ${count(calls, name)} times in one session`);
    }
  }
}

function inputs(svc: Services["kafka"], topics: TopicSpec[]): KafkaTopicsInputs {
  return topicsInputs(svc, topics, { timeoutSeconds: 120 });
}

/** Partitions with a leader, and topic-level configs, of the named topics as the broker has them. */
async function clusterState(svc: Services["kafka"], names: string[]) {
  return withKafkaAdmin(svc, async (admin) => {
    const meta = await admin.fetchTopicMetadata({ topics: names });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name })),
    });
    const state = new Map<string, { partitions: number; led: boolean; configs: Record<string, string> }>();
    for (const t of meta.topics as { name: string; partitions: { leader: number }[] }[]) {
      const res = (
        cfg.resources as { resourceName: string; configEntries: Record<string, unknown>[] }[]
      ).find((r) => r.resourceName === t.name);
      const configs: Record<string, string> = {};
      for (const c of res?.configEntries ?? []) {
        if (c.configSource === 1) configs[c.configName as string] = c.configValue as string;
      }
      state.set(t.name, {
        partitions: t.partitions.length,
        led: t.partitions.every((p) => p.leader >= 0),
        configs,
      });
    }
    return state;
  });
}

/**
 * The topics have their partitions, each led, as soon as the initialiser returns (it waited for that
 * in the broker's metadata, which only moves forward); their configs as the broker reports them once
 * its metadata has caught up with the controller's (eventually true: waited for, with a deadline).
 */
async function assertOnCluster(svc: Services["kafka"], topics: TopicSpec[]): Promise<void> {
  const names = topics.map((x) => x.name);
  const state = await clusterState(svc, names);
  for (const x of topics) {
    assert.deepEqual(
      { partitions: state.get(x.name)?.partitions, led: state.get(x.name)?.led },
      { partitions: x.partitions, led: true },
      x.name,
    );
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const now = await clusterState(svc, names);
    const differ = topics.filter((x) => !isDeepStrictEqual(now.get(x.name)?.configs, x.configs));
    if (differ.length === 0) return;
    if (Date.now() > deadline) {
      assert.fail(`configs of ${differ[0].name}: ${JSON.stringify(now.get(differ[0].name)?.configs)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

after(async () => {
  if (!svcForCleanup || created.length === 0) return;
  await withKafkaAdmin(svcForCleanup, (admin) =>
    admin.deleteTopics({ topics: created, timeout: 60_000 }),
  ).catch(
    () => undefined, // a failing test says so already
  );
});

describe(`Kafka topics initialiser at scale (${RUNS} runs of ${TOPICS} new topics, real broker)`, () => {
  it("creates every topic in one request per run, waits for their leaders, and a re-run changes nothing", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    svcForCleanup = svc;
    const { provider } = await viaSerialization(new KafkaTopicsProvider());
    for (let run = 1; run <= RUNS; run++) {
      const topics: TopicSpec[] = Array.from({ length: TOPICS }, (_, i): TopicSpec => ({
        name: `it-scale-${tag}-${run}-${i}`,
        partitions: 1 + (i % 2),
        replicationFactor: 1,
        configs: i % 3 === 0 ? { "retention.ms": "3600000", "cleanup.policy": "delete" } : {},
      }));
      const names = topics.map((x) => x.name);
      created.push(...names);

      const { result, sessions } = await watchAdmin<CreateResult>((): Promise<CreateResult> =>
        provider.create!(inputs(svc, topics)),
      );
      const outs = result.outs as KafkaTopicsOutputs;
      assertBatched(sessions);
      const sent = carried(sessions, "createTopics", "topics", "topic");
      assert.equal(sent.length, new Set(sent).size, `run ${run}: a topic was sent for creation twice`);
      assert.deepEqual([...sent].sort(), [...names].sort(), `run ${run}: every topic sent for creation`);
      const first = sessions.flat().find(([n]) => n === "createTopics")?.[1] as { topics: unknown[] };
      assert.equal(
        first.topics.length,
        TOPICS,
        `run ${run}: the first createTopics carries all ${TOPICS} topics`,
      );
      assert.equal(outs.log.filter((l) => l.startsWith("created topic")).length, TOPICS);

      // Returned only once every partition has a leader: a producer can use the topics at once.
      await assertOnCluster(svc, topics);

      // The no-op converge: observed in one metadata request and one describeConfigs, nothing written.
      const again = await watchAdmin<UpdateResult>((): Promise<UpdateResult> =>
        provider.update!(result.id, outs, inputs(svc, topics)),
      );
      assert.deepEqual((again.result.outs as KafkaTopicsOutputs).log, []);
      assertBatched(again.sessions);
      for (const calls of again.sessions) {
        for (const write of ["createTopics", "createPartitions", "alterConfigs", "deleteTopics"]) {
          assert.equal(count(calls, write), 0, `the no-op converge called ${write}`);
        }
      }

      if (run === 1) {
        // All topics grown and reconfigured in one run: one createPartitions, one alterConfigs.
        const grown = topics.map((x) => ({
          ...x,
          partitions: x.partitions + 1,
          configs: { "retention.ms": "7200000" },
        }));
        const upd = await watchAdmin<UpdateResult>((): Promise<UpdateResult> =>
          provider.update!(result.id, outs, inputs(svc, grown)),
        );
        assertBatched(upd.sessions);
        const grew = carried(upd.sessions, "createPartitions", "topicPartitions", "topic");
        assert.deepEqual([...new Set(grew)].sort(), [...names].sort());
        const reconfigured = carried(upd.sessions, "alterConfigs", "resources", "name");
        assert.deepEqual([...new Set(reconfigured)].sort(), [...names].sort());
        await assertOnCluster(svc, grown);
      }
    }
  });
});
