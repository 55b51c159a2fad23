/**
 * What the engine e2e asserts on the servers of scripts/services.sh through their own clients: the
 * stack's objects right after the first `up`, and the data `pulumi destroy` must leave in place.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataServices } from "../support/servers";
import { APP_SCHEMAS, EngineNames } from "./engine-stack";
import { operations, PREVIEW_NO_CHANGES, timed, UP, Workspace } from "./harness";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import { RedisAclUsersProvider } from "../../init/redis";
import { brokerLogin } from "../support/kafka-fixtures";
import { currentMaster, onRedis } from "../support/redis-fixtures";
import { kafkaCanLogin } from "../support/servers";
import {
  aclOnNodes,
  canLogin,
  mongoState,
  pgState,
  topics,
  weaviateClass,
  withMongo,
  withPg,
} from "./servers";

/** Step 1: schema + pgvector, collections + indexes, the class, the topics, the ACL user on every node. */
export async function assertStackOnServers(svc: DataServices, N: EngineNames): Promise<void> {
  const { postgres: pg, mongodb, weaviate, kafka, redis } = svc;
  const p = await pgState(pg, N.db);
  assert.ok(p.exists, `database ${N.db} was not created`);
  for (const schema of APP_SCHEMAS)
    assert.ok((p.tables[schema] ?? 0) > 0, `schema ${schema} has no tables: ${JSON.stringify(p.tables)}`);
  assert.ok(p.extensions.includes("vector"), `no vector extension: ${p.extensions.join(", ")}`);
  assert.equal(p.migrations.length, 8, `tracking table: ${p.migrations.join(", ")}`); // 0 (library) + 7

  const m = await mongoState(mongodb, N.mongoDb);
  assert.deepEqual(m, { docs: ["_id_", "slug_unique"], events: ["_id_", "kind_ts", "ts_1"] });

  const c = await weaviateClass(weaviate, N.cls);
  assert.deepEqual(c, { vectorizer: "none", properties: ["body", "title"] });

  const tp = await topics(kafka, [N.events, N.logs]);
  assert.deepEqual(tp[N.events], {
    partitions: 2,
    replicationFactor: 1,
    configs: { "retention.ms": "3600000", "cleanup.policy": "delete" },
  });
  assert.deepEqual(tp[N.logs], {
    partitions: 1,
    replicationFactor: 1,
    configs: { "retention.ms": "7200000" },
  });

  const acl = await aclOnNodes(redis, N.aclUser);
  assert.equal(acl.length, redis.nodes.length);
  for (const a of acl) assert.ok(a.rules, `ACL user ${N.aclUser} missing on ${a.node}`);
}

/** Step 6: after `destroy`, every database, collection, document, class and topic is still there. */
export async function assertDataKept(svc: DataServices, N: EngineNames): Promise<void> {
  const { postgres: pg, mongodb, weaviate, kafka } = svc;
  const p = await pgState(pg, N.db);
  assert.ok(p.exists, `database ${N.db} was dropped`);
  for (const schema of APP_SCHEMAS)
    assert.ok((p.tables[schema] ?? 0) > 0, `schema ${schema} lost its tables`);
  assert.equal(p.migrations.length, 9);
  const m = await mongoState(mongodb, N.mongoDb);
  assert.deepEqual(m, {
    docs: ["_id_", "owner_1", "slug_unique"],
    events: ["_id_", "kind_ts", "ts_1"],
  });
  const kept = await withMongo(mongodb, (client) => client.db(N.mongoDb).collection("docs").countDocuments());
  assert.equal(kept, 1);
  assert.deepEqual(await weaviateClass(weaviate, N.cls), {
    vectorizer: "none",
    properties: ["body", "title"],
  });
  const tp = await topics(kafka, [N.events, N.logs, N.audit]);
  assert.deepEqual(Object.keys(tp).sort(), [N.audit, N.events, N.logs].sort());
  assert.equal(tp[N.events].partitions, 3);
}

/** Generated passwords by RandomPassword resource name, as `generatedPasswords` reads them. */
type Generated = Map<string, { result: string }>;

