/**
 * What the PostgreSQL schema initialiser does on the server: an administrator session (connect with
 * retry, run, close; shared/retry's withSession), the migrations through postgres-migrations, and the
 * reads of the tracking table and of the application role's privileges. Every client is required
 * inside the functions: Pulumi serializes the provider that calls them.
 */
import type * as Pg from "pg";
import { openForwarder } from "../shared/port-forward";
import { mayRetry, withSession } from "../shared/retry";
import { loginRotating, RotatingLogin } from "../shared/rotation";
import {
  AppliedMigration,
  Migration,
  migrationChecksum,
  migrationId,
  PostgresSchemaInputs,
  SESSION_TIMEOUT_DEFAULTS,
  TRACKING_TABLE,
} from "./spec";
import { AppRoleElevation, ELEVATED_ATTRIBUTES, SchemaGrants } from "./statements";

/** The subset of the pg client used here (typed locally: the module is required lazily). */
type PgClient = Pick<Pg.Client, "query" | "end">;

/** Runs the migrations through postgres-migrations, one progress line per migration applied. */
export async function migrate(
  client: PgClient,
  inputs: PostgresSchemaInputs,
  log: (line: string) => void,
): Promise<void> {
  const fsm = require("fs");
  const os = require("os");
  const pathm = require("path");
  const { migrate } = require("postgres-migrations");
  const byId = new Map(inputs.migrations.map((m) => [migrationId(m.name), m]));
  const dir: string = fsm.mkdtempSync(pathm.join(os.tmpdir(), "aipd-pg-migrations-"));
  let running: Migration | undefined;
  let failed: unknown;
  try {
    for (const m of inputs.migrations) fsm.writeFileSync(pathm.join(dir, m.name), m.sql, { mode: 0o600 });
    // The library decides whether its table exists by name in any schema: a `migrations` table of
    // the application's in another schema would fool it. Creating public.migrations first with the
    // library's own statement (IF NOT EXISTS) settles that; the library then records its row 0.
    const table = await client.query<{ present: boolean }>(
      "SELECT to_regclass('public.migrations') IS NOT NULL AS present",
    );
    if (!table.rows[0].present) {
      const ddl = require.resolve("postgres-migrations/dist/migrations/0_create-migrations-table.sql");
      await client.query(fsm.readFileSync(ddl, "utf8"));
    }
    // The library rethrows a failed migration's error as text: the query error is kept here, so the
    // retry still sees its code (a deadlock or lock timeout is worth running again).
    const watched = {
      query: (...args: unknown[]) =>
        (client.query as (...a: unknown[]) => Promise<unknown>)(...args).catch((e: unknown) => {
          failed = e;
          throw e;
        }),
    };
    await migrate({ client: watched }, dir, {
      logger: (msg: string) => {
        const started = /^Starting migration: (-?\d+) /.exec(msg);
        if (started) running = byId.get(Number(started[1]));
        const finished = /^Finished migration: (-?\d+) /.exec(msg);
        if (!finished) return;
        const id = Number(finished[1]);
        const m = byId.get(id);
        if (id === 0) log(`created the tracking table ${TRACKING_TABLE}`);
        else if (m) log(`applied migration ${m.name} (sha1 ${migrationChecksum(m).slice(0, 12)})`);
        running = undefined;
      },
    });
  } catch (e) {
    const reason = String((e as Error)?.message ?? e)
      .split("Reason: ")
      .pop()!
      .trim();
    if (running) {
      const next = mayRetry(failed)
        ? "The server says the same statements may succeed when run again (a lock or serialization conflict)"
        : "It was never applied, so fix the file and run again";
      throw Object.assign(
        new Error(
          `migration ${running.name} failed and was rolled back: nothing of it is applied and ${TRACKING_TABLE} does not list it; the migrations before it stay applied. ${next}. Cause: ${reason}`,
        ),
        { cause: failed },
      );
    }
    throw Object.assign(new Error(`postgres-migrations refused to run: ${reason}`), { cause: failed });
  } finally {
    fsm.rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows of the tracking table (without the library's row 0); none when it does not exist yet. */
export async function readApplied(client: PgClient): Promise<AppliedMigration[]> {
  // The catalog, not information_schema: its views cost a planner's while on every run.
  const cols = await client.query<{ column_name: string }>(
    "SELECT attname AS column_name FROM pg_attribute WHERE attrelid = to_regclass('public.migrations') AND attnum > 0 AND NOT attisdropped",
  );
  if (cols.rowCount === 0) return [];
  const names = new Set(cols.rows.map((r) => r.column_name));
  if (!["id", "name", "hash"].every((c) => names.has(c))) {
    throw new Error(
      `${TRACKING_TABLE} exists but is not postgres-migrations' tracking table (columns ${[...names].join(", ")}): another tool uses that name in this database`,
    );
  }
  const rows = await client.query<{ id: number; name: string; hash: string }>(
    "SELECT id, name, hash FROM public.migrations WHERE id > 0 ORDER BY id",
  );
  return rows.rows.map((r) => ({ id: Number(r.id), name: r.name, checksum: r.hash }));
}

/** Whether the role holds an explicit CONNECT on the database. */
export async function hasConnectGrant(client: PgClient, database: string, role: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
       WHERE d.datname = $1 AND a.privilege_type = 'CONNECT'
         AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)) AS ok`,
    [database, role],
  );
  return r.rows[0].ok;
}

/** What the application role holds beyond its grants (none when the role or the database does not exist). */
export async function observeElevation(
  client: PgClient,
  role: string,
  database: string,
): Promise<AppRoleElevation> {
  const r = await client.query<{ attributes: string[] | null; owns_database: boolean }>(
    `SELECT ARRAY_REMOVE(ARRAY[
         CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolcreatedb THEN 'CREATEDB' END,
         CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN r.rolreplication THEN 'REPLICATION' END,
         CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END], NULL) AS attributes,
       EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = $2 AND d.datdba = r.oid) AS owns_database
     FROM pg_roles r WHERE r.rolname = $1`,
    [role, database],
  );
  const row = r.rows[0];
  const attributes = (row?.attributes ?? []).filter((a) =>
    (ELEVATED_ATTRIBUTES as readonly string[]).includes(a),
  );
  return { attributes, ownsDatabase: row?.owns_database ?? false };
}

/**
 * In the application database: which of `schemas` the role owns, and whether it holds any privilege on
 * the tracking table.
 */
export async function observeOwnership(
  client: PgClient,
  role: string,
  schemas: string[],
): Promise<{ ownedSchemas: string[]; trackingTableAccess: boolean }> {
  const owned = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
     WHERE r.rolname = $1 AND n.nspname = ANY($2::text[]) ORDER BY n.nspname`,
    [role, schemas],
  );
  const tracking = await client.query<{ access: boolean }>(
    `SELECT CASE WHEN to_regclass('public.migrations') IS NULL
         OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN false
       ELSE has_table_privilege($1, 'public.migrations', 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')
       END AS access`,
    [role],
  );
  return { ownedSchemas: owned.rows.map((x) => x.nspname), trackingTableAccess: tracking.rows[0].access };
}

