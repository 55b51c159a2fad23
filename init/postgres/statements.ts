/**
 * Statements the PostgreSQL schema initialiser sends: the application role's grants for what it
 * observed, and SCRAM verifiers in place of passwords. Pure: no network.
 */
import { quoteIdent } from "./spec";

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
 * Whether a stored SCRAM-SHA-256 verifier (`pg_authid.rolpassword`) is the one of `password`: the
 * verifier is recomputed with its own salt and iteration count. False for anything else (md5, none).
 */
export function scramMatches(stored: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$[^:]+:.+$/.exec(stored);
  if (!m) return false;
  return scramVerifier(password, Buffer.from(m[2], "base64"), Number(m[1])) === stored;
}

/** Role attributes an application login never needs; the chart's first boot gives the app role CREATEDB. */
export const ELEVATED_ATTRIBUTES = [
  "SUPERUSER",
  "CREATEDB",
  "CREATEROLE",
  "REPLICATION",
  "BYPASSRLS",
] as const;

/**
 * What the application role holds beyond its grants. The Bitnami image's first boot
 * (`postgresql_create_admin_user`) makes it CREATEDB and the owner of the database and of schema
 * `public`: as owner it could drop `public` with pgvector and the tracking table, or put a trigger on
 * objects that the next migration runs as the administrator.
 */
export interface AppRoleElevation {
  /** Attributes from {@link ELEVATED_ATTRIBUTES} the role has. */
  attributes: string[];
  /** Whether it owns the application database. */
  ownsDatabase: boolean;
}

/** The statements (run in the maintenance database) that take the elevation away; none when there is none. */
export function roleElevationStatements(
  appUser: string,
  adminUser: string,
  database: string,
  e: AppRoleElevation,
): string[] {
  const statements: string[] = [];
  if (e.attributes.length > 0) {
    statements.push(`ALTER ROLE ${quoteIdent(appUser)} ${e.attributes.map((a) => `NO${a}`).join(" ")}`);
  }
  if (e.ownsDatabase)
    statements.push(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(adminUser)}`);
  return statements;
}

/**
 * The statements (run in the application database) that give the administrator the schemas the app role
 * owns among `public` and the application schemas, and take any privilege on the tracking table away
 * from the app role.
 */
export function schemaOwnershipStatements(
  appUser: string,
  adminUser: string,
  ownedSchemas: string[],
  trackingTableAccess: boolean,
): string[] {
  const statements = ownedSchemas.map(
    (s) => `ALTER SCHEMA ${quoteIdent(s)} OWNER TO ${quoteIdent(adminUser)}`,
  );
  if (trackingTableAccess) statements.push(`REVOKE ALL ON public.migrations FROM ${quoteIdent(appUser)}`);
  return statements;
}
