/**
 * Server-wide state the schema initialiser keeps besides the application's: the exporter's role and the
 * settings that must wait for the first boot to be over. Run in the maintenance database as the
 * administrator (a superuser: `pg_authid` and `ALTER SYSTEM` need one).
 */
import type * as Pg from "pg";
import { quoteIdent, ServiceRole } from "./spec";
import { ELEVATED_ATTRIBUTES, scramMatches, scramVerifier } from "./statements";

/**
 * Runs a statement that carries a password (as a SCRAM verifier) with statement logging off for it:
 * a verifier is what an attacker needs to guess the password offline, and `log_statement: ddl` would
 * write it to the server log. A login that may not change `log_statement` (not a superuser, external
 * mode) runs it as it is.
 */
export async function passwordStatement(client: Pg.Client, text: string): Promise<void> {
  const off = await client.query("SET log_statement = 'none'").then(
    () => true,
    (e: { code?: string }) => {
      if (e.code === "42501") return false; // insufficient_privilege
      throw e;
    },
  );
  try {
    await client.query(text);
  } finally {
    if (off) await client.query("RESET log_statement");
  }
}

/**
 * A service role (the exporter's, the backup job's): LOGIN, member of its predefined role
 * (`pg_monitor`: statistics, settings and every session's activity; `pg_read_all_data`: SELECT on every
 * table), none of the elevated attributes, and `password`. Checked against the server on every run (the
 * stored verifier is compared with the password, no write when it matches), so a role changed by hand
 * is repaired by the next run. Other memberships it may have been given by hand are not looked for.
 */
export async function convergeServiceRole(
  admin: Pg.Client,
  role: ServiceRole,
  password: string,
  log: (line: string) => void,
): Promise<void> {
  const q = quoteIdent;
  const user = role.name;
  const found = await admin.query<{
    rolcanlogin: boolean;
    rolpassword: string | null;
    member: boolean;
    elevated: string[];
  }>(
    `SELECT a.rolcanlogin, a.rolpassword, pg_has_role(a.oid, $2, 'USAGE') AS member,
            array_remove(ARRAY[
              CASE WHEN a.rolsuper THEN 'SUPERUSER' END, CASE WHEN a.rolcreatedb THEN 'CREATEDB' END,
              CASE WHEN a.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN a.rolreplication THEN 'REPLICATION' END,
              CASE WHEN a.rolbypassrls THEN 'BYPASSRLS' END], NULL) AS elevated
       FROM pg_authid a WHERE a.rolname = $1`,
    [user, role.grant],
  );
  const none = ELEVATED_ATTRIBUTES.map((a) => `NO${a}`).join(" ");
  if (found.rowCount === 0) {
    try {
      await passwordStatement(
        admin,
        `CREATE ROLE ${q(user)} LOGIN ${none} CONNECTION LIMIT 5 PASSWORD '${scramVerifier(password)}'`,
      );
      log(`created role "${user}"`);
    } catch (e) {
      // Another run created it meanwhile: the next run checks it.
      if (!["42710", "23505"].includes((e as { code?: string }).code ?? "")) throw e;
    }
  } else {
    const r = found.rows[0];
    if (!r.rolcanlogin || r.elevated.length > 0) {
      await admin.query(`ALTER ROLE ${q(user)} LOGIN ${none}`);
      log(`reset the attributes of role "${user}" (LOGIN, nothing elevated)`);
    }
    if (!r.rolpassword || !scramMatches(r.rolpassword, password)) {
      await passwordStatement(admin, `ALTER ROLE ${q(user)} PASSWORD '${scramVerifier(password)}'`);
      log(`set the password of role "${user}"`);
    }
    if (r.member) return;
  }
  await admin.query(`GRANT ${role.grant} TO ${q(user)}`);
  log(`granted ${role.grant} to "${user}"`);
}

/** A role as the last run left it: LOGIN, nothing elevated, its password, its predefined role if any. */
export interface ExpectedRole {
  name: string;
  /** Its password, when this initialiser sets it. */
  password?: string;
  /** The predefined role it must be a member of. */
  grant?: string;
}

/**
 * The roles that are missing or differ from {@link ExpectedRole} (one catalog query; writes nothing):
 * what `check` reports as drift, so that `up` repairs a role changed or dropped by hand.
 */
export async function rolesOutOfStep(admin: Pg.Client, roles: ExpectedRole[]): Promise<string[]> {
  if (roles.length === 0) return [];
  const found = await admin.query<{
    rolname: string;
    rolcanlogin: boolean;
    rolpassword: string | null;
    elevated: boolean;
    memberships: string[];
  }>(
    `SELECT a.rolname, a.rolcanlogin, a.rolpassword,
            (a.rolsuper OR a.rolcreatedb OR a.rolcreaterole OR a.rolreplication OR a.rolbypassrls) AS elevated,
            ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = a.oid)::text[] AS memberships
       FROM pg_authid a WHERE a.rolname = ANY($1)`,
    [roles.map((r) => r.name)],
  );
  const byName = new Map(found.rows.map((r) => [r.rolname, r]));
  return roles
    .filter((want) => {
      const have = byName.get(want.name);
      if (!have || !have.rolcanlogin || have.elevated) return true;
      if (want.password !== undefined && !(have.rolpassword && scramMatches(have.rolpassword, want.password)))
        return true;
      return want.grant !== undefined && !have.memberships.includes(want.grant);
    })
    .map((r) => r.name);
}

/**
 * `ALTER SYSTEM SET` for each setting whose value differs from the server's, then one reload. The
 * values live in postgresql.auto.conf in the data directory: they outlive restarts, and a new data
 * directory (whose first boot runs without them) gets them from the next run.
 */
export async function convergeServerSettings(
  admin: Pg.Client,
  settings: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const names = Object.keys(settings);
  if (names.length === 0) return;
  const current = await admin.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
    [names],
  );
  const unknown = names.filter((n) => !current.rows.some((r) => r.name === n));
  if (unknown.length > 0) {
    throw new Error(`the server has no setting ${unknown.map((n) => `"${n}"`).join(", ")}`);
  }
  const changed = current.rows.filter((r) => r.setting !== settings[r.name]);
  for (const r of changed) {
    await admin.query(`ALTER SYSTEM SET ${r.name} = '${settings[r.name]}'`);
  }
  if (changed.length > 0) {
    await admin.query("SELECT pg_reload_conf()");
    for (const r of changed) log(`set ${r.name} = '${settings[r.name]}' (was '${r.setting}'; ALTER SYSTEM)`);
  }
}