/** Step 1: the generated passwords really are the ones the servers got. */
export async function assertGeneratedLogins(svc: DataServices, N: EngineNames, generated: Generated) {
  const { postgres: pg, kafka, redis } = svc;
  const aclPw = generated.get(`redis-acl-${N.aclUser}-password`)!.result;
  for (const n of redis.nodes)
    assert.ok(
      await canLogin(n, N.aclUser, aclPw, "e2e:probe"),
      `${N.aclUser} cannot log in on ${n.host}:${n.port}`,
    );
  const kafkaPw = generated.get(`kafka-client-password-${N.kafkaUser}`)!.result;
  assert.ok(await kafkaCanLogin(kafka, N.kafkaUser, kafkaPw), `${N.kafkaUser} cannot log in to Kafka`);
  const appPw = generated.get("postgres-app-password")!.result;
  const who = await withPg(pg, N.db, async (cl) => (await cl.query("SELECT current_user AS u")).rows[0].u, {
    user: N.appUser,
    password: appPw,
  });
  assert.equal(who, N.appUser);
}

/**
 * Step 6: destroy keeps the users too, like the data (a delete never removes logins, so a renamed
 * resource cannot lock applications out); the admin the stack connects as is untouched. The test then
 * removes them, as config would (an update without them), so that the shared servers stay clean.
 */
export async function assertUsersKept(svc: DataServices, N: EngineNames, generated: Generated) {
  const { kafka, redis } = svc;
  for (const a of await aclOnNodes(redis, N.aclUser))
    assert.ok(a.rules, `destroy removed the ACL user from ${a.node}`);
  const kafkaPw = generated.get(`kafka-client-password-${N.kafkaUser}`)!.result;
  assert.ok(await kafkaCanLogin(kafka, N.kafkaUser, kafkaPw), "destroy removed the SCRAM user");
  assert.ok(await kafkaCanLogin(kafka, kafka.username, kafka.password));

  const scram = new KafkaScramUsersProvider();
  const login = { ...brokerLogin(kafka), userPasswords: {}, iterations: 4096, timeoutSeconds: 60 };
  await scram.update(
    "x",
    { ...login, users: [{ name: N.kafkaUser, mechanism: "SCRAM-SHA-512" }], log: [] },
    {
      ...login,
      users: [],
    },
  );
  const acl = new RedisAclUsersProvider();
  const inputs = {
    sentinels: redis.sentinels,
    masterName: redis.masterName,
    password: redis.password,
    sentinelPassword: redis.sentinelPassword,
    userPasswords: {},
    timeoutSeconds: 60,
  };
  const olds = { ...inputs, users: [{ name: N.aclUser, keys: [], channels: [], commands: "" }] };
  await acl.update(
    "x",
    { ...olds, nodes: [], sentinelNodes: [], applied: {}, drifted: false, log: [] },
    {
      ...inputs,
      users: [],
    },
  );
  assert.equal(await kafkaCanLogin(kafka, N.kafkaUser, kafkaPw), false, "the SCRAM user was not removed");
}

/**
 * Step 5c. What a refactor or a new parent does to a URN: the ACL and SCRAM users resources renamed in
 * the project copy, without an alias. The engine creates the new resources, then deletes the old ones;
 * the delete must remove nothing the new one declares. Then a user deleted by hand on the master: the
 * next `up`, without a refresh, shows the update and repairs it (the check reads the servers in `up`).
 */
export async function renameUsersResourcesThenDropAUser(
  ws: Workspace,
  svc: DataServices,
  N: EngineNames,
  generated: Generated,
) {
  const index = path.join(ws.project, "init", "index.ts");
  const code = fs.readFileSync(index, "utf8");
  const moved = code
    .replace('"redis-acl-users",', '"redis-acl-users-moved",')
    .replace('"kafka-scram-users",', '"kafka-scram-users-moved",');
  assert.notEqual(moved, code, "the resources' names were not found in init/index.ts");
  fs.writeFileSync(index, moved);
  const r = timed("5c-up-rename", ws.pulumiOk([...UP, "--diff"]));
  const ops = operations(r.out);
  for (const name of ["redis-acl-users", "kafka-scram-users"]) {
    assert.equal(ops[`${name}-moved`], "create", r.out.slice(-4000));
    assert.equal(ops[name], "delete", r.out.slice(-4000));
  }
  await assertGeneratedLogins(svc, N, generated);
  timed("5c-preview-after-rename", ws.pulumiOk([...PREVIEW_NO_CHANGES]));

  const master = await currentMaster(svc.redis);
  await onRedis(master, svc.redis.password, (c) => c.call("ACL", "DELUSER", N.aclUser));
  const again = timed("5c-up-after-deluser", ws.pulumiOk([...UP, "--diff"]));
  assert.deepEqual(operations(again.out), { "redis-acl-users-moved": "update" }, again.out.slice(-4000));
  await assertGeneratedLogins(svc, N, generated);
}
