/**
 * Kafka ACLs against the real KRaft broker of scripts/services.sh, which runs the StandardAuthorizer with
 * the super users the chart gets (scripts/lib/kafka.sh): the initialiser, driven through its serialized
 * form, gives an application user what `kafka.access` declares, and every claim is checked by acting as
 * that user with kafkajs: what it may do works, everything that could destroy data or take the cluster
 * over is refused by the broker.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { kafkaUserAccess } from "../../config";
import { bindingsFor, KafkaAclsInputs, KafkaAclsOutputs, KafkaAclsProvider } from "../../init/kafka-acls";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import { viaSerialization } from "../support/dynamic";
import { brokerAnswer, brokerLogin } from "../support/kafka-fixtures";
import { requireServer, Services, testKafka, withKafkaAdmin } from "../support/servers";
import { until } from "../support/wait";

type Svc = Services["kafka"];
const run = randomBytes(3).toString("hex");
const app = `it-${run}-acl-app`;
const appPassword = randomBytes(16).toString("hex");
const granted = `it-${run}-granted`;
const other = `it-${run}-other`;
const group = `it-${run}-group`;

/** The initialiser's inputs for `access` of the app user (the admin connects, a super user). */
function inputs(svc: Svc, access: { read: string[]; write: string[]; groups: string[] }): KafkaAclsInputs {
  const topics = [{ name: granted }, { name: other }];
  const users = kafkaUserAccess({ clientUsers: [svc.username, app], topics, access: { [app]: access } });
  return { ...brokerLogin(svc), users: [app], acls: bindingsFor(users), timeoutSeconds: 30 };
}

const appLogin = { mechanism: "scram-sha-512", username: app, password: appPassword };

/** The broker's answer to `work` done as the app user, or "ok". */
function asApp(svc: Svc, work: (kafka: ReturnType<typeof testKafka>) => Promise<unknown>): Promise<string> {
  return brokerAnswer(svc, appLogin, work);
}

async function withAppAdmin<T>(
  svc: Svc,
  fn: (admin: { [k: string]: (...a: unknown[]) => Promise<T> }) => Promise<T>,
) {
  return asApp(svc, async (kafka) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  });
}

async function produce(svc: Svc, topic: string): Promise<string> {
  return asApp(svc, async (kafka) => {
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ value: `from ${app}` }] });
    } finally {
      await producer.disconnect();
    }
  });
}

