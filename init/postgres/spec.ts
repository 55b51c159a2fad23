/**
 * The PostgreSQL schema initialiser's inputs and their checks: the migration files (names, numbering,
 * checksums as postgres-migrations keeps them), what a change of them may do, the comparison with the
 * tracking table, and the scalar inputs. Pure: no network.
 */
import * as fs from "fs";
import * as path from "path";
import { ForwardSpec } from "../shared/port-forward";
import { isUnknown, UNKNOWN } from "../shared/unknown";
import { VersionedInputs } from "../shared/version";

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
   * Per session: how long a statement waits for a lock (`lock_timeout`) and runs at most
   * (`statement_timeout`), in seconds. A migration queued behind an application's long transaction then
   * gives up (55P03, retried until `timeoutSeconds`) instead of holding everyone else's queries behind
   * its own lock request. A migration that needs longer raises them for itself with `SET LOCAL`.
   * Unset: {@link SESSION_TIMEOUT_DEFAULTS}.
   */
  lockTimeoutSeconds?: number;
  statementTimeoutSeconds?: number;
  /**
   * Set by `check`: counts changes of `appPassword`, so that `diff` sees a rotation without the
   * password being stored in any output.
   */
  appPasswordRevision: number;
  /**
   * Logins of the platform's own jobs (helm mode: the exporter, the backup job), each kept on every run
   * with exactly its predefined role, no elevated attribute and its password. Empty in external mode.
   */
  serviceRoles: ServiceRole[];
  /** Their passwords by role name; never in an output. */
  serviceRolePasswords?: Record<string, string>;
  /** Set by `check`: counts changes of `serviceRolePasswords`, as `appPasswordRevision` does. */
  serviceRolePasswordsRevision: number;
  /**
   * Whether `check` reads the roles (app and service roles) so that `diff` sees one changed or dropped
   * by hand: true in `pulumi up`, false in a preview. `check` drops it from the inputs.
   */
  observe?: boolean;
  /** Set by `check` only: the roles that are missing or differ from what the last run left. */
  driftedRoles?: string[];
  /**
   * Server settings the initialiser sets with `ALTER SYSTEM` (then reloads), rather than the chart's
   * conf.d: those that must not be on during the image's first boot, whose `CREATE ROLE ... PASSWORD`
   * statements `log_statement` would write to the server log in clear text. Empty in external mode.
   */
  serverSettings: Record<string, string>;
  /** How to reach the server from here (shared/port-forward.ts); unset: as given. Never a change. */
  forward?: ForwardSpec;
}

/** A login of one of the platform's own jobs: a role whose only rights are one predefined role's. */
export interface ServiceRole {
  name: string;
  /** `pg_monitor` (statistics, the exporter) or `pg_read_all_data` (SELECT everywhere, pg_dump). */
  grant: "pg_monitor" | "pg_read_all_data";
}

/** The predefined roles a {@link ServiceRole} may get. */
export const SERVICE_ROLE_GRANTS: ServiceRole["grant"][] = ["pg_monitor", "pg_read_all_data"];

/** Outputs: the inputs except the passwords of roles, the tracking table's rows and the last run's steps. */
export interface PostgresSchemaOutputs extends Omit<
  PostgresSchemaInputs,
  "appPassword" | "serviceRolePasswords"
> {
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
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** The per-session limits when the inputs give none (state written before they existed). */
export const SESSION_TIMEOUT_DEFAULTS = { lockTimeoutSeconds: 10, statementTimeoutSeconds: 300 };

/** Keys whose change `diff` reports; the timeouts only say how long to wait, and are not among them. */
export const DIFF_KEYS = [
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
  "serviceRoles",
  "serviceRolePasswordsRevision",
  "serverSettings",
];

/** Reads the migration files at program time, in name order (their contents become an input). */
export function loadMigrations(dir: string = path.join(__dirname, "migrations")): Migration[] {
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

/**
 * The revision of a password input for the new inputs (`appPassword`, or the service roles' passwords
 * taken together): one more when it changed since the old inputs, not known yet when the password is
 * not (a preview).
 */
export function nextAppPasswordRevision(
  olds: Partial<PostgresSchemaInputs>,
  news: Partial<PostgresSchemaInputs>,
  which: "app" | "serviceRoles" = "app",
): number {
  const [password, revision] =
    which === "app"
      ? (["appPassword", "appPasswordRevision"] as const)
      : (["serviceRolePasswords", "serviceRolePasswordsRevision"] as const);
  const value = news[password];
  const values = typeof value === "object" && value !== null ? Object.values(value) : [value];
  if (isUnknown(value) || values.some(isUnknown)) return UNKNOWN as unknown as number;
  const before = typeof olds[revision] === "number" ? olds[revision] : 0;
  const isUpdate = Object.keys(olds).length > 0;
  const rotated = isUpdate && value !== undefined && !samePasswords(olds[password], value);
  return rotated ? before + 1 : before;
}

/** A password, or passwords by name, equal (key order aside). */
function samePasswords(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return a === b;
  const [x, y] = [a as Record<string, unknown>, b as Record<string, unknown>];
  return Object.keys(x).length === Object.keys(y).length && Object.keys(x).every((k) => x[k] === y[k]);
}
