/**
 * Port-forwards through the real kube-apiserver of scripts/kube.sh (issue 10): each initialiser,
 * serialized as Pulumi's dynamic-provider host runs it, reaches the loopback servers of
 * scripts/services.sh only through forwards to stand-in pods on kwok's node (kwok's PortForward sends
 * each pod port to a loopback server). The configured address is a Service (PostgreSQL, Weaviate with a
 * named targetPort, the Redis Sentinels, the Kafka bootstrap) or a pod name (MongoDB); Redis and Kafka
 * announce their nodes, replicas, Sentinels and brokers by IP, which here is the stand-in pod's IP, so
 * each of those is mapped by `status.podIP` to its own forward. Every TCP connection the test process
 * opens is recorded: none may go to a pod IP or straight to a server's port. Also: a missing pod, an
 * RBAC refusal (403) and a forward that drops mid-run.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import { KafkaTopicsInputs, KafkaTopicsProvider } from "../../init/kafka";
import { MongoCollectionsInputs, MongoCollectionsProvider } from "../../init/mongodb";
import { loadMigrations, PostgresSchemaInputs, PostgresSchemaProvider } from "../../init/postgres";
import { RedisAclUsersInputs, RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { ForwardSpec, openForwarder } from "../../init/shared/port-forward";
import { WeaviateClassesInputs, WeaviateClassesProvider } from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";
import {
  accountKubeconfig,
  assertOnlyForwards,
  forwardPorts,
  StandIn,
  standUp,
  tearDown,
  unforwardPorts,
  until,
  watchConnections,
} from "../support/kube-fixture";
import { isTransient } from "../../init/shared/retry";
import { requireServer, RUN_DIR, Services, withKafkaAdmin } from "../support/servers";

const run = randomBytes(3).toString("hex");
const NS = `aipd-pf-${run}`;
const fqdn = (name: string) => `${name}.${NS}.svc.cluster.local`;

let kube: Services["kube"] | undefined;
let all: Omit<Services, "kube"> | undefined;
let standUpError: unknown;
const cleanups: (() => Promise<unknown>)[] = [];

/** The stand-in pods: one per server, and one that carries the IP Redis and Kafka announce. */
function standIns(s: Omit<Services, "kube">): StandIn[] {
  const redisPorts = [...s.redis.nodes, ...s.redis.sentinels].map((n) => ({ port: n.port, target: n.port }));
  const [, kafkaPort] = s.kafka.brokers[0].split(":");
  return [
    {
      name: "postgresql-0",
      labels: { app: "postgresql", role: "primary" },
      ports: [{ name: "tcp-postgresql", port: 5432, target: s.postgres.port }],
    },
    {
      name: "weaviate-0",
      labels: { app: "weaviate" },
      ports: [{ name: "http", port: 8080, target: s.weaviate.port }],
    },
    { name: "mongodb-0", labels: { app: "mongodb" }, ports: [{ port: 27017, target: s.mongodb.port }] },
    {
      // The servers announce 127.0.0.1: here that is this pod's IP, as a pod IP would be in a cluster.
      name: "announcer-0",
      labels: { app: "announcer" },
      ports: [...redisPorts, { port: Number(kafkaPort), target: Number(kafkaPort) }],
      podIP: "127.0.0.1",
    },
  ];
}

/** All five servers, the API server and the stand-in pods, or a skip (a failure under CI=true). */
async function servers(t: TestContext) {
  for (const name of ["kube", "postgres", "mongodb", "weaviate", "redis", "kafka"] as const) {
    if (!(await requireServer(t, name))) return undefined;
  }
  if (!kube || !all) {
    const reason = `the stand-in pods could not be created in ${NS}: ${String(standUpError)}`;
    if (process.env.CI === "true") throw new Error(reason);
    t.skip(reason);
    return undefined;
  }
  return { kube, ...all };
}

function forward(extra: Partial<ForwardSpec> = {}): ForwardSpec {
  return {
    connect: "port-forward",
    namespace: NS,
    kubeconfig: kube!.kubeconfig,
    context: kube!.context,
    ...extra,
  };
}

