/**
 * Direct clients for the e2e assertions: what the servers of scripts/services.sh really hold, the drift
 * the test makes behind Pulumi's back, and the clean-up of earlier e2e runs' objects.
 */
import { Client } from "pg";
import { onRedis } from "../support/redis-fixtures";
import { DataServices, Services, withKafkaAdmin as withAdmin } from "../support/servers";

const { MongoClient } = require("mongodb");
const { ConfigResourceTypes } = require("kafkajs");

/** Prefixes of every object the e2e creates (clean-up at start matches on them). */
const PREFIX = { sql: "e2e_", mongo: "e2e_", kafka: "e2e-", weaviate: "E2e", redis: "e2e-" };

// ---------------------------------------------------------------------------------------------- PostgreSQL

export async function withPg<T>(
  svc: Services["postgres"],
  database: string,
  fn: (c: Client) => Promise<T>,
  creds?: { user: string; password: string },
): Promise<T> {
  const c = new Client({
    host: svc.host,
    port: svc.port,
    user: creds?.user ?? svc.user,
    password: creds?.password ?? svc.password,
    database,
    connectionTimeoutMillis: 5000,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface PgState {
  exists: boolean;
  /** Table count per schema. */
  tables: Record<string, number>;
  extensions: string[];
  /** Names in the migrations tracking table. */
  migrations: string[];
}

export async function pgState(svc: Services["postgres"], database: string): Promise<PgState> {
  const exists = await withPg(svc, svc.database, async (c) => {
    const r = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    return r.rowCount === 1;
  });
  if (!exists) return { exists, tables: {}, extensions: [], migrations: [] };
  return withPg(svc, database, async (c) => {
    const t = await c.query(
      "SELECT table_schema, count(*)::int AS n FROM information_schema.tables GROUP BY table_schema",
    );
    const e = await c.query("SELECT extname FROM pg_extension ORDER BY extname");
    const m = await c.query("SELECT name FROM public.migrations ORDER BY id");
    return {
      exists,
      tables: Object.fromEntries(t.rows.map((r) => [r.table_schema as string, r.n as number])),
      extensions: e.rows.map((r) => r.extname as string),
      migrations: m.rows.map((r) => r.name as string),
    };
  });
}

async function cleanPg(svc: Services["postgres"]): Promise<void> {
  await withPg(svc, svc.database, async (c) => {
    const dbs = await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'e2e\\_%'");
    for (const r of dbs.rows) await c.query(`DROP DATABASE "${r.datname}" WITH (FORCE)`);
    const roles = await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'e2e\\_%'");
    for (const r of roles.rows) {
      await c.query(`DROP OWNED BY "${r.rolname}"`).catch(() => undefined);
      await c.query(`DROP ROLE "${r.rolname}"`).catch(() => undefined);
    }
  });
}

// ---------------------------------------------------------------------------------------------- MongoDB

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mongodb driver is required untyped here
type Db = any;

export async function withMongo<T>(svc: Services["mongodb"], fn: (client: Db) => Promise<T>): Promise<T> {
  const client = new MongoClient(svc.uri, { serverSelectionTimeoutMS: 5000, directConnection: true });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Index names per collection of a database (collections that exist). */
export async function mongoState(
  svc: Services["mongodb"],
  database: string,
): Promise<Record<string, string[]>> {
  return withMongo(svc, async (client) => {
    const db = client.db(database);
    const out: Record<string, string[]> = {};
    for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) {
      const ix = await db.collection(c.name).listIndexes().toArray();
      out[c.name] = ix.map((i: { name: string }) => i.name).sort();
    }
    return out;
  });
}

async function cleanMongo(svc: Services["mongodb"]): Promise<void> {
  await withMongo(svc, async (client) => {
    const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
    for (const d of databases as { name: string }[])
      if (d.name.startsWith(PREFIX.mongo)) await client.db(d.name).dropDatabase();
  });
}

// ---------------------------------------------------------------------------------------------- Weaviate

async function weaviate(
  svc: Services["weaviate"],
  method: string,
  p: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${svc.scheme}://${svc.host}:${svc.port}${p}`, {
    method,
    headers: { Authorization: `Bearer ${svc.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export interface WeaviateClassState {
  vectorizer: string;
  properties: string[];
}

export async function weaviateClass(
  svc: Services["weaviate"],
  name: string,
): Promise<WeaviateClassState | undefined> {
  const r = await weaviate(svc, "GET", `/v1/schema/${name}`);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET /v1/schema/${name}: ${r.status} ${JSON.stringify(r.json)}`);
  const c = r.json as { vectorizer: string; properties?: { name: string }[] };
  return { vectorizer: c.vectorizer, properties: (c.properties ?? []).map((p) => p.name).sort() };
}

async function cleanWeaviate(svc: Services["weaviate"]): Promise<void> {
  const r = await weaviate(svc, "GET", "/v1/schema");
  const classes = ((r.json as { classes?: { class: string }[] }).classes ?? []).map((c) => c.class);
  for (const c of classes)
    if (c.startsWith(PREFIX.weaviate)) await weaviate(svc, "DELETE", `/v1/schema/${c}`);
}

// ---------------------------------------------------------------------------------------------- Kafka

export { withAdmin };

export interface TopicState {
  partitions: number;
  replicationFactor: number;
  /** Topic-level (dynamic) configs. */
  configs: Record<string, string>;
}

/** Partitions and dynamic configs of the topics that exist. */
export async function topics(svc: Services["kafka"], names: string[]): Promise<Record<string, TopicState>> {
  return withAdmin(svc, async (admin) => {
    const existing = new Set<string>(await admin.listTopics());
    const want = names.filter((n) => existing.has(n));
    if (want.length === 0) return {};
    const meta = await admin.fetchTopicMetadata({ topics: want });
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: want.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    const out: Record<string, TopicState> = {};
    for (const t of meta.topics as { name: string; partitions: { replicas: number[] }[] }[]) {
      const res = cfg.resources.find((r: { resourceName: string }) => r.resourceName === t.name);
      const configs: Record<string, string> = {};
      for (const c of res.configEntries as {
        configName: string;
        configValue: string;
        configSource: number;
      }[])
        if (c.configSource === 1) configs[c.configName] = c.configValue;
      out[t.name] = {
        partitions: t.partitions.length,
        replicationFactor: t.partitions[0]?.replicas.length ?? 0,
        configs,
      };
    }
    return out;
  });
}

/** Replaces a topic's dynamic configs (kafkajs alterConfigs: the full set), behind Pulumi's back. */
export async function alterTopicConfigs(
  svc: Services["kafka"],
  name: string,
  configs: Record<string, string>,
): Promise<void> {
  await withAdmin(svc, (admin) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name,
          configEntries: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
    }),
  );
}

async function cleanKafka(svc: Services["kafka"]): Promise<void> {
  await withAdmin(svc, async (admin) => {
    const doomed = ((await admin.listTopics()) as string[]).filter((t) => t.startsWith(PREFIX.kafka));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 30000 });
  });
}

