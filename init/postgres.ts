/**
 * The PostgreSQL schema: application role and database (created when missing, for `external` mode),
 * then the versioned SQL migrations of init/postgres/migrations, then the application role's grants.
 *
 * Migrations run through `postgres-migrations` (5.3.0): each in its own transaction together with its
 * row in the tracking table `public.migrations` (id, name, sha1 of file name + SQL), under an advisory
 * lock, refusing to run when an applied migration's hash differs. The library reads a directory, so
 * the provider writes the migrations it received as input into a private temporary directory for the
 * run: the SQL travels in the inputs (read at program time by {@link loadMigrations}), so the diff is
 * exact and any checkout can refresh or update the stack. What this file adds around the library:
 * the pure checksum comparison in `check` (old inputs against new), a comparison with the tracking
 * table before anything runs (an error that names the file and says how to proceed), the pgvector
 * availability check, and one progress line per migration.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as Pg from "pg";
import { inPlaceDiff } from "./shared/diff";
import { initialiserOptions } from "./shared/options";
import { partialFailure } from "./shared/partial";
import { ForwardSpec, openForwarder } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { mayRetry, withSession } from "./shared/retry";
import { loginRotating, RotatingLogin } from "./shared/rotation";
import { isUnknown, UNKNOWN } from "./shared/unknown";
import { codeVersion, VersionedInputs } from "./shared/version";

/** A versioned SQL migration, as kept in init/postgres/migrations. */
export interface Migration {
  /** File name, `NNNN_snake_case.sql`; NNNN numbers the migrations 1, 2, 3... without gaps. */
  name: string;
  /** The file's SQL, run in one transaction. */
  sql: string;
}

/** A row of the tracking table, as `read` reports it. */
export interface AppliedMigration {
  /** The number of the migration (0 is the library's own tracking-table migration). */
  id: number;
  /** The name without number and extension (`vector_extension`), as the library records it. */
  name: string;
  /** sha1 of file name + SQL, as the library computes it. */
  checksum: string;
}

/** Inputs of the provider (plain values, as the engine passes them, after `check`). */
export interface PostgresSchemaInputs extends VersionedInputs {
  host: string;
  port: number;
  /** The administrator role the initialiser connects as. */
  adminUser: string;
  /**
   * The administrator's password. A new value is set on the server by the update that brings it,
   * logged in with the previous one (the chart sets it only when the data directory is created).
   */
  password: string;
  /** An existing database to connect to for creating the role and the application database. */
  maintenanceDatabase: string;
  /** The application database, created when missing. */
  database: string;
  /** The role applications connect as: created when missing, granted DML on `appSchemas`. */
  appUser: string;
  /** Its password: needed to create the role (external mode); when given, the role gets it. */
  appPassword?: string;
  /** Schemas (made by the migrations) on which the application role gets usage and DML. */
  appSchemas: string[];
  /** The migrations, in order. */
  migrations: Migration[];
  /** Seconds to keep retrying to reach the server. */
  timeoutSeconds: number;
  /**
   * Set by `check`: counts changes of `appPassword`, so that `diff` sees a rotation without the
   * password being stored in any output.
   */
  appPasswordRevision: number;
  /** How to reach the server from here (shared/port-forward.ts); unset: as given. Never a change. */
  forward?: ForwardSpec;
}

/** Outputs: the inputs except `appPassword`, the tracking table's rows and the last run's steps. */
export interface PostgresSchemaOutputs extends Omit<PostgresSchemaInputs, "appPassword"> {
  /** Rows of the tracking table (without the library's own row 0). */
  applied: AppliedMigration[];
  /** Steps of the last create or update: one line per role, database, migration and schema grant. */
  log: string[];
}

/** The application schemas made by the migrations in this repository (seed §1). */
export const DEFAULT_APP_SCHEMAS = ["iam", "model_registry", "system_config", "scheduler", "vector_store"];

/** The stack config key of the server image, named in the error when pgvector is missing. */
export const IMAGE_SETTING = "ai-platform-data:postgres.images.postgresql";