before(async () => {
  // Each test checks its servers itself (requireServer); without services.json there is nothing to set up.
  const file = path.join(RUN_DIR, "services.json");
  if (!fs.existsSync(file)) return;
  const { kube: k, ...rest } = JSON.parse(fs.readFileSync(file, "utf8")) as Services;
  // Stood up once for every test; a test without its servers skips (or fails under CI) on its own.
  try {
    await standUp(k, NS, standIns(rest), [
      {
        name: "postgresql",
        selector: { app: "postgresql", role: "primary" },
        ports: [{ port: 5432, targetPort: "tcp-postgresql" }],
      },
      { name: "weaviate", selector: { app: "weaviate" }, ports: [{ port: 80, targetPort: "http" }] },
      {
        name: "redis",
        selector: { app: "announcer" },
        ports: [{ port: 26379, targetPort: rest.redis.sentinels[0].port }],
      },
      {
        name: "kafka",
        selector: { app: "announcer" },
        ports: [{ port: 9092, targetPort: Number(rest.kafka.brokers[0].split(":")[1]) }],
      },
      { name: "ghost", selector: { app: "nothing-matches" }, ports: [{ port: 5432, targetPort: 5432 }] },
    ]);
    kube = k;
    all = rest;
  } catch (e) {
    standUpError = e;
    await tearDown(k, NS);
  }
});

after(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  if (kube) await tearDown(kube, NS);
});

