/**
 * PostgreSQL schema initialiser without a server: the migration files, checksums (the same as
 * postgres-migrations computes), check refusals, exact diff, the pgvector decision, grant planning,
 * and the provider working from its serialized form.
 */
import * as assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  appliedDriftError,
  compareWithApplied,
  DEFAULT_APP_SCHEMAS,
  grantStatements,
  IMAGE_SETTING,
  loadMigrations,
  Migration,
  migrationChecksum,
  missingExtensionsError,
  nextAppPasswordRevision,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  PostgresSchemaProvider,
  refusedMigrationChanges,
  requiredExtensions,
  roleElevationStatements,
  schemaOwnershipStatements,
  scramVerifier,
  SchemaGrants,
  validateMigrations,
} from "../../init/postgres";
import { mayRetry } from "../../init/shared/retry";
import { viaSerialization } from "../support/dynamic";

const repo = loadMigrations();
const m = (name: string, sql = "SELECT 1;"): Migration => ({ name, sql });

const base: PostgresSchemaInputs = {
  host: "postgresql.ai-platform-data.svc.cluster.local",
  port: 5432,
  adminUser: "postgres",
  password: "admin-secret-1",
  maintenanceDatabase: "postgres",
  database: "ai_platform",
  appUser: "ai_platform",
  appPassword: "app-secret-1",
  appSchemas: DEFAULT_APP_SCHEMAS,
  migrations: repo,
  timeoutSeconds: 600,
  appPasswordRevision: 0,
  serviceRoles: [],
  serviceRolePasswordsRevision: 0,
  serverSettings: {},
};

/** The outputs create would return for `base` (what diff and check see as olds). */
function outputsOf(inputs: PostgresSchemaInputs): PostgresSchemaOutputs {
  const { appPassword: _unused, ...rest } = inputs;
  void _unused;
  return {
    ...rest,
    applied: inputs.migrations.map((x) => ({
      id: parseInt(x.name, 10),
      name: x.name.replace(/^\d+_|\.sql$/g, ""),
      checksum: migrationChecksum(x),
    })),
    log: ["applied migration 0001_vector_extension.sql"],
  };
}