/** The tracking table postgres-migrations keeps (its name is fixed by the library). */
export const TRACKING_TABLE = "public.migrations";

/** File names of migrations: a four-digit number, an underscore, a snake_case name (the library keeps 100 characters). */
const MIGRATION_NAME = /^(\d{4})_([a-z0-9][a-z0-9_]{0,99})\.sql$/;

/** The marker with which postgres-migrations runs a file outside a transaction: refused here. */
const NO_TRANSACTION_MARKER = "-- postgres-migrations disable-transaction";

/** Lower-case SQL identifiers, as the stack config allows them. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Keys whose change `diff` reports; `timeoutSeconds` only says how long to wait, and is not one. */
const DIFF_KEYS = [
  "codeVersion",
  "host",
  "port",
  "adminUser",
  "password",
  "maintenanceDatabase",
  "database",
  "appUser",
  "appSchemas",
  "migrations",
  "appPasswordRevision",
];

/** Reads the migration files at program time, in name order (their contents become an input). */
export function loadMigrations(dir: string = path.join(__dirname, "postgres", "migrations")): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(dir, name), "utf8") }));
}

/** The migration's number (`0007_x.sql` → 7). */
export function migrationId(name: string): number {
  return parseInt(name, 10);
}

/** sha1 of file name + SQL: the hash postgres-migrations stores in the tracking table. */
export function migrationChecksum(m: Migration): string {
  const crypto = require("crypto");
  return crypto
    .createHash("sha1")
    .update(m.name + m.sql, "utf8")
    .digest("hex");
}

/** Double-quotes an identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A check failure. */
export interface Failure {
  property: string;
  reason: string;
}

/** Problems of a migration list on its own: names, numbering, transactions. */
export function validateMigrations(migrations: unknown): Failure[] {
  if (!Array.isArray(migrations)) {
    return [{ property: "migrations", reason: "must be a list of {name, sql} (use loadMigrations())" }];
  }
  const failures: Failure[] = [];
  const seen = new Map<number, string>();
  migrations.forEach((m: Partial<Migration>, i) => {
    const property = `migrations[${i}]`;
    if (typeof m?.name !== "string" || !MIGRATION_NAME.test(m.name)) {
      failures.push({
        property,
        reason: `file name ${JSON.stringify(m?.name)} must look like 0001_snake_case_name.sql`,
      });
      return;
    }
    if (typeof m.sql !== "string" || m.sql.trim() === "") {
      failures.push({ property, reason: `migration ${m.name} is empty` });
      return;
    }
    if (m.sql.includes(NO_TRANSACTION_MARKER)) {
      failures.push({
        property,
        reason: `migration ${m.name} asks to run outside a transaction ("${NO_TRANSACTION_MARKER}"); every migration here runs in its own transaction, so a failure leaves nothing of it behind`,
      });
    }
    if (/\bset\s+(session\s+)?search_path\b/i.test(stripComments(m.sql))) {
      failures.push({
        property,
        reason: `migration ${m.name} sets search_path for the session, which would outlive it and move the tracking table; schema-qualify names or use SET LOCAL search_path`,
      });
    }
    const id = migrationId(m.name);
    const other = seen.get(id);
    if (other) failures.push({ property, reason: `migrations ${other} and ${m.name} have the same number` });
    seen.set(id, m.name);
  });
  if (failures.length === 0) {
    const ids = [...seen.keys()].sort((a, b) => a - b);
    ids.forEach((id, i) => {
      if (id !== i + 1) {
        failures.push({
          property: "migrations",
          reason: `migration ${seen.get(id)} should be number ${String(i + 1).padStart(4, "0")}: migrations are numbered 0001, 0002, ... without gaps`,
        });
      }
    });
  }
  return failures;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}

/** The next free migration file name, for messages. */
function nextName(migrations: Migration[]): string {
  const next = Math.max(0, ...migrations.map((m) => migrationId(m.name))) + 1;
  return `${String(next).padStart(4, "0")}_<what_it_does>.sql`;
}