/** The application role's privileges on each schema (all false when the role does not exist). */
export async function observeGrants(
  client: PgClient,
  role: string,
  schemas: string[],
): Promise<SchemaGrants[]> {
  const r = await client.query<{
    schema: string;
    exists: boolean;
    role_exists: boolean;
    usage: boolean;
    tables: boolean;
    sequences: boolean;
    default_tables: boolean;
    default_sequences: boolean;
  }>(
    `WITH app AS (SELECT oid FROM pg_roles WHERE rolname = $1),
          s AS (SELECT name, n.oid FROM unnest($2::text[]) AS name LEFT JOIN pg_namespace n ON n.nspname = name)
     SELECT s.name AS schema, s.oid IS NOT NULL AS exists, EXISTS (SELECT 1 FROM app) AS role_exists,
       CASE WHEN s.oid IS NULL OR NOT EXISTS (SELECT 1 FROM app) THEN false ELSE
         has_schema_privilege($1, s.oid, 'USAGE') END AS usage,
       CASE WHEN s.oid IS NULL OR NOT EXISTS (SELECT 1 FROM app) THEN false ELSE COALESCE((
         SELECT bool_and(has_table_privilege($1, c.oid, 'SELECT') AND has_table_privilege($1, c.oid, 'INSERT')
                     AND has_table_privilege($1, c.oid, 'UPDATE') AND has_table_privilege($1, c.oid, 'DELETE'))
         FROM pg_class c WHERE c.relnamespace = s.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')), true) END AS tables,
       CASE WHEN s.oid IS NULL OR NOT EXISTS (SELECT 1 FROM app) THEN false ELSE COALESCE((
         SELECT bool_and(has_sequence_privilege($1, c.oid, 'USAGE') AND has_sequence_privilege($1, c.oid, 'SELECT'))
         FROM pg_class c WHERE c.relnamespace = s.oid AND c.relkind = 'S'), true) END AS sequences,
       (SELECT count(DISTINCT a.privilege_type) = 4 FROM pg_default_acl d, aclexplode(d.defaclacl) a
         WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
           AND d.defaclnamespace = s.oid AND d.defaclobjtype = 'r' AND a.grantee = (SELECT oid FROM app)
           AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')) AS default_tables,
       (SELECT count(DISTINCT a.privilege_type) = 2 FROM pg_default_acl d, aclexplode(d.defaclacl) a
         WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
           AND d.defaclnamespace = s.oid AND d.defaclobjtype = 'S' AND a.grantee = (SELECT oid FROM app)
           AND a.privilege_type IN ('USAGE', 'SELECT')) AS default_sequences
     FROM s`,
    [role, schemas],
  );
  return r.rows.map((x) => ({
    schema: x.schema,
    exists: x.exists,
    usage: x.usage,
    tables: x.tables,
    sequences: x.sequences,
    defaultTables: x.default_tables,
    defaultSequences: x.default_sequences,
  }));
}

