/**
 * Port-forwards through the real kube-apiserver of scripts/kube.sh (issue 10): each initialiser,
 * serialized as Pulumi's dynamic-provider host runs it, reaches the loopback servers of
 * scripts/services.sh only through forwards to stand-in pods on kwok's node (kwok's PortForward sends
 * each pod port to a loopback server). The configured address is a Service (PostgreSQL, Weaviate with a
 * named targetPort, the Redis Sentinels, the Kafka bootstrap) or a pod name (MongoDB); Redis and Kafka
 * announce their nodes, replicas, Sentinels and brokers by IP, which here is the stand-in pod's IP, so
 * each of those is mapped by `status.podIP` to its own forward. Every TCP connection the test process
 * opens is recorded: none may go to a pod IP or straight to a server's port.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KafkaTopicsInputs, KafkaTopicsProvider } from "../../init/kafka";
import { MongoCollectionsInputs, MongoCollectionsProvider } from "../../init/mongodb";
import { loadMigrations, PostgresSchemaInputs, PostgresSchemaProvider } from "../../init/postgres";
import { RedisAclUsersInputs, RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { WeaviateClassesInputs, WeaviateClassesProvider } from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";
import { assertOnlyForwards, watchConnections } from "../support/kube-fixture";
import { portForwardStage } from "../support/port-forward-stage";
import { removeAclUsers } from "../support/redis-fixtures";
import { withKafkaAdmin } from "../support/servers";

const { run, NS, fqdn, cleanups, servers, forward } = portForwardStage();

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
      await removeAclUsers(p, created.id, created.outs as RedisAclUsersOutputs);
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