/**
 * Changes to migrations that were applied, found by comparing the old and new inputs (no network):
 * an applied migration whose SQL (or name) changed, or one that disappeared.
 */
export function refusedMigrationChanges(
  olds: Migration[] | undefined,
  news: Migration[],
  database: string,
): Failure[] {
  const failures: Failure[] = [];
  const byName = new Map(news.map((m) => [m.name, m]));
  for (const old of olds ?? []) {
    const now = byName.get(old.name);
    if (!now) {
      failures.push({
        property: "migrations",
        reason: `migration ${old.name} was applied to database "${database}" and is no longer in init/postgres/migrations: an applied migration cannot be un-applied or renamed. Restore the file; to undo what it did, add a new migration ${nextName(news)}`,
      });
      continue;
    }
    const before = migrationChecksum(old);
    const after = migrationChecksum(now);
    if (before !== after) {
      failures.push({
        property: "migrations",
        reason: `migration ${old.name} was applied to database "${database}" and has been edited since (checksum ${before.slice(0, 12)} became ${after.slice(0, 12)}): applied migrations are immutable. Restore init/postgres/migrations/${old.name} (git checkout) and put the change into a new migration ${nextName(news)}`,
      });
    }
  }
  return failures;
}

/** Desired migrations compared with the tracking table's rows. */
export function compareWithApplied(
  desired: Migration[],
  applied: AppliedMigration[],
): { pending: Migration[]; changed: string[]; unknown: AppliedMigration[] } {
  const rows = new Map(applied.filter((a) => a.id > 0).map((a) => [a.id, a]));
  const wanted = new Set(desired.map((m) => migrationId(m.name)));
  const changed = desired
    .filter((m) => {
      const row = rows.get(migrationId(m.name));
      return row !== undefined && row.checksum !== migrationChecksum(m);
    })
    .map((m) => m.name);
  const pending = desired.filter((m) => !rows.has(migrationId(m.name)));
  const unknown = [...rows.values()].filter((a) => !wanted.has(a.id));
  return { pending, changed, unknown };
}

/** The refusal when the tracking table disagrees with the migrations given, or undefined. */
export function appliedDriftError(
  database: string,
  changed: string[],
  unknown: AppliedMigration[],
): string | undefined {
  const parts: string[] = [];
  if (changed.length > 0) {
    parts.push(
      `migration${changed.length > 1 ? "s" : ""} ${changed.join(", ")} ${changed.length > 1 ? "were" : "was"} applied to database "${database}" with other SQL than the file now has (the checksum in ${TRACKING_TABLE} differs): applied migrations are immutable. Restore the file as it was applied and put the change into a new migration`,
    );
  }
  if (unknown.length > 0) {
    parts.push(
      `database "${database}" has migration${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `${u.id} (${u.name})`).join(", ")} applied that this program does not have: the checkout is behind the database; update it before running again`,
    );
  }
  return parts.length > 0 ? `refusing to migrate: ${parts.join("; ")}` : undefined;
}