describe("PostgreSQL schema initialiser (no server)", () => {
  it("ships numbered migrations 0001..0007 that pass validation, pgvector first", () => {
    assert.deepEqual(
      repo.map((x) => x.name),
      [
        "0001_vector_extension.sql",
        "0002_platform_helpers.sql",
        "0003_iam.sql",
        "0004_model_registry.sql",
        "0005_system_config.sql",
        "0006_scheduler.sql",
        "0007_vector_store.sql",
      ],
    );
    assert.deepEqual(validateMigrations(repo), []);
    assert.match(repo[0].sql, /CREATE EXTENSION IF NOT EXISTS vector/);
    const vs = repo.find((x) => x.name === "0007_vector_store.sql")!.sql;
    assert.match(vs, /embedding\s+public\.vector\(768\) NOT NULL/);
    assert.match(vs, /USING hnsw \(embedding public\.vector_cosine_ops\)/);
    for (const schema of DEFAULT_APP_SCHEMAS) {
      assert.ok(
        repo.some((x) => x.sql.includes(`CREATE SCHEMA ${schema};`)),
        `a migration creates ${schema}`,
      );
    }
  });

  it("computes the checksum postgres-migrations stores (sha1 of file name + SQL)", async () => {
    const { loadMigrationFiles } = require("postgres-migrations");
    const library: { id: number; hash: string; fileName: string }[] = await loadMigrationFiles(
      path.join(__dirname, "../../init/postgres/migrations"),
    );
    for (const x of repo) {
      const theirs = library.find((l) => l.fileName === x.name);
      assert.ok(theirs, x.name);
      assert.equal(migrationChecksum(x), theirs.hash, x.name);
    }
  });

  it("validates names, numbering and transactions of a migration list", () => {
    assert.deepEqual(validateMigrations([m("0001_a.sql"), m("0002_b.sql")]), []);
    const reasons = (ms: unknown) => validateMigrations(ms).map((f) => f.reason);
    assert.match(reasons([m("1_a.sql")])[0], /must look like 0001_snake_case_name.sql/);
    assert.match(reasons([m("0001_A-b.sql")])[0], /must look like/);
    assert.match(reasons([m("0001_a.sql"), m("0003_c.sql")])[0], /0003_c.sql should be number 0002/);
    assert.match(reasons([m("0002_b.sql")])[0], /should be number 0001/);
    assert.match(
      reasons([m("0001_a.sql"), m("0001_b.sql")])[0],
      /0001_a.sql and 0001_b.sql have the same number/,
    );
    assert.match(reasons([m("0001_a.sql", "  \n")])[0], /0001_a.sql is empty/);
    assert.match(
      reasons([
        m("0001_a.sql", "-- postgres-migrations disable-transaction\nCREATE INDEX CONCURRENTLY x ON t (a);"),
      ])[0],
      /0001_a.sql asks to run outside a transaction/,
    );
    assert.match(reasons([m("0001_a.sql", "SET search_path TO iam;")])[0], /SET LOCAL search_path/);
    assert.deepEqual(reasons([m("0001_a.sql", "SET LOCAL search_path TO iam; -- set search_path")]), []);
    assert.match(reasons("0001_a.sql")[0], /list of \{name, sql\}/);
  });

  it("refuses an edited or removed applied migration, naming it and the way out", () => {
    const olds = [m("0001_a.sql", "CREATE TABLE a ();"), m("0002_b.sql", "CREATE TABLE b ();")];
    const edited = [olds[0], m("0002_b.sql", "CREATE TABLE b (x int);")];
    const [f] = refusedMigrationChanges(olds, edited, "ai_platform");
    assert.equal(f.property, "migrations");
    assert.match(
      f.reason,
      /migration 0002_b.sql was applied to database "ai_platform" and has been edited since/,
    );
    assert.match(f.reason, /checksum [0-9a-f]{12} became [0-9a-f]{12}/);
    assert.match(
      f.reason,
      /Restore init\/postgres\/migrations\/0002_b.sql .* new migration 0003_<what_it_does>.sql/,
    );
    const [g] = refusedMigrationChanges(olds, [olds[0]], "ai_platform");
    assert.match(g.reason, /0002_b.sql was applied .* no longer in init\/postgres\/migrations/);
    assert.deepEqual(refusedMigrationChanges(olds, [...olds, m("0003_c.sql")], "ai_platform"), []);
    assert.deepEqual(refusedMigrationChanges(undefined, olds, "ai_platform"), []);
  });

  it("check: fills defaults, sorts migrations, refuses edits of applied migrations", async () => {
    const p = new PostgresSchemaProvider();
    const fresh = await p.check({}, {
      ...base,
      maintenanceDatabase: undefined,
      appSchemas: undefined,
    } as never);
    assert.deepEqual(fresh.failures, []);
    assert.equal(fresh.inputs!.maintenanceDatabase, "postgres");
    assert.deepEqual(fresh.inputs!.appSchemas, DEFAULT_APP_SCHEMAS);
    assert.equal(fresh.inputs!.appPasswordRevision, 0);
    const shuffled = await p.check({}, { ...base, migrations: [...repo].reverse() });
    assert.deepEqual(shuffled.inputs!.migrations, repo);

    const edited = repo.map((x) => (x.name === "0003_iam.sql" ? { ...x, sql: x.sql + "\n-- tweak\n" } : x));
    const refused = await p.check(base, { ...base, migrations: edited });
    assert.equal(refused.failures!.length, 1);
    assert.match(refused.failures![0].reason, /migration 0003_iam.sql was applied to database "ai_platform"/);
    // Another database starts from scratch: nothing applied there yet.
    assert.deepEqual((await p.check(base, { ...base, database: "other", migrations: edited })).failures, []);
    // A new migration is fine.
    const added = await p.check(base, { ...base, migrations: [...repo, m("0008_more.sql")] });
    assert.deepEqual(added.failures, []);
  });

  it("check: validates inputs, lets unknown preview values through, never echoes a password", async () => {
    const p = new PostgresSchemaProvider();
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    assert.deepEqual((await p.check({}, { ...base, password: unknown, host: unknown })).failures, []);
    const bad = await p.check({}, { ...base, port: 0, database: "Bad-Name", appUser: "postgres" });
    const props = bad.failures!.map((f) => f.property).sort();
    assert.deepEqual(props, ["appUser", "database", "port"]);
    assert.match(
      bad.failures!.find((f) => f.property === "appUser")!.reason,
      /must not be the administrator/,
    );
    const nopw = await p.check({}, { ...base, password: "" });
    assert.deepEqual(
      nopw.failures!.map((f) => f.property),
      ["password"],
    );
    for (const f of [...bad.failures!, ...nopw.failures!]) {
      assert.ok(!f.reason.includes(base.password) && !f.reason.includes(base.appPassword!));
    }
  });

  it("counts app password rotations so diff sees them without storing the password", async () => {
    assert.equal(nextAppPasswordRevision({}, base), 0);
    assert.equal(nextAppPasswordRevision(base, base), 0);
    assert.equal(nextAppPasswordRevision(base, { ...base, appPassword: "new-one" }), 1);
    assert.equal(
      nextAppPasswordRevision({ ...base, appPasswordRevision: 4 }, { ...base, appPassword: "x-new" }),
      5,
    );
    assert.equal(nextAppPasswordRevision({ ...base, appPasswordRevision: 4 }, base), 4);
    const p = new PostgresSchemaProvider();
    const rotated = (await p.check(base, { ...base, appPassword: "rotated-pw" }))
      .inputs as PostgresSchemaInputs;
    assert.deepEqual(await p.diff("id", outputsOf(base), rotated), {
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    assert.ok(!("appPassword" in outputsOf(base)));
  });

  it("diff is exact: unchanged, reordered keys, __provider and timeoutSeconds give no change", async () => {
    const p = new PostgresSchemaProvider();
    const olds = { ...outputsOf(base), __provider: "old" } as PostgresSchemaOutputs;
    const same = (await p.check(base, base)).inputs as PostgresSchemaInputs;
    assert.equal((await p.diff("id", olds, same)).changes, false);
    const reordered = {
      ...same,
      migrations: same.migrations.map((x) => ({ sql: x.sql, name: x.name })),
      __provider: "new",
      timeoutSeconds: 5,
    };
    assert.equal((await p.diff("id", olds, reordered)).changes, false);
    for (const change of [
      { migrations: [...repo, m("0008_more.sql")] },
      { appSchemas: ["iam"] },
      { password: "rotated-admin" },
      { host: "127.0.0.1" },
      { appUser: "someone_else" },
    ]) {
      const d = await p.diff("id", olds, { ...same, ...change });
      assert.deepEqual(
        d,
        { changes: true, replaces: [], deleteBeforeReplace: false },
        JSON.stringify(change),
      );
    }
  });

  it("compares the migrations with the tracking table: pending, edited, unknown", () => {
    const ms = [m("0001_a.sql", "A"), m("0002_b.sql", "B"), m("0003_c.sql", "C")];
    const row = (x: Migration) => ({
      id: parseInt(x.name, 10),
      name: x.name.slice(5, -4),
      checksum: migrationChecksum(x),
    });
    const applied = [{ id: 0, name: "create-migrations-table", checksum: "x" }, row(ms[0]), row(ms[1])];
    assert.deepEqual(compareWithApplied(ms, applied), { pending: [ms[2]], changed: [], unknown: [] });
    const edited = [ms[0], m("0002_b.sql", "B2"), ms[2]];
    const drift = compareWithApplied(edited, applied);
    assert.deepEqual(drift.changed, ["0002_b.sql"]);
    assert.match(
      appliedDriftError("db1", drift.changed, drift.unknown)!,
      /migration 0002_b.sql was applied to database "db1" with other SQL than the file now has/,
    );
    const behind = compareWithApplied([ms[0]], applied);
    assert.deepEqual(
      behind.unknown.map((u) => u.id),
      [2],
    );
    assert.match(
      appliedDriftError("db1", [], behind.unknown)!,
      /migration 2 \(b\) applied that this program does not have/,
    );
    assert.equal(appliedDriftError("db1", [], []), undefined);
  });

  it("decides on pgvector from pg_available_extensions, naming the image setting", () => {
    const required = requiredExtensions(repo);
    assert.deepEqual([...required.entries()], [["vector", ["0001_vector_extension.sql"]]]);
    assert.equal(missingExtensionsError(required, ["vector", "plpgsql"]), undefined);
    const bitnami = missingExtensionsError(required, ["plpgsql", "pgaudit"])!;
    assert.match(bitnami, /no pgvector/);
    assert.ok(bitnami.includes(IMAGE_SETTING));
    assert.equal(IMAGE_SETTING, "ai-platform-data:postgres.images.postgresql");
    assert.match(bitnami, /0001_vector_extension.sql/);
    const other = requiredExtensions([
      m("0001_a.sql", '-- CREATE EXTENSION ignored\ncreate extension "pg_trgm";'),
    ]);
    assert.deepEqual([...other.keys()], ["pg_trgm"]);
    assert.match(missingExtensionsError(other, [])!, /extension "pg_trgm"/);
    assert.deepEqual([...requiredExtensions([m("0001_a.sql", "SELECT 1")]).keys()], []);
  });

  it("plans only the grants the application role lacks", () => {
    const full: SchemaGrants = {
      schema: "iam",
      exists: true,
      usage: true,
      tables: true,
      sequences: true,
      defaultTables: true,
      defaultSequences: true,
    };
    assert.deepEqual(grantStatements("ai_platform", "postgres", [full]), []);
    const [plan] = grantStatements("ai_platform", "postgres", [
      { ...full, usage: false, defaultTables: false },
    ]);
    assert.deepEqual(plan, {
      schema: "iam",
      statements: [
        'GRANT USAGE ON SCHEMA "iam" TO "ai_platform"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "iam" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "ai_platform"',
      ],
    });
    const none = {
      ...full,
      usage: false,
      tables: false,
      sequences: false,
      defaultTables: false,
      defaultSequences: false,
    };
    assert.equal(grantStatements("app", "admin", [none])[0].statements.length, 5);
    assert.deepEqual(grantStatements("app", "admin", [{ ...none, exists: false }]), []);
  });

  it("takes back what the chart's first boot gives the app role, and nothing when it has nothing", () => {
    assert.deepEqual(
      roleElevationStatements("app", "postgres", "ai_platform", {
        attributes: ["CREATEDB"],
        ownsDatabase: true,
      }),
      ['ALTER ROLE "app" NOCREATEDB', 'ALTER DATABASE "ai_platform" OWNER TO "postgres"'],
    );
    assert.deepEqual(
      roleElevationStatements("app", "admin", "db", {
        attributes: ["CREATEROLE", "BYPASSRLS"],
        ownsDatabase: false,
      }),
      ['ALTER ROLE "app" NOCREATEROLE NOBYPASSRLS'],
    );
    assert.deepEqual(
      roleElevationStatements("app", "admin", "db", { attributes: [], ownsDatabase: false }),
      [],
    );
    assert.deepEqual(schemaOwnershipStatements("app", "postgres", ["public"], true), [
      'ALTER SCHEMA "public" OWNER TO "postgres"',
      'REVOKE ALL ON public.migrations FROM "app"',
    ]);
    assert.deepEqual(schemaOwnershipStatements("app", "postgres", [], false), []);
  });

  it("makes the SCRAM-SHA-256 verifier that accepts RFC 7677's example exchange", () => {
    // RFC 7677 section 3: user "user", password "pencil", salt and iteration count from its
    // server-first message. A server holding the verifier checks the client's proof against StoredKey
    // and answers with a signature made with ServerKey (RFC 5802 section 3): both must be the RFC's.
    const v = scramVerifier("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), 4096);
    const m = /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$([^:]+):(.+)$/.exec(v);
    assert.ok(m, v);
    const [storedKey, serverKey] = [Buffer.from(m[1], "base64"), Buffer.from(m[2], "base64")];
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const signature = hmac(storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
    assert.deepEqual(createHash("sha256").update(clientKey).digest(), storedKey);
    assert.equal(
      hmac(serverKey, authMessage).toString("base64"),
      "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    );
    assert.ok(!v.includes("pencil"));
  });

  it("retries unreachable or starting servers, fails at once on refusals (shared/retry)", () => {
    assert.equal(mayRetry(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })), true);
    assert.equal(mayRetry(new Error("Connection terminated due to connection timeout")), true);
    assert.equal(mayRetry(Object.assign(new Error("starting"), { code: "57P03" })), true);
    assert.equal(mayRetry(Object.assign(new Error("too many"), { code: "53300" })), true);
    assert.equal(
      mayRetry(Object.assign(new Error('password authentication failed for user "x"'), { code: "28P01" })),
      false,
    );
    assert.equal(mayRetry(Object.assign(new Error("no database"), { code: "3D000" })), false);
  });

  it("works from its serialized form; delete keeps everything without touching the server", async (t) => {
    const { provider, text } = await viaSerialization(new PostgresSchemaProvider());
    assert.ok(!text.includes("admin-secret-1"));
    const checked = await provider.check!(base, base);
    assert.deepEqual(checked.failures, []);
    assert.equal((await provider.diff!("id", outputsOf(base), checked.inputs)).changes, false);
    const edited = repo.map((x, i) => (i === 0 ? { ...x, sql: x.sql + " " } : x));
    assert.match(
      (await provider.check!(base, { ...base, migrations: edited })).failures![0].reason,
      /0001_vector/,
    );
    // delete opens no connection: the host does not exist and it still succeeds, saying what it kept.
    const stderr = t.mock.method(process.stderr, "write", () => true);
    try {
      await provider.delete!("id", { ...outputsOf(base), host: "no-such-host.invalid" });
    } finally {
      stderr.mock.restore();
    }
    const printed = stderr.mock.calls.map((c) => String(c.arguments[0])).join("");
    assert.match(printed, /kept database "ai_platform" .* deletes nothing on the server/);
  });
});
