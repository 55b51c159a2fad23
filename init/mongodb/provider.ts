/**
 * The MongoDB collections provider: plans from what the server has on every run, then applies the plan
 * (./plan.ts, ./apply.ts) and converges the application user (./app-user.ts). The driver is required
 * inside the methods: Pulumi serializes this class.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseHostPort } from "../shared/address-map";
import { inPlaceDiff } from "../shared/diff";
import { observeForDrift } from "../shared/observe";
import { partialFailure } from "../shared/partial";
import { isForwardRefusal, openForwarder } from "../shared/port-forward";
import { progress } from "../shared/progress";
import { mayRetry, withSession } from "../shared/retry";
import { containsUnknown, endpointListFailures, known } from "../shared/unknown";
import { AppliedOps, applyOps, CommandDb, OpsFailed, partialOwned } from "./apply";
import { convergeAppUser, defaultAppRoles, missingRoles, observeAppUser } from "./app-user";
import { mongoTarget } from "./forward";
import { comparableCollections, nextOwned, observedCollections, planCollections, planIndexes } from "./plan";
import {
  MongoCollectionsInputs,
  MongoCollectionsOutputs,
  observedIndex,
  refusedIndexChanges,
  ResolvedIndex,
  specFailures,
} from "./spec";

/** The parts of a driver `Db` the provider uses (typed locally: the module is required lazily). */
interface MongoDb extends CommandDb {
  listCollections(
    filter: Record<string, unknown>,
    options: { nameOnly: boolean },
  ): { toArray(): Promise<{ name: string; type?: string }[]> };
  collection(name: string): {
    listIndexes(): { toArray(): Promise<Parameters<typeof observedIndex>[0][]> };
  };
}

