/**
 * `npm run local:down -- --purge`, after `pulumi destroy`: removes what destroy keeps on purpose (the data),
 * for the `local` stack only: its namespace with the volumes' claims, and on the loopback servers the
 * database, collections, class and topics named in Pulumi.local.yaml, with the application logins that
 * destroy leaves (PostgreSQL role, MongoDB user). Redis ACL users and Kafka SCRAM users are already gone:
 * destroy removes logins. Each step says what it removed; a missing object is not an error.
 */
import { spawnSync } from "node:child_process";
import { clusterServers, localStack, loopbackServers } from "./stack";

const say = (what: string) => console.log(`  purge: ${what}`);

async function purgePostgres(s: Services["postgres"], database: string, appUser: string): Promise<void> {
  const { Client } = require("pg");
  const c = new Client({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: "postgres",
  });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS "${appUser}"`);
    say(`PostgreSQL database ${database} and role ${appUser}`);
  } finally {
    await c.end();
  }
}

async function purgeMongo(s: Services["mongodb"], database: string, appUser: string): Promise<void> {
  const { MongoClient } = require("mongodb");
  const c = new MongoClient(s.uri, { directConnection: true, serverSelectionTimeoutMS: 20_000 });
  await c.connect();
  try {
    const db = c.db(database);
    const users = (await db.command({ usersInfo: appUser })) as { users: unknown[] };
    if (users.users.length > 0) await db.command({ dropUser: appUser });
    await db.dropDatabase();
    say(`MongoDB database ${database} and user ${appUser}`);
  } finally {
    await c.close();
  }
}

async function purgeWeaviate(s: Services["weaviate"], classes: string[]): Promise<void> {
  for (const cls of classes) {
    const r = await fetch(`${s.scheme}://${s.host}:${s.port}/v1/schema/${encodeURIComponent(cls)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${s.apiKey}` },
    });
    if (!r.ok && r.status !== 404) throw new Error(`Weaviate: deleting class ${cls} answered ${r.status}`);
  }
  say(`Weaviate classes ${classes.join(", ") || "(none)"}`);
}

/**
 * Through the brokers' own listeners of scripts/cluster-servers.sh (loopback, advertised as themselves, the
 * brokers' own PLAIN login, a super user): the
 * client listener hands back in-cluster names that only the initialisers' port-forwards reach. Topic
 * deletion is asynchronous in Kafka: waits until the brokers no longer list them.
 */
async function purgeKafka(
  brokers: string[],
  login: { username: string; password: string },
  topics: string[],
): Promise<void> {
  const { Kafka, logLevel } = require("kafkajs");
  const kafka = new Kafka({
    clientId: "aipd-local-purge",
    brokers,
    sasl: { mechanism: "plain", ...login },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set<string>(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 30_000 });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const left = ((await admin.listTopics()) as string[]).filter((t) => gone.includes(t));
      if (left.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(`Kafka still lists topics ${left.join(", ")} after deleting them`);
      await new Promise((r) => setTimeout(r, 500));
    }
    say(`Kafka topics ${gone.join(", ") || "(none left)"}`);
  } finally {
    await admin.disconnect();
  }
}

function purgeNamespace(kube: Services["kube"], namespace: string): void {
  const r = spawnSync(
    "kubectl",
    [
      "--kubeconfig",
      kube.kubeconfig,
      "delete",
      "namespace",
      namespace,
      "--ignore-not-found",
      "--timeout=180s",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`kubectl delete namespace ${namespace}: ${r.stderr.trim()}`);
  say(`namespace ${namespace} and its volume claims`);
}

interface Services {
  postgres: { host: string; port: number; user: string; password: string };
  mongodb: { uri: string };
  weaviate: { scheme: string; host: string; port: number; apiKey: string };
  kube: { kubeconfig: string };
}

async function main(): Promise<void> {
  const s = loopbackServers<Services>();
  const cluster = clusterServers();
  const c = localStack();
  purgeNamespace(s.kube, c.namespace);
  await purgePostgres(s.postgres, c.postgres.database, c.postgres.appUser);
  await purgeMongo(s.mongodb, c.mongodb.database, c.mongodb.appUser);
  await purgeWeaviate(
    s.weaviate,
    c.weaviate.classes.map((x) => x.name),
  );
  await purgeKafka(
    cluster.kafka.brokers.map((b) => `${b.internal.host}:${b.internal.port}`),
    { username: cluster.kafka.internalUser, password: cluster.kafka.internalPassword },
    c.kafka.topics.map((x) => x.name),
  );
}

main().catch((e: Error) => {
  console.error(`local: purge failed: ${e.message}`);
  process.exit(1);
});