/** Extensions the migrations create (`CREATE EXTENSION [IF NOT EXISTS] name`), with the files that need them. */
export function requiredExtensions(migrations: Migration[]): Map<string, string[]> {
  const needed = new Map<string, string[]>();
  for (const m of migrations) {
    const re = /create\s+extension\s+(?:if\s+not\s+exists\s+)?("?)([A-Za-z0-9_-]+)\1/gi;
    for (const match of stripComments(m.sql).matchAll(re)) {
      const ext = match[1] ? match[2] : match[2].toLowerCase();
      needed.set(ext, [...(needed.get(ext) ?? []), m.name]);
    }
  }
  return needed;
}

/**
 * The decision on `pg_available_extensions`: an error message for each required extension the server
 * does not offer (pgvector's names the image setting), or undefined when all are there.
 */
export function missingExtensionsError(
  required: Map<string, string[]>,
  available: string[],
): string | undefined {
  const have = new Set(available);
  const problems = [...required.entries()]
    .filter(([ext]) => !have.has(ext))
    .map(([ext, files]) =>
      ext === "vector"
        ? `the server has no pgvector (extension "vector" is not in pg_available_extensions), which ${files.join(", ")} needs. The Bitnami PostgreSQL image does not ship it (REFERENCE §3, bitnami/containers#32677): set ${IMAGE_SETTING} (registry, repository, tag) to an image that has pgvector, or for an external server install the extension there (managed services: allow-list "vector")`
        : `the server does not offer extension "${ext}" (not in pg_available_extensions), which ${files.join(", ")} needs: install it on the server or choose an image that has it (${IMAGE_SETTING})`,
    );
  return problems.length > 0 ? `PostgreSQL schema: ${problems.join("; ")}` : undefined;
}

/** What the provider observes of the application role's privileges on one schema. */
export interface SchemaGrants {
  schema: string;
  exists: boolean;
  /** USAGE on the schema. */
  usage: boolean;
  /** SELECT, INSERT, UPDATE, DELETE on every table and view of the schema. */
  tables: boolean;
  /** USAGE, SELECT on every sequence of the schema. */
  sequences: boolean;
  /** Default privileges of the admin role in the schema for new tables / sequences. */
  defaultTables: boolean;
  defaultSequences: boolean;
}

/** True when the role has everything it should on the schema. */
export function grantsComplete(g: SchemaGrants): boolean {
  return g.exists && g.usage && g.tables && g.sequences && g.defaultTables && g.defaultSequences;
}

/**
 * The statements that give the application role what it lacks on each schema (nothing for a schema
 * that has it all), and the schemas that do not exist.
 */
export function grantStatements(
  appUser: string,
  adminUser: string,
  observed: SchemaGrants[],
): { schema: string; statements: string[] }[] {
  const app = quoteIdent(appUser);
  const admin = quoteIdent(adminUser);
  return observed
    .filter((g) => g.exists && !grantsComplete(g))
    .map((g) => {
      const s = quoteIdent(g.schema);
      const statements: string[] = [];
      if (!g.usage) statements.push(`GRANT USAGE ON SCHEMA ${s} TO ${app}`);
      if (!g.tables) {
        statements.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${app}`);
      }
      if (!g.sequences) statements.push(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`);
      if (!g.defaultTables) {
        statements.push(
          `ALTER DEFAULT PRIVILEGES FOR ROLE ${admin} IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app}`,
        );
      }
      if (!g.defaultSequences) {
        statements.push(
          `ALTER DEFAULT PRIVILEGES FOR ROLE ${admin} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${app}`,
        );
      }
      return { schema: g.schema, statements };
    });
}

/**
 * A SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, RFC 5803 as
 * PostgreSQL stores it). `CREATE/ALTER ROLE ... PASSWORD` gets this instead of the password, so that
 * the password never reaches the server's statement log (seed §2.3 logs DDL). The password is used as
 * its UTF-8 bytes, without SASLprep: the same as PostgreSQL for ASCII passwords (generated ones are).
 */
export function scramVerifier(password: string, salt?: Buffer, iterations = 4096): string {
  const crypto = require("crypto");
  const s: Buffer = salt ?? crypto.randomBytes(16);
  const salted: Buffer = crypto.pbkdf2Sync(Buffer.from(password, "utf8"), s, iterations, 32, "sha256");
  const hmac = (key: Buffer, text: string): Buffer => crypto.createHmac("sha256", key).update(text).digest();
  const storedKey: Buffer = crypto.createHash("sha256").update(hmac(salted, "Client Key")).digest();
  const serverKey = hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${s.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/**
 * The app password's revision for the new inputs: one more when it changed since the old inputs, not
 * known yet when the password is not (a preview).
 */
export function nextAppPasswordRevision(
  olds: Partial<PostgresSchemaInputs>,
  news: Partial<PostgresSchemaInputs>,
): number {
  if (isUnknown(news.appPassword)) return UNKNOWN as unknown as number;
  const before = typeof olds.appPasswordRevision === "number" ? olds.appPasswordRevision : 0;
  const isUpdate = Object.keys(olds).length > 0;
  const rotated = isUpdate && news.appPassword !== undefined && olds.appPassword !== news.appPassword;
  return rotated ? before + 1 : before;
}

/** Validation of the scalar inputs (unknown preview values are let through). */
function validateInputs(news: Partial<PostgresSchemaInputs>): Failure[] {
  const failures: Failure[] = [];
  const known = (v: unknown) => v !== UNKNOWN && v !== undefined;
  if (known(news.host) && (typeof news.host !== "string" || news.host === "")) {
    failures.push({ property: "host", reason: "must be a host name or address" });
  }
  if (known(news.port) && !(Number.isInteger(news.port) && news.port! >= 1 && news.port! <= 65535)) {
    failures.push({ property: "port", reason: "must be a port number (1-65535)" });
  }
  for (const key of ["adminUser", "database", "appUser", "maintenanceDatabase"] as const) {
    const v = news[key];
    if (v === undefined) failures.push({ property: key, reason: "is required" });
    else if (known(v) && (typeof v !== "string" || !IDENTIFIER.test(v))) {
      failures.push({ property: key, reason: "must be a lower-case SQL identifier (letters, digits, _)" });
    }
  }
  if (known(news.appUser) && news.appUser === news.adminUser) {
    failures.push({
      property: "appUser",
      reason: `the application role must not be the administrator "${news.adminUser}": set postgres.appUser to another name`,
    });
  }
  if (news.password === undefined || news.password === "") {
    failures.push({ property: "password", reason: "the administrator's password is required" });
  }
  if (news.appPassword === "") failures.push({ property: "appPassword", reason: "must not be empty" });
  if (known(news.timeoutSeconds) && !(Number(news.timeoutSeconds) > 0)) {
    failures.push({ property: "timeoutSeconds", reason: "must be a positive number of seconds" });
  }
  if (Array.isArray(news.appSchemas)) {
    news.appSchemas.forEach((s, i) => {
      if (typeof s !== "string" || !IDENTIFIER.test(s)) {
        failures.push({ property: `appSchemas[${i}]`, reason: "must be a lower-case SQL identifier" });
      }
    });
  }
  return failures;
}

/** The subset of the pg client used here (typed locally: the module is required lazily). */
type PgClient = Pick<Pg.Client, "query" | "end">;

/** The provider. Every client is required inside the methods: Pulumi serializes this object. */
export class PostgresSchemaProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<PostgresSchemaInputs>,
    news: Partial<PostgresSchemaInputs>,
  ): Promise<pulumi.dynamic.CheckResult> {
    const inputs: Partial<PostgresSchemaInputs> = {
      ...news,
      maintenanceDatabase: news.maintenanceDatabase ?? "postgres",
      appSchemas: news.appSchemas ?? DEFAULT_APP_SCHEMAS,
      timeoutSeconds: news.timeoutSeconds ?? 600,
      migrations: Array.isArray(news.migrations)
        ? [...news.migrations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        : news.migrations,
      appPasswordRevision: nextAppPasswordRevision(olds ?? {}, news),
    };
    const failures = [
      ...validateInputs(inputs),
      ...((inputs.migrations as unknown) === UNKNOWN ? [] : validateMigrations(inputs.migrations)),
    ];
    // Applied migrations are immutable; a new database (another name) starts from scratch.
    if (
      failures.length === 0 &&
      Array.isArray(olds?.migrations) &&
      Array.isArray(inputs.migrations) &&
      olds.database === inputs.database
    ) {
      failures.push(...refusedMigrationChanges(olds.migrations, inputs.migrations!, inputs.database!));
    }
    return { inputs, failures };
  }

  async diff(
    _id: string,
    olds: PostgresSchemaOutputs,
    news: PostgresSchemaInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    const pick = (o: object) =>
      Object.fromEntries(DIFF_KEYS.map((k) => [k, (o as Record<string, unknown>)[k]]));
    return inPlaceDiff(pick(olds), pick(news), []);
  }

  async create(inputs: PostgresSchemaInputs): Promise<pulumi.dynamic.CreateResult> {
    const outs = await this.converge(inputs, { setPassword: true });
    return { id: `postgres-schema:${inputs.database}`, outs };
  }

  async update(
    id: string,
    olds: PostgresSchemaOutputs,
    news: PostgresSchemaInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    let adminRotated = false;
    try {
      const outs = await this.converge(news, {
        setPassword: olds.appPasswordRevision !== news.appPasswordRevision,
        previousDatabase: olds.database !== news.database ? olds.database : undefined,
        previousAdminPassword: olds.password,
        onAdminRotated: () => (adminRotated = true),
      });
      return { outs };
    } catch (e) {
      // The server has the new admin password now: state must say so, or the next run (maybe with yet
      // another password) would log in with neither.
      if (!adminRotated) throw e;
      throw partialFailure((e as Error).message, id, { ...olds, password: news.password });
    }
  }

  /**
   * The server's state in the shape of the outputs: `applied` from the tracking table; `migrations`
   * keeps only those applied with the same checksum and `appSchemas` only those whose grants are
   * complete, so that the next `up` shows (and converges) any drift.
   */
  async read(id: string, props: PostgresSchemaOutputs): Promise<pulumi.dynamic.ReadResult> {
    const { log } = progress("postgres-schema");
    const startedAt = Date.now();
    const found = await this.session(props, props.maintenanceDatabase, log, startedAt, async ({ client }) => {
      const exists =
        (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [props.database])).rowCount! > 0;
      return {
        exists,
        granted: exists && (await this.hasConnectGrant(client, props.database, props.appUser)),
      };
    });
    if (!found.exists) {
      return { id, props: { ...props, applied: [], migrations: [], appSchemas: [] } };
    }
    return this.session(props, props.database, log, startedAt, async ({ client }) => {
      const applied = await this.readApplied(client);
      const rows = new Map(applied.map((a) => [a.id, a.checksum]));
      const migrations = props.migrations.filter(
        (m) => rows.get(migrationId(m.name)) === migrationChecksum(m),
      );
      const grants = found.granted ? await this.observeGrants(client, props.appUser, props.appSchemas) : [];
      const appSchemas = props.appSchemas.filter((s) => {
        const g = grants.find((x) => x.schema === s);
        return g !== undefined && grantsComplete(g);
      });
      return { id, props: { ...props, applied, migrations, appSchemas } };
    });
  }

  /** Keeps everything: the database holds the platform's data. */
  async delete(_id: string, props: PostgresSchemaOutputs): Promise<void> {
    const { log } = progress("postgres-schema");
    log(
      `kept database "${props.database}" (its schemas ${props.appSchemas.join(", ") || "(none granted)"}, their data, the tracking table ${TRACKING_TABLE}) and role "${props.appUser}": removing this resource deletes nothing on the server; drop them by hand if they are no longer wanted`,
    );
  }

  /** Brings the server to the desired state; safe to re-run after any partial run. */
  private async converge(
    inputs: PostgresSchemaInputs,
    opts: {
      setPassword: boolean;
      previousDatabase?: string;
      /** The admin password of the last run: logs in with it when the server refuses the new one. */
      previousAdminPassword?: string;
      onAdminRotated?: () => void;
    },
  ): Promise<PostgresSchemaOutputs> {
    const { log, lines } = progress("postgres-schema");
    if (opts.previousDatabase) {
      log(
        `database changed from "${opts.previousDatabase}" to "${inputs.database}": "${opts.previousDatabase}" is kept as it is`,
      );
    }
    const q = quoteIdent;

    // Both steps are safe to repeat (each checks before it acts, or is one transaction), so a step the
    // server answers with a retriable error runs again, within one deadline (shared/retry).
    const startedAt = Date.now();
    // 1. Role and database, from the maintenance database (CREATE DATABASE cannot run in a transaction).
    const step1 = async (login: RotatingLogin<Pg.Client>) => {
      const admin = login.client;
      if (login.withPrevious) {
        await admin.query(`ALTER ROLE ${q(inputs.adminUser)} PASSWORD '${scramVerifier(inputs.password)}'`);
        opts.onAdminRotated?.();
        log(
          `set the new password of administrator role "${inputs.adminUser}" (logged in with the previous one)`,
        );
      }
      const role = await admin.query<{ rolcanlogin: boolean }>(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1",
        [inputs.appUser],
      );
      let created = false;
      if (role.rowCount === 0) {
        if (inputs.appPassword === undefined) {
          throw new Error(
            `role "${inputs.appUser}" does not exist and no appPassword was given to create it (in helm mode the chart creates it: is the release ready?)`,
          );
        }
        try {
          await admin.query(
            `CREATE ROLE ${q(inputs.appUser)} LOGIN PASSWORD '${scramVerifier(inputs.appPassword)}'`,
          );
          created = true;
          log(`created role "${inputs.appUser}" (login, password set)`);
        } catch (e) {
          // Another run created it meanwhile: go on as if it had been there.
          if (!["42710", "23505"].includes((e as { code?: string }).code ?? "")) throw e;
        }
      } else if (!role.rows[0].rolcanlogin) {
        await admin.query(`ALTER ROLE ${q(inputs.appUser)} LOGIN`);
        log(`allowed role "${inputs.appUser}" to log in`);
      }
      if (!created && opts.setPassword && inputs.appPassword !== undefined) {
        await admin.query(`ALTER ROLE ${q(inputs.appUser)} PASSWORD '${scramVerifier(inputs.appPassword)}'`);
        log(`set the password of role "${inputs.appUser}"`);
      }

      const db = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [inputs.database]);
      if (db.rowCount === 0) {
        try {
          await admin.query(`CREATE DATABASE ${q(inputs.database)}`);
          log(`created database "${inputs.database}"`);
        } catch (e) {
          if (!["42P04", "23505"].includes((e as { code?: string }).code ?? "")) throw e;
        }
      }
      if (!(await this.hasConnectGrant(admin, inputs.database, inputs.appUser))) {
        await admin.query(
          `GRANT CONNECT, TEMPORARY ON DATABASE ${q(inputs.database)} TO ${q(inputs.appUser)}`,
        );
        log(`granted "${inputs.appUser}" connect on database "${inputs.database}"`);
      }
    };
    await this.session(inputs, inputs.maintenanceDatabase, log, startedAt, step1, opts.previousAdminPassword);

    // 2. Migrations and grants, in the application database.
    return this.session(inputs, inputs.database, log, startedAt, async ({ client }) => {
      const before = await this.readApplied(client);
      const { pending, changed, unknown } = compareWithApplied(inputs.migrations, before);
      const drift = appliedDriftError(inputs.database, changed, unknown);
      if (drift) throw new Error(drift);
      if (pending.length > 0) {
        const available = await client.query<{ name: string }>(
          "SELECT name FROM pg_available_extensions WHERE name = ANY($1)",
          [[...requiredExtensions(pending).keys()]],
        );
        const missing = missingExtensionsError(
          requiredExtensions(pending),
          available.rows.map((r) => r.name),
        );
        if (missing) throw new Error(missing);
        await this.migrate(client, inputs, log);
      }

      const observed = await this.observeGrants(client, inputs.appUser, inputs.appSchemas);
      const absent = observed.filter((g) => !g.exists).map((g) => g.schema);
      if (absent.length > 0) {
        throw new Error(
          `schema${absent.length > 1 ? "s" : ""} ${absent.join(", ")} in appSchemas ${absent.length > 1 ? "do" : "does"} not exist after the migrations: add a migration that creates ${absent.length > 1 ? "them" : "it"} or remove ${absent.length > 1 ? "them" : "it"} from appSchemas`,
        );
      }
      const plan = grantStatements(inputs.appUser, inputs.adminUser, observed);
      if (plan.length > 0) {
        await client.query("BEGIN");
        try {
          // Serialises concurrent runs: GRANTs on one object at once fail with "tuple concurrently updated".
          await client.query(
            "SELECT pg_advisory_xact_lock(hashtext('ai-platform-data:postgres-schema:grants'))",
          );
          for (const p of plan) for (const statement of p.statements) await client.query(statement);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw e;
        }
        for (const p of plan) {
          log(`granted "${inputs.appUser}" usage, DML and default privileges on schema ${p.schema}`);
        }
      }
      const applied = await this.readApplied(client);
      const outs: Partial<PostgresSchemaInputs> = { ...inputs };
      delete outs.appPassword;
      return { ...(outs as Omit<PostgresSchemaInputs, "appPassword">), applied, log: lines };
    });
  }

  /** Runs the migrations through postgres-migrations, one progress line per migration applied. */
  private async migrate(
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
  private async readApplied(client: PgClient): Promise<AppliedMigration[]> {
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
  private async hasConnectGrant(client: PgClient, database: string, role: string): Promise<boolean> {
    const r = await client.query<{ ok: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
         WHERE d.datname = $1 AND a.privilege_type = 'CONNECT'
           AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)) AS ok`,
      [database, role],
    );
    return r.rows[0].ok;
  }

  /** The application role's privileges on each schema (all false when the role does not exist). */
  private async observeGrants(client: PgClient, role: string, schemas: string[]): Promise<SchemaGrants[]> {
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
  private async session<T>(
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
        what: this.what(inputs, database),
        deadlineMs,
        startedAt,
        secrets: [inputs.password, inputs.appPassword, previousPassword],
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

  private what(inputs: Pick<PostgresSchemaInputs, "host" | "port" | "adminUser">, database: string): string {
    return `PostgreSQL at ${inputs.host}:${inputs.port} (database "${database}", user "${inputs.adminUser}")`;
  }
}

/** Arguments of {@link PostgresSchema}. */
export interface PostgresSchemaArgs {
  /** Server host: the component's `connection.host` (in-cluster Service or the endpoint override). */
  host: pulumi.Input<string>;
  /** Server port: `connection.port`. */
  port: pulumi.Input<number>;
  /** Administrator role: `connection.adminUser`. */
  adminUser: pulumi.Input<string>;
  /** Administrator password (secret): `connection.adminPassword`. */
  password: pulumi.Input<string>;
  /** A database that exists, to create the application database from; default `postgres`. */
  maintenanceDatabase?: pulumi.Input<string>;
  /** The application database (`postgres.database`); created when missing. */
  database: pulumi.Input<string>;
  /** The application role (`postgres.appUser`); created when missing, with `appPassword`. */
  appUser: pulumi.Input<string>;
  /** The application role's password (secret): `connection.appPassword`. Never stored in an output. */
  appPassword?: pulumi.Input<string>;
  /** Schemas on which the application role gets usage and DML; default {@link DEFAULT_APP_SCHEMAS}. */
  appSchemas?: pulumi.Input<string[]>;
  /** The migrations, read at program time: `loadMigrations()`. */
  migrations: pulumi.Input<Migration[]>;
  /** Seconds to keep retrying to reach the server: `postgres.initTimeoutSeconds`. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the server from here: a port-forward (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The platform's PostgreSQL schema: role, database, migrations, grants. */
export class PostgresSchema extends pulumi.dynamic.Resource {
  /** The application database. */
  declare readonly database: pulumi.Output<string>;
  /** The application role. */
  declare readonly appUser: pulumi.Output<string>;
  /** The tracking table's rows (refresh reports the server's). */
  declare readonly applied: pulumi.Output<AppliedMigration[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: PostgresSchemaArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new PostgresSchemaProvider(),
      name,
      {
        ...args,
        maintenanceDatabase: args.maintenanceDatabase ?? "postgres",
        appSchemas: args.appSchemas ?? DEFAULT_APP_SCHEMAS,
        codeVersion: codeVersion(__filename),
        appPasswordRevision: undefined,
        applied: undefined,
        log: undefined,
      },
      // appPassword is not returned (see PostgresSchemaOutputs); named too, so it stays secret if it ever is.
      initialiserOptions(opts, ["password", "appPassword"]),
    );
  }
}
