/**
 * What the PostgreSQL integration tests share: the schema initialiser's inputs for the test server,
 * the provider as Pulumi's dynamic-provider host runs it and the engine's check/create and
 * check/diff/update steps, SQL as the administrator or another role, the tracking table, and
 * dropping the databases and roles a file made.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type * as Pg from "pg";
import {
  loadMigrations,
  Migration,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  PostgresSchemaProvider,
} from "../../init/postgres";
import { viaSerialization } from "./dynamic";
import type { Services } from "./servers";

type Svc = Services["postgres"];
export type PgProvider = Awaited<ReturnType<typeof viaSerialization>>["provider"];
/** A login other than the server's administrator. */
export type PgLogin = { user: string; password: string };

/** A migration from its file name and SQL. */
export function migration(name: string, sql: string): Migration {
  return { name, sql };
}

/**
 * The initialiser's inputs against the test server as its administrator; `spec` names the database,
 * the application role and the migrations, and may override any connection field.
 */
export function schemaInputs(
  svc: Svc,
  spec: Pick<PostgresSchemaInputs, "database" | "appUser" | "migrations"> & Partial<PostgresSchemaInputs>,
): PostgresSchemaInputs {
  return {
    host: svc.host,
    port: svc.port,
    adminUser: svc.user,
    password: svc.password,
    maintenanceDatabase: svc.database,
    appSchemas: [],
    serverSettings: {},
    serviceRoles: [],
    serviceRolePasswordsRevision: 0,
    timeoutSeconds: 30,
    appPasswordRevision: 0,
    ...spec,
  };
}

/** The provider as the engine's host runs it (serialized once per process). */
let cachedProvider: PgProvider | undefined;
export async function schemaProvider(): Promise<PgProvider> {
  cachedProvider ??= (await viaSerialization(new PostgresSchemaProvider())).provider;
  return cachedProvider;
}

/** check then create, as the engine does for a new resource. */
export async function createSchema(p: PgProvider, news: PostgresSchemaInputs) {
  const checked = await p.check!({}, news);
  assert.deepEqual(checked.failures, []);
  const r = await p.create!(checked.inputs as PostgresSchemaInputs);
  return { id: r.id, inputs: checked.inputs as PostgresSchemaInputs, outs: r.outs as PostgresSchemaOutputs };
}

/** check, diff, update, as the engine does for an existing one. */
export async function updateSchema(
  p: PgProvider,
  id: string,
  olds: PostgresSchemaOutputs,
  oldInputs: object,
  news: object,
) {
  const checked = await p.check!(oldInputs, news);
  assert.deepEqual(checked.failures, []);
  const d = await p.diff!(id, olds, checked.inputs);
  const r = await p.update!(id, olds, checked.inputs);
  return {
    changes: d.changes,
    inputs: checked.inputs as PostgresSchemaInputs,
    outs: r.outs as PostgresSchemaOutputs,
  };
}

/** Runs `fn` with a connected client to `database`, as the administrator or `as`. */
export async function withPgClient<T>(
  svc: Svc,
  database: string,
  fn: (c: Pg.Client) => Promise<T>,
  as?: PgLogin,
): Promise<T> {
  const { Client } = require("pg") as typeof Pg;
  const c = new Client({
    host: svc.host,
    port: svc.port,
    user: as?.user ?? svc.user,
    password: as?.password ?? svc.password,
    database,
  });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The rows of one statement in `database`, as the administrator or `as`. */
export function sql<T extends Pg.QueryResultRow = Record<string, unknown>>(
  svc: Svc,
  database: string,
  text: string,
  values: unknown[] = [],
  as?: PgLogin,
): Promise<T[]> {
  return withPgClient(svc, database, async (c) => (await c.query<T>(text, values)).rows, as);
}

/** The SQLSTATE the server answers `text` with as `as` (undefined when it succeeds). */
export async function refusal(
  svc: Svc,
  database: string,
  text: string,
  as: PgLogin,
): Promise<string | undefined> {
  try {
    await sql(svc, database, text, [], as);
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** The tracking table's rows. */
export const tracking = (svc: Svc, db: string) =>
  sql<{ id: number; hash: string; executed_at: Date }>(
    svc,
    db,
    "SELECT id, hash, executed_at FROM public.migrations ORDER BY id",
  );

/** Whether `relation` exists in `db`. */
export const exists = async (svc: Svc, db: string, relation: string) =>
  (await sql<{ r: string | null }>(svc, db, "SELECT to_regclass($1)::text AS r", [relation]))[0].r !== null;

/** The "applied migration" lines of a provider's log. */
export const migrationLines = (log: string[]) => log.filter((l) => l.startsWith("applied migration"));

/** Drops `databases`, then `roles` (an `after` hook's clean-up); a server that is down is left alone. */
export async function dropCreated(
  svc: Svc | undefined,
  databases: Iterable<string>,
  roles: Iterable<string>,
): Promise<void> {
  if (!svc) return;
  for (const db of databases)
    await sql(svc, svc.database, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(() => undefined);
  for (const role of roles)
    await sql(svc, svc.database, `DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
}

/** The seed's application schemas (§3.1), as the scenarios declare them. */
const SEED_SCHEMAS = ["iam", "model_registry", "system_config", "scheduler", "vector_store"];

/**
 * One file's scenarios against the seed's migrations: unique database and role names per tag (the file's
 * run id in them), the inputs for the test server, and `cleanup` for the file's `after` hook.
 */
export function seedScenarios() {
  const run = randomBytes(3).toString("hex");
  const repo = loadMigrations();
  const databases = new Set<string>();
  const roles = new Set<string>();
  let lastSvc: Svc | undefined;
  return {
    run,
    repo,
    /** Registers a database made outside `inputs` (a restore target) for the clean-up. */
    databases,
    /** Registers a role made outside `inputs` (a service role) for the clean-up. */
    roles,
    inputs(svc: Svc, tag: string, extra: Partial<PostgresSchemaInputs> = {}): PostgresSchemaInputs {
      lastSvc = svc;
      const database = `aipd_${run}_${tag}`;
      const appUser = `aipd_${run}_${tag}_app`;
      databases.add(database);
      roles.add(appUser);
      return schemaInputs(svc, {
        database,
        appUser,
        appPassword: `app-${run}-${tag}-pw`,
        appSchemas: SEED_SCHEMAS,
        migrations: repo,
        ...extra,
      });
    },
    cleanup: () => dropCreated(lastSvc, databases, roles),
  };
}
