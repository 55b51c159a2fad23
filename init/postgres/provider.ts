/**
 * The PostgreSQL schema provider: role and database, migrations, grants, converged on every run. Its
 * server work is in ./operations.ts; Pulumi serializes this class.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as Pg from "pg";
import { inPlaceDiff } from "../shared/diff";
import { observeForDrift } from "../shared/observe";
import { partialFailure } from "../shared/partial";
import { progress } from "../shared/progress";
import { RotatingLogin } from "../shared/rotation";
import { UNKNOWN } from "../shared/unknown";
import {
  adminSession,
  hasConnectGrant,
  migrate,
  observeElevation,
  observeGrants,
  observeOwnership,
  readApplied,
} from "./operations";
import {
  convergeServerSettings,
  convergeServiceRole,
  ExpectedRole,
  passwordStatement,
  rolesOutOfStep,
} from "./server";
import { validateInputs } from "./validate";
import {
  appliedDriftError,
  compareWithApplied,
  DEFAULT_APP_SCHEMAS,
  DIFF_KEYS,
  migrationChecksum,
  migrationId,
  missingExtensionsError,
  nextAppPasswordRevision,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  quoteIdent,
  refusedMigrationChanges,
  requiredExtensions,
  TRACKING_TABLE,
  validateMigrations,
} from "./spec";
import {
  grantsComplete,
  grantStatements,
  roleElevationStatements,
  schemaOwnershipStatements,
  scramVerifier,
} from "./statements";

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
      serverSettings: news.serverSettings ?? {},
      appPasswordRevision: nextAppPasswordRevision(olds ?? {}, news),
      serviceRoles: news.serviceRoles ?? [],
      serviceRolePasswordsRevision: nextAppPasswordRevision(olds ?? {}, news, "serviceRoles"),
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
    delete inputs.observe;
    delete inputs.driftedRoles;
    // Only an existing resource (olds has a database) with valid inputs is worth reading.
    if (news.observe && olds?.database && failures.length === 0) {
      const drifted = await this.driftedRoles(inputs as PostgresSchemaInputs);
      if (drifted.length > 0) inputs.driftedRoles = drifted;
    }
    return { inputs, failures };
  }

  /** The app and service roles that are missing or changed on the server (a catalog read only). */
  private async driftedRoles(inputs: PostgresSchemaInputs): Promise<string[]> {
    const { log } = progress("postgres-schema");
    const roles: ExpectedRole[] = [
      { name: inputs.appUser, password: inputs.appPassword },
      ...inputs.serviceRoles.map((r) => ({
        name: r.name,
        password: inputs.serviceRolePasswords?.[r.name],
        grant: r.grant,
      })),
    ];
    const drifted = await observeForDrift("postgres-schema", "the roles", inputs, (bounded) =>
      adminSession(bounded, inputs.maintenanceDatabase, log, Date.now(), ({ client }) =>
        rolesOutOfStep(client, roles),
      ),
    );
    return drifted ?? [];
  }

  async diff(
    _id: string,
    olds: PostgresSchemaOutputs,
    news: PostgresSchemaInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    const pick = (o: object) =>
      Object.fromEntries(DIFF_KEYS.map((k) => [k, (o as Record<string, unknown>)[k]]));
    return inPlaceDiff(pick(olds), pick(news), [], (news.driftedRoles ?? []).length > 0);
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
        setPassword:
          olds.appPasswordRevision !== news.appPasswordRevision ||
          (news.driftedRoles ?? []).includes(news.appUser),
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
    const found = await adminSession(props, props.maintenanceDatabase, log, startedAt, async ({ client }) => {
      const exists =
        (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [props.database])).rowCount! > 0;
      return {
        exists,
        granted: exists && (await hasConnectGrant(client, props.database, props.appUser)),
      };
    });
    if (!found.exists) {
      return { id, props: { ...props, applied: [], migrations: [], appSchemas: [] } };
    }
    return adminSession(props, props.database, log, startedAt, async ({ client }) => {
      const applied = await readApplied(client);
      const rows = new Map(applied.map((a) => [a.id, a.checksum]));
      const migrations = props.migrations.filter(
        (m) => rows.get(migrationId(m.name)) === migrationChecksum(m),
      );
      const grants = found.granted ? await observeGrants(client, props.appUser, props.appSchemas) : [];
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
        await passwordStatement(
          admin,
          `ALTER ROLE ${q(inputs.adminUser)} PASSWORD '${scramVerifier(inputs.password)}'`,
        );
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
          await passwordStatement(
            admin,
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
        await passwordStatement(
          admin,
          `ALTER ROLE ${q(inputs.appUser)} PASSWORD '${scramVerifier(inputs.appPassword)}'`,
        );
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
      // Applications get DML, never the database or a role attribute (the chart's first boot gives both).
      const elevation = await observeElevation(admin, inputs.appUser, inputs.database);
      for (const statement of roleElevationStatements(
        inputs.appUser,
        inputs.adminUser,
        inputs.database,
        elevation,
      )) {
        await admin.query(statement);
      }
      if (elevation.attributes.length > 0) {
        log(`took ${elevation.attributes.join(", ")} from role "${inputs.appUser}" (applications need none)`);
      }
      if (elevation.ownsDatabase) {
        log(
          `gave database "${inputs.database}" to "${inputs.adminUser}" (it was owned by "${inputs.appUser}")`,
        );
      }
      for (const role of inputs.serviceRoles ?? []) {
        await convergeServiceRole(admin, role, inputs.serviceRolePasswords![role.name], log);
      }
      await convergeServerSettings(admin, inputs.serverSettings ?? {}, log);
      if (!(await hasConnectGrant(admin, inputs.database, inputs.appUser))) {
        await admin.query(
          `GRANT CONNECT, TEMPORARY ON DATABASE ${q(inputs.database)} TO ${q(inputs.appUser)}`,
        );
        log(`granted "${inputs.appUser}" connect on database "${inputs.database}"`);
      }
    };
    await adminSession(inputs, inputs.maintenanceDatabase, log, startedAt, step1, opts.previousAdminPassword);

    // 2. Migrations and grants, in the application database.
    return adminSession(inputs, inputs.database, log, startedAt, async ({ client }) => {
      const before = await readApplied(client);
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
        await migrate(client, inputs, log);
      }

      // After the migrations: the tracking table exists, and a schema the app role owned is now the admin's.
      const ownership = await observeOwnership(client, inputs.appUser, ["public", ...inputs.appSchemas]);
      const reclaim = schemaOwnershipStatements(
        inputs.appUser,
        inputs.adminUser,
        ownership.ownedSchemas,
        ownership.trackingTableAccess,
      );
      for (const statement of reclaim) await client.query(statement);
      for (const schema of ownership.ownedSchemas) {
        log(`gave schema ${schema} to "${inputs.adminUser}" (it was owned by "${inputs.appUser}")`);
      }
      if (ownership.trackingTableAccess) {
        log(`revoked "${inputs.appUser}"'s privileges on ${TRACKING_TABLE}`);
      }
      const observed = await observeGrants(client, inputs.appUser, inputs.appSchemas);
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
      const applied = await readApplied(client);
      const outs: Partial<PostgresSchemaInputs> = { ...inputs };
      delete outs.appPassword;
      delete outs.serviceRolePasswords;
      delete outs.driftedRoles;
      return {
        ...(outs as Omit<PostgresSchemaInputs, "appPassword" | "serviceRolePasswords">),
        applied,
        log: lines,
      };
    });
  }
}
