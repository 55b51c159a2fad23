/**
 * What the unit tests of the MongoDB collections initialiser share: the seed's `task_status_cache`
 * collection, the initialiser's inputs, the server state after a fresh run, and a fake `Db` that records
 * the commands it is sent.
 */
import { CollectionSpec, defaultIndexName, MongoCollectionsInputs, ResolvedIndex } from "../../init/mongodb";
import { systemLogs as logs } from "./mongo-fixtures";

export { logs };

export const cache: CollectionSpec = {
  name: "task_status_cache",
  indexes: [
    { keys: [["task_id", 1]], unique: true },
    { name: "last_updated_ttl", keys: [["last_updated", -1]], expireAfterSeconds: 86400 },
  ],
};

export const base: MongoCollectionsInputs = {
  hosts: ["mongodb-0.mongodb-headless.data.svc.cluster.local:27017"],
  replicaSet: "rs0",
  username: "root",
  password: "pw-unit",
  authSource: "admin",
  database: "ai_platform",
  collections: [logs, cache],
  dropRemovedCollections: false,
  timeoutSeconds: 60,
};

export const idIndex: ResolvedIndex = { name: "_id_", keys: [["_id", 1]] };

/** The server state after a fresh run of `cols`. */
export function serverOf(cols: CollectionSpec[]): Map<string, ResolvedIndex[]> {
  return new Map(
    cols.map((c) => [
      c.name,
      [
        idIndex,
        ...c.indexes.map((ix) => {
          const r: ResolvedIndex = { name: ix.name ?? defaultIndexName(ix.keys), keys: ix.keys };
          if (ix.unique) r.unique = true;
          if (ix.expireAfterSeconds !== undefined) r.expireAfterSeconds = ix.expireAfterSeconds;
          return r;
        }),
      ],
    ]),
  );
}

/** A `Db` that records every command and answers from a script. */
export function fakeDb(answer: (cmd: Record<string, unknown>) => unknown = () => ({ ok: 1 })) {
  const sent: Record<string, unknown>[] = [];
  return {
    sent,
    async command(cmd: Record<string, unknown>) {
      sent.push(cmd);
      const r = answer(cmd);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

/** An error as the driver throws it for a server's refusal. */
export function serverError(code: number, codeName: string, message: string): Error {
  return Object.assign(new Error(message), { name: "MongoServerError", code, codeName });
}