/** Reads the first message of `topic` in consumer group `groupId` (its committed offset moves on). */
async function consume(svc: Svc, topic: string, groupId: string): Promise<string> {
  return asApp(svc, async (kafka) => {
    const consumer = kafka.consumer({ groupId, retry: { retries: 0 } });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no message within 60 s")), 60_000);
        consumer.on(consumer.events.CRASH, (e: { payload: { error: Error } }) => {
          clearTimeout(timer);
          reject(e.payload.error);
        });
        void consumer.run({
          eachMessage: async () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
  });
}

async function provider() {
  return (await viaSerialization(new KafkaAclsProvider())).provider;
}

describe("Kafka ACLs initialiser (real broker with the StandardAuthorizer)", () => {
  it("gives the app user what config declares and nothing that destroys data or takes the cluster over", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const users = (await viaSerialization(new KafkaScramUsersProvider())).provider;
    await users.create!({
      ...brokerLogin(svc),
      users: [{ name: app, mechanism: "SCRAM-SHA-512" }],
      userPasswords: { [app]: appPassword },
      iterations: 4096,
      timeoutSeconds: 30,
    });
    await withKafkaAdmin(svc, (admin) =>
      admin.createTopics({
        topics: [granted, other].map((topic) => ({ topic, numPartitions: 1 })),
        waitForLeaders: true,
      }),
    );
    // With no ACL the broker refuses the app everything: the authorizer is on.
    assert.equal(await produce(svc, granted), "TOPIC_AUTHORIZATION_FAILED");

    const p = await provider();
    const access = { read: [granted], write: [granted], groups: [`it-${run}-*`] };
    const created = await p.create!(inputs(svc, access));
    const outs = created.outs as KafkaAclsOutputs;
    assert.deepEqual(outs.log, [
      `ACLs of ${app}: +READ GROUP it-${run}-*, +DESCRIBE TOPIC ${granted}, +READ TOPIC ${granted}, +WRITE TOPIC ${granted}`,
    ]);

    // What the app needs works (the ACLs reach the broker's authorizer a moment after the request).
    assert.equal(
      await until("the app producing", async () =>
        (await produce(svc, granted)) === "ok" ? "ok" : undefined,
      ),
      "ok",
    );
    // The first consumer group of a fresh broker waits for the offsets topic: retried until it answers.
    const consumed = (g: string) =>
      until(`the app consuming in ${g}`, async () =>
        (await consume(svc, granted, g)) === "ok" ? "ok" : undefined,
      );
    assert.equal(await consumed(group), "ok");
    // Everything else is refused by the broker.
    const refused = {
      "produce to an undeclared topic": await produce(svc, other),
      "consume in a group outside its prefix": await consume(svc, granted, `x-${run}`),
      "delete a topic": await withAppAdmin(svc, (a) => a.deleteTopics({ topics: [granted], timeout: 5000 })),
      "create a topic": await withAppAdmin(svc, (a) =>
        a.createTopics({ topics: [{ topic: `it-${run}-new` }] }),
      ),
      "set retention.ms=1": await withAppAdmin(svc, (a) =>
        a.alterConfigs({
          validateOnly: false,
          resources: [{ type: 2, name: granted, configEntries: [{ name: "retention.ms", value: "1" }] }],
        }),
      ),
      "create an ACL": await withAppAdmin(svc, (a) =>
        a.createAcls({
          acl: [
            {
              resourceType: 2,
              resourceName: "*",
              resourcePatternType: 3,
              principal: `User:${app}`,
              host: "*",
              operation: 2,
              permissionType: 3,
            },
          ],
        }),
      ),
      "alter a broker config": await withAppAdmin(svc, (a) =>
        a.alterConfigs({
          validateOnly: false,
          resources: [{ type: 4, name: "1", configEntries: [{ name: "log.retention.ms", value: "1" }] }],
        }),
      ),
    };
    assert.deepEqual(refused, {
      "produce to an undeclared topic": "TOPIC_AUTHORIZATION_FAILED",
      // The same consumer found the coordinator for its own group just before: only the ACL differs.
      "consume in a group outside its prefix": "GROUP_AUTHORIZATION_FAILED?",
      "delete a topic": "TOPIC_AUTHORIZATION_FAILED",
      "create a topic": "TOPIC_AUTHORIZATION_FAILED",
      "set retention.ms=1": "TOPIC_AUTHORIZATION_FAILED",
      "create an ACL": "CLUSTER_AUTHORIZATION_FAILED",
      "alter a broker config": "CLUSTER_AUTHORIZATION_FAILED",
    });
    // Changing another user's SCRAM credentials (the admin's) as the app: the broker refuses it.
    const takeover = await users.create!({
      brokers: svc.brokers,
      mechanism: "scram-sha-512",
      username: app,
      password: appPassword,
      users: [{ name: svc.username, mechanism: "SCRAM-SHA-512" }],
      userPasswords: { [svc.username]: "taken-over" },
      iterations: 4096,
      timeoutSeconds: 5,
    }).then(
      () => "ok",
      (e: Error) => e.message,
    );
    assert.match(takeover, /CLUSTER_AUTHORIZATION_FAILED/);

    // A binding added by hand (DELETE on the topic) is drift: read shows it, the update removes it.
    await withKafkaAdmin(svc, (admin) =>
      admin.createAcls({
        acl: [
          {
            resourceType: 2,
            resourceName: granted,
            resourcePatternType: 3,
            principal: `User:${app}`,
            host: "*",
            operation: 6,
            permissionType: 3,
          },
        ],
      }),
    );
    const read = await p.read!(created.id, outs);
    assert.equal(
      (await p.diff!(created.id, read.props as KafkaAclsOutputs, inputs(svc, access))).changes,
      true,
    );
    // Narrowed to read-only: write goes, the hand-made DELETE goes.
    const readOnly = { read: [granted], write: [], groups: access.groups };
    const upd = await p.update!(created.id, read.props as KafkaAclsOutputs, inputs(svc, readOnly));
    assert.deepEqual((upd.outs as KafkaAclsOutputs).log, [
      `ACLs of ${app}: -DELETE TOPIC ${granted}, -WRITE TOPIC ${granted}`,
    ]);
    assert.equal(
      await until("the app refused to produce", async () => {
        const r = await produce(svc, granted);
        return r === "ok" ? undefined : r;
      }),
      "TOPIC_AUTHORIZATION_FAILED",
    );

    // Renamed (a new resource, then the old one deleted): the app keeps its access throughout.
    const renamed = await p.create!(inputs(svc, readOnly));
    await p.delete!(created.id, upd.outs as KafkaAclsOutputs);
    assert.equal(await consumed(`it-${run}-after-rename`), "ok");

    // The user removed from config: its bindings go.
    const gone = await p.update!(renamed.id, renamed.outs as KafkaAclsOutputs, {
      ...inputs(svc, readOnly),
      users: [],
      acls: [],
    });
    assert.deepEqual((gone.outs as KafkaAclsOutputs).log, [
      `ACLs of ${app}: -READ GROUP it-${run}-*, -DESCRIBE TOPIC ${granted}, -READ TOPIC ${granted}`,
    ]);
    // Delete keeps logins: the user leaves as config removes it, by an update without it.
    const login = { ...brokerLogin(svc), userPasswords: {}, iterations: 4096, timeoutSeconds: 30 };
    await users.update!(
      "id",
      { ...login, users: [{ name: app, mechanism: "SCRAM-SHA-512" }], log: [] },
      { ...login, users: [] },
    );
    await withKafkaAdmin(svc, (admin) => admin.deleteTopics({ topics: [granted, other] }));
  });
});