/** The provider. The driver is required inside the methods: Pulumi serializes this object. */
export class MongoCollectionsProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<MongoCollectionsInputs>,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    // Values not known yet (a preview) are checked by the real run.
    const collections = known(news.collections) ?? [];
    const failures = [...specFailures(collections)];
    // Only compare with the old config when both are well formed (a malformed one is reported above).
    if (failures.length === 0) failures.push(...refusedIndexChanges(known(olds.collections), collections));
    failures.push(...endpointListFailures("hosts", news.hosts));
    const { observe, ...inputs } = news;
    delete inputs.appUserMissing;
    // Only an existing resource (olds has a database) with valid inputs is worth reading.
    if (observe && olds.database && inputs.appUser && failures.length === 0) {
      const drifted = await observeForDrift(
        "mongodb-collections",
        `user ${inputs.appUser}`,
        inputs,
        (bounded) =>
          this.withDb(bounded, (db) => this.appUserDrifted(db, { ...inputs, ownedIndexes: [], log: [] })),
      );
      if (drifted) inputs.appUserMissing = true;
    }
    return { inputs, failures };
  }

  async diff(
    _id: string,
    olds: MongoCollectionsOutputs,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    // Collections are compared in their canonical form (key order, default index names).
    const collectionsChanged =
      containsUnknown(news.collections) ||
      comparableCollections(olds.collections) !== comparableCollections(news.collections);
    return inPlaceDiff(
      olds,
      news,
      ["log", "ownedIndexes", "appUserDrifted", "appUserMissing", "collections"],
      collectionsChanged || olds.appUserDrifted === true || news.appUserMissing === true,
    );
  }

  async create(inputs: MongoCollectionsInputs): Promise<pulumi.dynamic.CreateResult> {
    const id = `mongodb-collections-${inputs.database}`;
    return { id, outs: await this.converge(id, inputs, undefined, true) };
  }

  async update(
    id: string,
    olds: MongoCollectionsOutputs,
    news: MongoCollectionsInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const setPassword =
      olds.appPassword !== news.appPassword || olds.appUser !== news.appUser || news.appUserMissing === true;
    return { outs: await this.converge(id, news, olds, setPassword) };
  }

  async read(id: string, props: MongoCollectionsOutputs): Promise<pulumi.dynamic.ReadResult> {
    const owned = props.ownedIndexes ?? [];
    const { actual, drifted } = await this.withDb(props, async (db) => ({
      actual: await this.observe(
        db,
        props.collections.map((c) => c.name),
      ),
      drifted: props.appUser ? await this.appUserDrifted(db, props) : false,
    }));
    const collections = observedCollections(props.collections, actual, owned);
    return { id, props: { ...props, collections, appUserDrifted: drifted } };
  }

  /**
   * Keeps every collection and the application user, whatever `dropRemovedCollections` says: delete
   * also runs on `pulumi destroy` and when the resource's URN changes (a rename, a new parent without
   * an alias), where the data is still wanted. Only an update that removes a collection drops it.
   */
  async delete(_id: string, props: MongoCollectionsOutputs): Promise<void> {
    const why = props.dropRemovedCollections
      ? "mongodb.dropRemovedCollections applies to collections an update removes from config, never to delete"
      : "mongodb.dropRemovedCollections is false";
    progress("mongodb-collections").log(
      `kept collections ${props.collections.map((c) => c.name).join(", ")} in database ${props.database}, with their documents and indexes (${why})`,
    );
  }

  /**
   * Brings the database to the desired collections and indexes from whatever the server has; safe to
   * re-run after a run that stopped half way. `previous` is the state of the last run. A run that
   * fails after creating or dropping an index throws a {@link partialFailure} whose outputs record the
   * ownership reached, with `collections` still those of the last converged run: the next run then
   * drops what this one created if it left config, and still sees the collections that left config.
   */
  private async converge(
    id: string,
    inputs: MongoCollectionsInputs,
    previous: MongoCollectionsOutputs | undefined,
    setAppPassword: boolean,
  ): Promise<MongoCollectionsOutputs> {
    const { log, lines } = progress("mongodb-collections");
    const collections = inputs.collections ?? [];
    const failures = specFailures(collections);
    if (failures.length > 0) throw new Error(failures.map((f) => f.reason).join("; "));
    const sameDb = previous !== undefined && previous.database === inputs.database;
    if (previous && !sameDb) {
      log(
        `database changed from ${previous.database} to ${inputs.database}: kept collections ${previous.collections
          .map((c) => c.name)
          .join(", ")} in ${previous.database} as they are`,
      );
    }
    const before = sameDb ? previous : undefined;
    let owned = before?.ownedIndexes ?? [];
    const removed = (before?.collections ?? [])
      .map((c) => c.name)
      .filter((n) => !collections.some((c) => c.name === n));
    // Ownership reached by an attempt that failed part way: kept across the attempts of a retried run
    // (the next attempt plans with it), and recorded as a partial failure if the run fails.
    let movedOwnership = false;
    try {
      await this.withDb(inputs, async (db) => {
        if (inputs.appUser && inputs.appPassword !== undefined) {
          const roles = inputs.appRoles ?? defaultAppRoles(inputs.database);
          const want = {
            user: inputs.appUser,
            password: inputs.appPassword,
            roles,
            database: inputs.database,
          };
          await convergeAppUser(db, want, setAppPassword || previous?.appUserDrifted === true, log);
        }
        if (previous?.appUser && previous.appUser !== inputs.appUser) {
          log(`kept user ${previous.appUser} in database ${previous.database} (no longer in config)`);
        }
        const actual = await this.observe(db, [...collections.map((c) => c.name), ...removed]);
        const cols = planCollections(
          collections,
          new Set(actual.keys()),
          removed,
          inputs.dropRemovedCollections,
        );
        const idx = planIndexes(collections, actual, owned, before?.collections);
        if (idx.refused.length > 0) {
          throw new Error(
            `refusing to change indexes in database ${inputs.database}: ${idx.refused.join("; ")}`,
          );
        }
        // Said once, when this resource first meets the database; not on every later run.
        if (!previous) idx.adopted.forEach((line) => log(line));
        let done: AppliedOps;
        try {
          done = await applyOps(db, [...cols.create, ...idx.ops, ...cols.drop], log);
        } catch (e) {
          const part = (e as Partial<OpsFailed>).done;
          if (part && part.created.length + part.dropped.length > 0) {
            owned = partialOwned(owned, part);
            movedOwnership = true;
          }
          throw e;
        }
        cols.kept.forEach((line) => log(line));
        idx.kept.forEach((line) => log(line));
        owned = nextOwned(owned, done.created, collections);
      });
    } catch (e) {
      if (!movedOwnership) throw e;
      const reached = { ...inputs, collections: before?.collections ?? [], ownedIndexes: owned, log: lines };
      throw partialFailure((e as Error).message, id, reached);
    }
    // What check observed is not an output (and an undefined key would not serialize).
    const declared = { ...inputs };
    delete declared.appUserMissing;
    return { ...declared, ownedIndexes: owned, appUserDrifted: false, log: lines };
  }

  /** Whether the application user is missing or lacks a role (for `read` and `check`). */
  private async appUserDrifted(db: MongoDb, props: MongoCollectionsOutputs): Promise<boolean> {
    const observed = await observeAppUser(db, props.appUser!);
    return (
      !observed.exists ||
      missingRoles(props.appRoles ?? defaultAppRoles(props.database), observed.roles).length > 0
    );
  }

  /** The indexes of each named collection that exists. */
  private async observe(db: MongoDb, names: string[]): Promise<Map<string, ResolvedIndex[]>> {
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    const result = new Map<string, ResolvedIndex[]>();
    for (const name of names) {
      if (!existing.has(name) || result.has(name)) continue;
      const raw = await db.collection(name).listIndexes().toArray();
      result.set(name, raw.map(observedIndex));
    }
    return result;
  }

  /**
   * Connects, runs `fn` against the database, closes; again from the start, up to the deadline, when
   * the server answers that a command may be retried (see shared/retry's withSession).
   */
  private async withDb<T>(inputs: MongoCollectionsInputs, fn: (db: MongoDb) => Promise<T>): Promise<T> {
    const { MongoClient } = require("mongodb");
    const what =
      `MongoDB at ${inputs.hosts.join(",")}` +
      `${inputs.replicaSet ? ` (replica set ${inputs.replicaSet})` : ""}` +
      ` as ${inputs.username} (authSource ${inputs.authSource})`;
    const deadlineMs = inputs.timeoutSeconds * 1000;
    const started = Date.now();
    const options: Record<string, unknown> = {
      auth: { username: inputs.username, password: inputs.password },
      authSource: inputs.authSource,
      appName: "ai-platform-data-init",
      connectTimeoutMS: 5000,
    };
    if (inputs.replicaSet) options.replicaSet = inputs.replicaSet;
    if (inputs.directConnection !== undefined) options.directConnection = inputs.directConnection;
    if (inputs.tls !== undefined) options.tls = inputs.tls;
    type Client = { db(name: string): MongoDb; close(): Promise<void> };
    const fw = await openForwarder(
      inputs.forward,
      parseHostPort(inputs.hosts[0]),
      progress("mongodb-collections").log,
    );
    return withSession<Client, T>(
      {
        what,
        workWhat: `${what}, database ${inputs.database}`,
        deadlineMs,
        startedAt: started,
        secrets: [inputs.password, inputs.appPassword],
        log: progress("mongodb-collections").log,
        connect: async () => {
          // Each attempt waits for a server at most 2 s (the driver re-checks within it), never past the deadline.
          const left = deadlineMs - (Date.now() - started);
          const wait = Math.max(500, Math.min(2000, left));
          // Through port-forwards: the primary's own forward, directly (mongodb/forward.ts).
          const at = await mongoTarget(inputs, options, fw, wait);
          const c = new MongoClient(`mongodb://${at.hosts.join(",")}/`, {
            ...at.options,
            serverSelectionTimeoutMS: wait,
            // A socket that stops answering mid-run (a stalled port-forward) fails its operation
            // rather than holding it; an index build may take long, so the whole deadline.
            socketTimeoutMS: Math.max(wait, left),
          });
          try {
            await c.connect();
            // Authenticated, and the database answers: connect() alone may not have selected a server.
            await c.db(inputs.database).command({ ping: 1 });
            return c;
          } catch (e) {
            await c.close().catch(() => undefined);
            throw e;
          }
        },
        close: (c) => c.close(),
        isFatal: (e) => {
          const err = e as { code?: number; message?: string };
          // 18 AuthenticationFailed, 13 Unauthorized: a wrong password does not get better by waiting.
          if (err?.code === 18 || err?.code === 13) return true;
          if (/Authentication failed|requires authentication|not authorized/i.test(err?.message ?? "")) {
            return true;
          }
          return isForwardRefusal(e) || !mayRetry(e);
        },
      },
      (c) => fn(c.db(inputs.database)),
    ).finally(() => fw.close());
  }
}