describe("initialisers through port-forwards (real API server, kwok forwards to the loopback servers)", () => {
  it("PostgreSQL: the Service's ready pod, its named targetPort; migrations applied", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new PostgresSchemaProvider())).provider;
    const database = `aipd_pf_${run}`;
    const appUser = `aipd_pf_${run}_app`;
    const { Client } = require("pg");
    cleanups.push(async () => {
      const c = new Client({ ...s.postgres, user: s.postgres.user });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS "${appUser}"`).catch(() => undefined);
      await c.end();
    });
    const news: Partial<PostgresSchemaInputs> = {
      host: fqdn("postgresql"),
      port: 5432,
      adminUser: s.postgres.user,
      password: s.postgres.password,
      maintenanceDatabase: s.postgres.database,
      database,
      appUser,
      appPassword: `pw-${run}`,
      migrations: loadMigrations(),
      timeoutSeconds: 60,
      forward: forward(),
    };
    const checked = await p.check!({}, news);
    assert.deepEqual(checked.failures, []);
    const { result, dials } = await watchConnections(() => p.create!(checked.inputs as PostgresSchemaInputs));
    assert.equal(result.outs.applied.length, loadMigrations().length);
    assertOnlyForwards(dials, s, s.kube.server);
  });

  it("Weaviate: Service port 80 to the pod's port named http", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new WeaviateClassesProvider())).provider;
    const name = `AipdPf${run}`;
    cleanups.push(() =>
      fetch(`${s.weaviate.scheme}://${s.weaviate.host}:${s.weaviate.port}/v1/schema/${name}`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${s.weaviate.apiKey}` },
      }),
    );
    const inputs: WeaviateClassesInputs = {
      scheme: "http",
      host: fqdn("weaviate"),
      port: 80,
      apiKey: s.weaviate.apiKey,
      classes: [{ name, vectorizer: "none", properties: [{ name: "title", dataType: ["text"] }] }],
      enabledModules: ["backup-filesystem"],
      allowRecreate: [],
      timeoutSeconds: 60,
      forward: forward(),
    };
    const { result, dials } = await watchConnections(() => p.create!(inputs));
    assert.ok((result.outs.log as string[]).some((l) => l.includes(`created class ${name}`)));
    assertOnlyForwards(dials, s, s.kube.server);
  });

  it("MongoDB: a member by its pod name, asked which member is primary, then written to directly", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new MongoCollectionsProvider())).provider;
    const database = `aipd_pf_${run}`;
    const { MongoClient } = require("mongodb");
    cleanups.push(async () => {
      const c = new MongoClient(s.mongodb.uri, { serverSelectionTimeoutMS: 5000 });
      await c.connect();
      await c.db(database).dropDatabase();
      await c.close();
    });
    const inputs: MongoCollectionsInputs = {
      hosts: [`mongodb-0.mongodb-headless.${NS}.svc.cluster.local:27017`],
      username: s.mongodb.username,
      password: s.mongodb.password,
      authSource: s.mongodb.authSource,
      database,
      collections: [{ name: "events", indexes: [{ keys: [["at", -1]] }] }],
      dropRemovedCollections: false,
      timeoutSeconds: 60,
      forward: forward(),
    };
    const { result, dials } = await watchConnections(() => p.create!(inputs));
    assert.ok((result.outs.log as string[]).some((l) => /events/.test(l)));
    assertOnlyForwards(dials, s, s.kube.server);
  });

  it("Redis: Sentinels through the Service, then every announced master, replica and Sentinel by pod IP", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new RedisAclUsersProvider())).provider;
    const user = `aipd-pf-${run}`;
    const inputs: RedisAclUsersInputs = {
      sentinels: [{ host: fqdn("redis"), port: 26379 }],
      masterName: s.redis.masterName,
      password: s.redis.password,
      sentinelPassword: s.redis.sentinelPassword,
      users: [{ name: user, keys: ["pf:*"], channels: [], commands: "+@read" }],
      userPasswords: { [user]: `pw-${run}` },
      expectedNodes: s.redis.nodes.length,
      timeoutSeconds: 60,
      forward: forward(),
    };
    const { result, dials } = await watchConnections(async () => {
      const created = await p.create!(inputs);
      await p.delete!(created.id, created.outs as RedisAclUsersOutputs);
      return created;
    });
    const outs = result.outs as RedisAclUsersOutputs;
    // The outputs keep the announced (in-cluster) addresses, not the forwards'.
    assert.deepEqual([...outs.nodes].sort(), s.redis.nodes.map((n) => `${n.host}:${n.port}`).sort());
    assert.equal(outs.sentinelNodes.length, s.redis.sentinels.length);
    assertOnlyForwards(dials, s, s.kube.server);
  });

  it("Kafka: the bootstrap Service, then the broker of the cluster metadata by pod IP (socketFactory)", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new KafkaTopicsProvider())).provider;
    const topic = `aipd-pf-${run}`;
    cleanups.push(() => withKafkaAdmin(s.kafka, (a) => a.deleteTopics({ topics: [topic] })));
    const inputs: KafkaTopicsInputs = {
      brokers: [`${fqdn("kafka")}:9092`],
      mechanism: s.kafka.mechanism,
      username: s.kafka.username,
      password: s.kafka.password,
      topics: [{ name: topic, partitions: 2, replicationFactor: 1, configs: {} }],
      deleteRemovedTopics: false,
      timeoutSeconds: 60,
      forward: forward(),
    };
    const { dials } = await watchConnections(() => p.create!(inputs));
    const meta = (await withKafkaAdmin(s.kafka, (a) => a.fetchTopicMetadata({ topics: [topic] }))) as {
      topics: { partitions: unknown[] }[];
    };
    assert.equal(meta.topics[0].partitions.length, 2);
    assertOnlyForwards(dials, s, s.kube.server);
  });
});

