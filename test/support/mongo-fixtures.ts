/**
 * What the MongoDB tests share: the seed's `system_logs` collection (§3.4) as unit and integration tests
 * declare it, the collections initialiser's inputs for the test server, a driver `Db` for checking the
 * server's side, and dropping the databases a file made.
 */
import type { CollectionSpec, MongoCollectionsInputs } from "../../init/mongodb";
import type { Services } from "./servers";

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
