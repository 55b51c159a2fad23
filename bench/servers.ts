/**
 * `npm run bench`, second half: the initialisers against the test servers of `npm run services:start`
 * (issue 13), each beside the same work done directly with the raw client in batches, reaching the
 * same end state (waiting for the same things), and the no-op converge of the same config:
 *  - Kafka: 200 new topics. Raw: one createTopics without kafkajs's leader wait, then metadata
 *    requests every 50 ms until every partition has a leader (what the initialiser waits for).
 *  - MongoDB: 50 new collections with 3 indexes each. Raw: one createIndexes per collection, in turn.
 *  - PostgreSQL: role, database and 20 migrations. Raw: the role, the database and its CONNECT grant,
 *    the tracking table, then per migration BEGIN, its SQL, its tracking row, COMMIT, and the grants.
 * Runs alternate between the two (a busy machine slows both alike); figures are medians. Asserts nothing.
 */
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import type * as Pg from "pg";
import { KafkaTopicsInputs, KafkaTopicsProvider, TopicSpec } from "../init/kafka";
import { CollectionSpec, MongoCollectionsProvider } from "../init/mongodb";
import { Migration, PostgresSchemaInputs, PostgresSchemaProvider } from "../init/postgres";
import { collectionsInputs } from "../test/support/mongo-fixtures";
import type { Services } from "../test/support/servers";
import { RUN_DIR } from "../test/support/servers";

const ROUNDS = 5;
const TOPICS = 200;
const COLLECTIONS = 50;
const MIGRATIONS = 20;
const tag = randomBytes(3).toString("hex");

