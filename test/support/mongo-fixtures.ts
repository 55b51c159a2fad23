/**
 * What the MongoDB tests share: the seed's collections (§3.4) as unit and integration tests declare
 * them, the collections initialiser's inputs for the test server and its serialized provider, a driver
 * `Db` for checking the server's side, and dropping the databases a file made.
 */
import { randomBytes } from "node:crypto";
import {
  type CollectionSpec,
  type MongoCollectionsInputs,
  MongoCollectionsProvider,
} from "../../init/mongodb";
import { viaSerialization } from "./dynamic";
import { recordedService, type Services } from "./servers";

export const systemLogs: CollectionSpec = {
  name: "system_logs",
  indexes: [
    { keys: [["timestamp", 1]] },
    {
      keys: [
        ["level", 1],
        ["timestamp", 1],
      ],
    },
  ],
};

/** The initialiser's inputs for `collections` in `database` of the test server (nothing dropped). */
export function collectionsInputs(
  svc: Services["mongodb"],
  database: string,
  collections: CollectionSpec[],
  extra: Partial<MongoCollectionsInputs> = {},
): MongoCollectionsInputs {
  return {
    hosts: [`${svc.host}:${svc.port}`],
    username: svc.username,
    password: svc.password,
    authSource: svc.authSource,
    database,
    collections,
    dropRemovedCollections: false,
    timeoutSeconds: 30,
    ...extra,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- driver Db from an untyped require
export type Db = any;

/** Runs `fn` with the driver's `Db` for `database`, as the test server's administrator. */
export async function withDb<T>(
  svc: Services["mongodb"],
  database: string,
  fn: (db: Db) => Promise<T>,
): Promise<T> {
  const { MongoClient } = require("mongodb");
  const client = new MongoClient(svc.uri, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  try {
    return await fn(client.db(database));
  } finally {
    await client.close();
  }
}

/** Drops `databases` (an `after` hook's clean-up); a server that is down is left alone. */
export async function dropDatabases(svc: Services["mongodb"] | undefined, databases: Iterable<string>) {
  const names = [...databases];
  if (!svc || names.length === 0) return;
  try {
    for (const d of names) await withDb(svc, d, (db) => db.dropDatabase());
  } catch {
    // The server is down (a failing test says so already).
  }
}

export const taskCache: CollectionSpec = {
  name: "task_status_cache",
  indexes: [
    { keys: [["task_id", 1]], unique: true },
    {
      // Order matters: {status, last_updated}, not the alphabetical {last_updated, status}.
      keys: [
        ["status", 1],
        ["last_updated", -1],
      ],
    },
  ],
};
export const configurations: CollectionSpec = { name: "configurations", indexes: [] };

/** The collections initialiser as the engine's host runs it, from its serialized text. */
export async function collectionsProvider() {
  return (await viaSerialization(new MongoCollectionsProvider())).provider;
}

/** Collection → its indexes (`_id_` left out) as `name: {keys} [unique]`, straight from the server. */
export async function serverState(
  svc: Services["mongodb"],
  database: string,
): Promise<Record<string, string[]>> {
  return withDb(svc, database, async (db) => {
    const out: Record<string, string[]> = {};
    const cols: { name: string }[] = await db.listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of cols.sort((a, b) => a.name.localeCompare(b.name))) {
      const idx: { name: string; key: Record<string, number>; unique?: boolean }[] = await db
        .collection(name)
        .listIndexes()
        .toArray();
      out[name] = idx
        .filter((i) => i.name !== "_id_")
        .map((i) => `${i.name}: ${JSON.stringify(i.key)}${i.unique ? " unique" : ""}`)
        .sort();
    }
    return out;
  });
}

/** One file's databases: unique names per tag (the file's run id in them), dropped by `cleanup`. */
export function scenarioDatabases() {
  const run = randomBytes(3).toString("hex");
  const databases = new Set<string>();
  return {
    dbName(tag: string): string {
      const name = `aipd_it_${run}_${tag}`;
      databases.add(name);
      return name;
    },
    cleanup: () => dropDatabases(recordedService("mongodb"), databases),
  };
}