describe("port-forward faults", () => {
  it("no ready pod behind the Service: retried, then one error naming the Service and its selector", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new PostgresSchemaProvider())).provider;
    const inputs = {
      host: fqdn("ghost"),
      port: 5432,
      adminUser: s.postgres.user,
      password: s.postgres.password,
      maintenanceDatabase: "postgres",
      database: `aipd_pf_${run}_ghost`,
      appUser: `aipd_pf_${run}_ghost_app`,
      migrations: loadMigrations(),
      timeoutSeconds: 3,
      appPasswordRevision: 0,
      forward: forward(),
    } as PostgresSchemaInputs;
    await assert.rejects(p.create!(inputs), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`no ready pod behind Service ${NS}/ghost \\(selector app=nothing-matches\\)`),
      );
      assert.match(e.message, /not reachable after \d+ attempts/);
      return true;
    });
  });

  it("a pod named by its DNS name that does not exist: retried, then one error naming namespace and pod", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new MongoCollectionsProvider())).provider;
    const inputs: MongoCollectionsInputs = {
      hosts: [`ghost-0.mongodb-headless.${NS}.svc.cluster.local:27017`],
      username: s.mongodb.username,
      password: s.mongodb.password,
      authSource: s.mongodb.authSource,
      database: `aipd_pf_${run}_ghost`,
      collections: [],
      dropRemovedCollections: false,
      timeoutSeconds: 3,
      forward: forward(),
    };
    await assert.rejects(p.create!(inputs), (e: Error) => {
      assert.match(e.message, new RegExp(`pod ${NS}/ghost-0 does not exist`));
      return true;
    });
  });

  it("an RBAC refusal ends the run at once, naming the namespace, the pod and the permission", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new PostgresSchemaProvider())).provider;
    const inputs = (kubeconfig: string) =>
      ({
        host: fqdn("postgresql"),
        port: 5432,
        adminUser: s.postgres.user,
        password: s.postgres.password,
        maintenanceDatabase: "postgres",
        database: `aipd_pf_${run}_rbac`,
        appUser: `aipd_pf_${run}_rbac_app`,
        migrations: loadMigrations(),
        timeoutSeconds: 120,
        appPasswordRevision: 0,
        forward: { connect: "port-forward", namespace: NS, kubeconfig },
      }) as PostgresSchemaInputs;
    // A refusal is not retried up to the deadline (120 s): the message is the refusal, not "not reachable".
    const notRetried = (e: Error) => assert.doesNotMatch(e.message, /not reachable after|attempts? over/);
    // No permission at all: the first lookup is refused.
    const nobody = await accountKubeconfig(s.kube, NS, "nobody", []);
    await assert.rejects(p.create!(inputs(nobody)), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`may not get service postgresql in namespace "${NS}" \\(403 Forbidden\\)`),
      );
      assert.match(e.message, /create on pods\/portforward/);
      notRetried(e);
      return true;
    });
    // Pods and Services readable, but no port-forward: the access review says so for the pod.
    const reader = await accountKubeconfig(s.kube, NS, "reader", [
      { resources: ["pods", "services"], verbs: ["get", "list"] },
    ]);
    await assert.rejects(p.create!(inputs(reader)), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`may not create pods/portforward in namespace "${NS}" \\(pod postgresql-0\\)`),
      );
      notRetried(e);
      return true;
    });
  });

  it("a forward that drops mid-run fails the connection like a reset, and the next one goes through", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const { Client } = require("pg");
    const target = { host: fqdn("postgresql"), port: 5432 };
    const fw = await openForwarder(forward(), target);
    const connect = async () => {
      const at = await fw.resolve(target);
      const c = new Client({
        ...at,
        user: s.postgres.user,
        password: s.postgres.password,
        database: "postgres",
      });
      c.on("error", () => undefined);
      await c.connect();
      return c;
    };
    try {
      const c = await connect();
      assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1);
      assert.ok(fw.dropConnections() >= 1);
      const dropped = await c.query("SELECT 1").then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(dropped, "the query succeeded on a dropped forward");
      assert.ok(isTransient(dropped), `not judged transient: ${dropped.message}`);
      await c.end().catch(() => undefined);
      // kwok's forward gone: the stream's error channel fails the connection and marks the forward
      // broken (kwok applies the deletion on its own time: waited for)...
      await unforwardPorts(s.kube, NS, "postgresql-0");
      const refused = await until("a connection refused by the removed forward", () =>
        connect().then(
          async (x) => void (await x.end()),
          (e: Error) => e,
        ),
      );
      assert.ok(isTransient(refused), `not judged transient: ${refused.message}`);
      // ...and once it is back, a later attempt looks the pod up again and gets through.
      await forwardPorts(s.kube, NS, standIns(s)[0]);
      const again = await until("the forward back", () => connect().catch(() => undefined));
      assert.equal((await again.query("SELECT 2 AS two")).rows[0].two, 2);
      await again.end();
      assert.deepEqual(
        fw.forwards().map((f) => f.target),
        [`${NS}/postgresql-0:5432`],
      );
    } finally {
      await fw.close();
    }
  });
});