/**
 * Connects as the administrator to `database`, runs `work`, disconnects; retried up to the deadline
 * that started at `startedAt` (withSession: connecting, and the work again when the server answers
 * with a retriable error). With `previousPassword`, falls back to it when the server refuses the
 * current one (see shared/rotation).
 */
export async function adminSession<T>(
  inputs: Pick<PostgresSchemaInputs, "host" | "port" | "adminUser" | "password" | "timeoutSeconds"> &
    Partial<PostgresSchemaInputs>,
  database: string,
  log: (line: string) => void,
  startedAt: number,
  work: (login: RotatingLogin<Pg.Client>) => Promise<T>,
  previousPassword?: string,
): Promise<T> {
  const { Client } = require("pg") as typeof Pg;
  const deadlineMs = inputs.timeoutSeconds * 1000;
  const limits = {
    lockTimeoutSeconds: inputs.lockTimeoutSeconds ?? SESSION_TIMEOUT_DEFAULTS.lockTimeoutSeconds,
    statementTimeoutSeconds:
      inputs.statementTimeoutSeconds ?? SESSION_TIMEOUT_DEFAULTS.statementTimeoutSeconds,
  };
  // Through a port-forward to the primary's pod when `forward` says so, open for this session only.
  const server = { host: inputs.host, port: inputs.port };
  const fw = await openForwarder(inputs.forward, server, log);
  const open = async (password: string): Promise<Pg.Client> => {
    const at = await fw.resolve(server);
    const client = new Client({
      host: at.host,
      port: at.port,
      user: inputs.adminUser,
      password,
      database,
      application_name: "ai-platform-data-init",
      connectionTimeoutMillis: Math.min(10_000, deadlineMs),
      // Sent with the login, so they hold for every statement of the session (shared/retry.ts stops
      // the session itself at the deadline; these stop a statement on the server).
      lock_timeout: limits.lockTimeoutSeconds * 1000,
      statement_timeout: limits.statementTimeoutSeconds * 1000,
    });
    // A connection dropped while idle must not crash the provider.
    client.on("error", () => undefined);
    try {
      await client.connect();
      // Deterministic: the tracking table and any unqualified name go to public.
      await client.query("SET search_path TO public");
      return client;
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
  };
  return withSession<RotatingLogin<Pg.Client>, T>(
    {
      what: sessionWhat(inputs, database),
      deadlineMs,
      startedAt,
      secrets: [
        inputs.password,
        inputs.appPassword,
        ...Object.values(inputs.serviceRolePasswords ?? {}),
        previousPassword,
      ],
      log,
      // 28P01 invalid_password.
      connect: () =>
        loginRotating(
          inputs.password,
          previousPassword,
          open,
          (e) => (e as { code?: string })?.code === "28P01",
        ),
      close: (login) => login.client.end(),
      isFatal: (e) => !mayRetry(e),
    },
    work,
  ).finally(() => fw.close());
}

function sessionWhat(
  inputs: Pick<PostgresSchemaInputs, "host" | "port" | "adminUser">,
  database: string,
): string {
  return `PostgreSQL at ${inputs.host}:${inputs.port} (database "${database}", user "${inputs.adminUser}")`;
}
