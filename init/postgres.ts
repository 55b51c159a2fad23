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
import * as pulumi from "@pulumi/pulumi";
import { PostgresSchemaProvider } from "./postgres/provider";
import { AppliedMigration, DEFAULT_APP_SCHEMAS, Migration, ServiceRole } from "./postgres/spec";
import { initialiserOptions } from "./shared/options";
import { ForwardSpec } from "./shared/port-forward";
import { codeVersion } from "./shared/version";

export { PostgresSchemaProvider } from "./postgres/provider";
export * from "./postgres/spec";
export * from "./postgres/statements";
export * from "./postgres/validate";

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
  /** Logins of the exporter and the backup job (`connection.serviceRoles`, helm mode); default none. */
  serviceRoles?: pulumi.Input<ServiceRole[]>;
  /** Their passwords by name (secret): `connection.serviceRolePasswords`. Never stored in an output. */
  serviceRolePasswords?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Settings set with `ALTER SYSTEM` after the first boot (`connection.serverSettings`); default none. */
  serverSettings?: pulumi.Input<Record<string, string>>;
  /** Schemas on which the application role gets usage and DML; default {@link DEFAULT_APP_SCHEMAS}. */
  appSchemas?: pulumi.Input<string[]>;
  /** The migrations, read at program time: `loadMigrations()`. */
  migrations: pulumi.Input<Migration[]>;
  /** Seconds to keep retrying to reach the server: `postgres.initTimeoutSeconds`. */
  timeoutSeconds: pulumi.Input<number>;
  /** A session's `lock_timeout`, seconds: `postgres.initLockTimeoutSeconds` (default 10). */
  lockTimeoutSeconds?: pulumi.Input<number>;
  /** A session's `statement_timeout`, seconds: `postgres.initStatementTimeoutSeconds` (default 300). */
  statementTimeoutSeconds?: pulumi.Input<number>;
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
        observe: !pulumi.runtime.isDryRun(),
        serverSettings: args.serverSettings ?? {},
        appPasswordRevision: undefined,
        serviceRoles: args.serviceRoles ?? [],
        serviceRolePasswordsRevision: undefined,
        applied: undefined,
        log: undefined,
      },
      // Role passwords are not returned (see PostgresSchemaOutputs); named too, so they stay secret if they ever are.
      initialiserOptions(opts, ["password", "appPassword", "serviceRolePasswords"]),
    );
  }
}