type Timed = { init: number[]; raw: number[]; noop: number[] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${Math.round(x)} ms`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Runs `fn` without the initialisers' progress lines (hundreds of them) on stderr. */
async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stderr.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    /^\[[a-z-]+\] /.test(String(chunk))
      ? true
      : (write as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest)) as typeof write;
  try {
    return await fn();
  } finally {
    process.stderr.write = write;
  }
}

/** `round` alternates which of the two goes first. */
async function pair(round: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  if (round % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** `median (min-max)` */
const spread = (xs: number[]) =>
  `${ms(median(xs))} (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`.padStart(18);

function report(what: string, t: Timed, noop: string): void {
  const ratio = median(t.init) / median(t.raw);
  console.log(
    `${what.padEnd(44)} initialiser ${spread(t.init)}   raw ${spread(t.raw)}   ratio ${ratio.toFixed(2)}`,
  );
  console.log(`${`  no-op converge of the same ${noop}`.padEnd(44)} initialiser ${spread(t.noop)}`);
}

async function kafka(svc: Services["kafka"]): Promise<Timed> {
  const { Kafka, logLevel } = require("kafkajs");
  const t: Timed = { init: [], raw: [], noop: [] };
  const made: string[] = [];
  const newTopics = (who: string, round: number): TopicSpec[] =>
    Array.from({ length: TOPICS }, (_, i) => ({
      name: `bench-${tag}-${who}${round}-${i}`,
      partitions: 1 + (i % 3),
      replicationFactor: 1,
      configs: { "retention.ms": "3600000" },
    }));
  const adminClient = () =>
    new Kafka({
      clientId: "ai-platform-data-bench",
      brokers: svc.brokers,
      sasl: { mechanism: svc.mechanism, username: svc.username, password: svc.password },
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
  const provider = new KafkaTopicsProvider();
  for (let round = 0; round < ROUNDS; round++) {
    await pair(
      round,
      async () => {
        const topics = newTopics("i", round);
        made.push(...topics.map((x) => x.name));
        const inputs: KafkaTopicsInputs = { ...svc, topics, deleteRemovedTopics: false, timeoutSeconds: 300 };
        let created: Awaited<ReturnType<typeof provider.create>> | undefined;
        t.init.push(await time(async () => (created = await provider.create(inputs))));
        t.noop.push(await time(() => provider.update(created!.id, created!.outs, inputs)));
      },
      async () => {
        const topics = newTopics("r", round);
        made.push(...topics.map((x) => x.name));
        t.raw.push(
          await time(async () => {
            const admin = adminClient();
            await admin.connect();
            await admin.createTopics({
              waitForLeaders: false,
              topics: topics.map((x) => ({
                topic: x.name,
                numPartitions: x.partitions,
                replicationFactor: x.replicationFactor,
                configEntries: Object.entries(x.configs).map(([name, value]) => ({ name, value })),
              })),
            });
            const names = topics.map((x) => x.name);
            for (;;) {
              const meta = await admin
                .fetchTopicMetadata({ topics: names })
                .catch((e: { retriable?: boolean }) => {
                  if (e.retriable) return undefined; // not there yet
                  throw e;
                });
              const ready = meta?.topics as { name: string; partitions: { leader: number }[] }[] | undefined;
              const want = new Map(topics.map((x) => [x.name, x.partitions]));
              if (
                ready?.length === names.length &&
                ready.every(
                  (x) => x.partitions.length >= want.get(x.name)! && x.partitions.every((p) => p.leader >= 0),
                )
              ) {
                break;
              }
              await new Promise((r) => setTimeout(r, 50));
            }
            await admin.disconnect();
          }),
        );
      },
    );
  }
  const admin = adminClient();
  await admin.connect();
  await admin.deleteTopics({ topics: made, timeout: 120_000 }).catch(() => undefined);
  await admin.disconnect();
  return t;
}

async function mongodb(svc: Services["mongodb"]): Promise<Timed> {
  const { MongoClient } = require("mongodb");
  const t: Timed = { init: [], raw: [], noop: [] };
  const databases: string[] = [];
  const collections: CollectionSpec[] = Array.from({ length: COLLECTIONS }, (_, i) => ({
    name: `c${i}`,
    indexes: [
      {
        keys: [
          ["tenant", 1],
          ["created", -1],
        ],
      },
      { keys: [["key", 1]], unique: true },
      { keys: [["seq", -1]] },
    ],
  }));
  const provider = new MongoCollectionsProvider();
  for (let round = 0; round < ROUNDS; round++) {
    await pair(
      round,
      async () => {
        const database = `bench_${tag}_i${round}`;
        databases.push(database);
        const inputs = collectionsInputs(svc, database, collections, { timeoutSeconds: 300 });
        let created: Awaited<ReturnType<typeof provider.create>> | undefined;
        t.init.push(await time(async () => (created = await provider.create(inputs))));
        t.noop.push(await time(() => provider.update(created!.id, created!.outs, inputs)));
      },
      async () => {
        const database = `bench_${tag}_r${round}`;
        databases.push(database);
        t.raw.push(
          await time(async () => {
            const client = new MongoClient(svc.uri);
            await client.connect();
            const db = client.db(database);
            for (const c of collections) {
              await db.command({
                createIndexes: c.name,
                indexes: c.indexes.map((ix) => ({
                  name: ix.keys.map(([f, d]) => `${f}_${d}`).join("_"),
                  key: Object.fromEntries(ix.keys),
                  ...(ix.unique ? { unique: true } : {}),
                })),
              });
            }
            await client.close();
          }),
        );
      },
    );
  }
  const client = new MongoClient(svc.uri);
  await client.connect();
  for (const d of databases) await client.db(d).dropDatabase();
  await client.close();
  return t;
}

async function postgres(svc: Services["postgres"]): Promise<Timed> {
  const { Client } = require("pg") as typeof Pg;
  const t: Timed = { init: [], raw: [], noop: [] };
  const made: { database: string; role: string }[] = [];
  const migrations: Migration[] = Array.from({ length: MIGRATIONS }, (_, i) => ({
    name: `${String(i + 1).padStart(4, "0")}_bench_step_${i + 1}.sql`,
    sql:
      (i === 0 ? "CREATE SCHEMA bench;\n" : "") +
      `CREATE TABLE bench.t_${i + 1} (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now());\n` +
      `CREATE INDEX t_${i + 1}_v ON bench.t_${i + 1} (v);\n`,
  }));
  const connect = async (database: string) => {
    const c = new Client({
      host: svc.host,
      port: svc.port,
      user: svc.user,
      password: svc.password,
      database,
    });
    await c.connect();
    return c;
  };
  const provider = new PostgresSchemaProvider();
  for (let round = 0; round < ROUNDS; round++) {
    await pair(
      round,
      async () => {
        const names = { database: `bench_${tag}_i${round}`, role: `bench_${tag}_i${round}_app` };
        made.push(names);
        const inputs = (
          await provider.check(
            {},
            {
              host: svc.host,
              port: svc.port,
              adminUser: svc.user,
              password: svc.password,
              maintenanceDatabase: svc.database,
              database: names.database,
              appUser: names.role,
              appPassword: `bench-${tag}`,
              appSchemas: ["bench"],
              migrations,
              timeoutSeconds: 300,
            },
          )
        ).inputs as PostgresSchemaInputs;
        let created: Awaited<ReturnType<typeof provider.create>> | undefined;
        t.init.push(await time(async () => (created = await provider.create(inputs))));
        t.noop.push(await time(() => provider.update(created!.id, created!.outs, inputs)));
      },
      async () => {
        const names = { database: `bench_${tag}_r${round}`, role: `bench_${tag}_r${round}_app` };
        made.push(names);
        t.raw.push(
          await time(async () => {
            const admin = await connect(svc.database);
            await admin.query(`CREATE ROLE "${names.role}" LOGIN PASSWORD 'bench-${tag}'`);
            await admin.query(`CREATE DATABASE "${names.database}"`);
            await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE "${names.database}" TO "${names.role}"`);
            await admin.end();
            const c = await connect(names.database);
            await c.query(
              "CREATE TABLE public.migrations (id integer PRIMARY KEY, name varchar(100) UNIQUE NOT NULL, hash varchar(40) NOT NULL, executed_at timestamp DEFAULT current_timestamp)",
            );
            for (const m of migrations) {
              await c.query("BEGIN");
              await c.query(m.sql);
              await c.query("INSERT INTO public.migrations (id, name, hash) VALUES ($1, $2, $3)", [
                parseInt(m.name, 10),
                m.name.replace(/^\d+_|\.sql$/g, ""),
                createHash("sha1")
                  .update(m.name + m.sql)
                  .digest("hex"),
              ]);
              await c.query("COMMIT");
            }
            const app = `"${names.role}"`;
            await c.query("BEGIN");
            await c.query(`GRANT USAGE ON SCHEMA bench TO ${app}`);
            await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA bench TO ${app}`);
            await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA bench TO ${app}`);
            await c.query(
              `ALTER DEFAULT PRIVILEGES IN SCHEMA bench GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app}`,
            );
            await c.query(
              `ALTER DEFAULT PRIVILEGES IN SCHEMA bench GRANT USAGE, SELECT ON SEQUENCES TO ${app}`,
            );
            await c.query("COMMIT");
            await c.end();
          }),
        );
      },
    );
  }
  const admin = await connect(svc.database);
  for (const m of made) {
    await admin.query(`DROP DATABASE IF EXISTS "${m.database}" WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS "${m.role}"`);
  }
  await admin.end();
  return t;
}

/** Prints the figures, or why there are none (no test servers). */
export async function benchServers(): Promise<void> {
  console.log(
    `== initialisers against the test servers (median of ${ROUNDS} (min-max); raw = the same end state with the client directly, in batches)`,
  );
  const file = `${RUN_DIR}/services.json`;
  if (!fs.existsSync(file)) {
    console.log(`skipped: ${file} is missing (npm run services:start)`);
    return;
  }
  const svc = JSON.parse(fs.readFileSync(file, "utf8")) as Services;
  await quiet(async () => {
    report(`Kafka: ${TOPICS} new topics, leaders awaited`, await kafka(svc.kafka), `${TOPICS} topics`);
    report(
      `MongoDB: ${COLLECTIONS} collections x 3 indexes`,
      await mongodb(svc.mongodb),
      `${COLLECTIONS} collections`,
    );
    report(
      `PostgreSQL: role, database, ${MIGRATIONS} migrations`,
      await postgres(svc.postgres),
      `${MIGRATIONS} migrations`,
    );
  });
}