// ---------------------------------------------------------------------------------------------- Redis

/** ACL GETUSER of `user` on every node of services.json (undefined where the node lacks it). */
export async function aclOnNodes(
  svc: Services["redis"],
  user: string,
): Promise<Array<{ node: string; rules?: string }>> {
  const out: Array<{ node: string; rules?: string }> = [];
  for (const n of svc.nodes) {
    const rules = await onRedis(n, svc.password, async (c) => {
      const r = (await c.call("ACL", "GETUSER", user)) as unknown[] | null;
      if (!r) return undefined;
      const m: Record<string, unknown> = {};
      for (let i = 0; i + 1 < r.length; i += 2) m[String(r[i])] = r[i + 1];
      return `flags=${JSON.stringify(m.flags)} keys=${String(m.keys)} commands=${String(m.commands)}`;
    });
    out.push({ node: `${n.host}:${n.port}`, rules });
  }
  return out;
}

/** True when `user` can log in with `password` on the node and read `key` (a key its rules allow). */
export async function canLogin(
  node: { host: string; port: number },
  user: string,
  password: string,
  key: string,
) {
  try {
    await onRedis(node, password, (c) => c.get(key), user);
    return true;
  } catch {
    return false;
  }
}

async function cleanRedis(svc: Services["redis"]): Promise<void> {
  // Their discovery logins on the Sentinels too (a run cut short leaves them; destroy keeps them).
  const servers = [
    ...svc.nodes.map((n) => ({ at: n, password: svc.password, persist: ["ACL", "SAVE"] })),
    ...svc.sentinels.map((n) => ({
      at: n,
      password: svc.sentinelPassword,
      persist: ["SENTINEL", "FLUSHCONFIG"],
    })),
  ];
  for (const { at, password, persist } of servers) {
    await onRedis(at, password, async (c) => {
      const users = ((await c.call("ACL", "USERS")) as string[]).filter((u) => u.startsWith(PREFIX.redis));
      if (users.length === 0) return;
      await c.call("ACL", "DELUSER", ...users);
      await c.call(persist[0], ...persist.slice(1));
    });
  }
}

/** Removes what earlier e2e runs left on the servers (their names start with {@link PREFIX}). */
export async function cleanEarlierRuns(s: DataServices): Promise<void> {
  await cleanPg(s.postgres);
  await cleanMongo(s.mongodb);
  await cleanWeaviate(s.weaviate);
  await cleanKafka(s.kafka);
  await cleanRedis(s.redis);
}
