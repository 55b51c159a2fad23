/**
 * PostgreSQL schema initialiser against the real PostgreSQL 15 + pgvector of scripts/services.sh,
 * driven only through its serialized form as Pulumi's dynamic-provider host runs it; then the backup
 * round trip with the component's own backup script and the README's restore procedure.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import type * as Pg from "pg";
import {
  IMAGE_SETTING,
  loadMigrations,
  Migration,
  migrationChecksum,
  missingExtensionsError,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  PostgresSchemaProvider,
  requiredExtensions,
} from "../../init/postgres";
import { viaSerialization } from "../support/dynamic";
import { closedPort, lateProxy, requireServer, Services } from "../support/servers";

const { Client } = require("pg") as typeof Pg;
type Provider = Awaited<ReturnType<typeof viaSerialization>>["provider"];
type Svc = Services["postgres"];

const run = randomBytes(3).toString("hex");
const repo = loadMigrations();
const createdDatabases = new Set<string>();
const createdRoles = new Set<string>();
let cachedProvider: Provider | undefined;
let lastSvc: Svc | undefined;

/** The provider as the engine's host runs it (serialized once per file). */
async function provider(): Promise<Provider> {
  cachedProvider ??= (await viaSerialization(new PostgresSchemaProvider())).provider;
  return cachedProvider;
}

/** Unique database and role names for one scenario. */
function names(tag: string) {
  const database = `aipd_${run}_${tag}`;
  const appUser = `aipd_${run}_${tag}_app`;
  createdDatabases.add(database);
  createdRoles.add(appUser);
  return { database, appUser };
}

function inputs(svc: Svc, tag: string, extra: Partial<PostgresSchemaInputs> = {}): PostgresSchemaInputs {
  lastSvc = svc;
  return {
    host: svc.host,
    port: svc.port,
    adminUser: svc.user,
    password: svc.password,
    maintenanceDatabase: svc.database,
    ...names(tag),
    appPassword: `app-${run}-${tag}-pw`,
    appSchemas: ["iam", "model_registry", "system_config", "scheduler", "vector_store"],
    migrations: repo,
    timeoutSeconds: 30,
    appPasswordRevision: 0,
    ...extra,
  };
}

/** check then create, as the engine does for a new resource. */
async function create(p: Provider, news: PostgresSchemaInputs) {
  const checked = await p.check!({}, news);
  assert.deepEqual(checked.failures, []);
  const r = await p.create!(checked.inputs as PostgresSchemaInputs);
  return { id: r.id, inputs: checked.inputs as PostgresSchemaInputs, outs: r.outs as PostgresSchemaOutputs };
}

/** check, diff, update, as the engine does for an existing one. */
async function update(p: Provider, id: string, olds: PostgresSchemaOutputs, oldInputs: object, news: object) {
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

async function sql<T extends Pg.QueryResultRow = Record<string, unknown>>(
  svc: Svc,
  database: string,
  text: string,
  values: unknown[] = [],
  as?: { user: string; password: string },
): Promise<T[]> {
  const c = new Client({
    host: svc.host,
    port: svc.port,
    user: as?.user ?? svc.user,
    password: as?.password ?? svc.password,
    database,
  });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

const tracking = (svc: Svc, db: string) =>
  sql<{ id: number; hash: string; executed_at: Date }>(
    svc,
    db,
    "SELECT id, hash, executed_at FROM public.migrations ORDER BY id",
  );

const exists = async (svc: Svc, db: string, relation: string) =>
  (await sql<{ r: string | null }>(svc, db, "SELECT to_regclass($1)::text AS r", [relation]))[0].r !== null;

const migrationLines = (log: string[]) => log.filter((l) => l.startsWith("applied migration"));

/** Captures the provider's progress lines on stderr while `fn` runs. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return lines.join("");
}

after(async () => {
  if (!lastSvc) return;
  for (const db of createdDatabases) {
    await sql(lastSvc, lastSvc.database, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).catch(
      () => undefined,
    );
  }
  for (const role of createdRoles) {
    await sql(lastSvc, lastSvc.database, `DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
  }
});

describe("PostgreSQL schema initialiser (real server)", () => {
  // The main scenario's state, carried from one step to the next like a stack's.
  let main: { id: string; inputs: PostgresSchemaInputs; outs: PostgresSchemaOutputs } | undefined;
  const extra = m(
    "0008_job_tags.sql",
    "CREATE TABLE scheduler.job_tags (job_id bigint REFERENCES scheduler.jobs (id), tag text NOT NULL);",
  );

  it("fresh create (external mode: no role, no database) builds role, database, schemas, grants", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const news = inputs(svc, "main");
    main = await create(p, news);
    const { database, appUser, appPassword } = news;

    assert.deepEqual(main.outs.log.slice(0, 4), [
      `created role "${appUser}" (login, password set)`,
      `created database "${database}"`,
      `granted "${appUser}" connect on database "${database}"`,
      "created the tracking table public.migrations",
    ]);
    assert.deepEqual(
      migrationLines(main.outs.log),
      repo.map((x) => `applied migration ${x.name} (sha1 ${migrationChecksum(x).slice(0, 12)})`),
    );
    assert.equal(main.outs.log.filter((l) => l.startsWith(`granted "${appUser}" usage, DML`)).length, 5);
    // No output carries the application password; the admin one only in `password` (made secret).
    assert.ok(!("appPassword" in main.outs));
    assert.ok(!JSON.stringify({ ...main.outs, password: "" }).includes(svc.password));
    assert.ok(!JSON.stringify(main.outs).includes(appPassword!));
    assert.ok(!main.id.includes(svc.password));

    // The tracking table: one row per migration with the checksum, as reported in `applied`.
    const rows = await tracking(svc, database);
    assert.deepEqual(
      rows.filter((r) => r.id > 0).map((r) => r.hash),
      repo.map(migrationChecksum),
    );
    assert.deepEqual(
      main.outs.applied.map((a) => a.checksum),
      repo.map(migrationChecksum),
    );

    // pgvector, the tables of every schema and the HNSW index.
    const ext = await sql<{ extversion: string }>(
      svc,
      database,
      "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
    );
    assert.equal(ext.length, 1);
    const tables = await sql<{ t: string }>(
      svc,
      database,
      `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
       WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE' ORDER BY 1`,
      [news.appSchemas],
    );
    assert.deepEqual(
      tables.map((r) => r.t),
      [
        "iam.permissions",
        "iam.role_permissions",
        "iam.roles",
        "iam.user_roles",
        "iam.users",
        "model_registry.model_versions",
        "model_registry.models",
        "scheduler.job_runs",
        "scheduler.jobs",
        "system_config.settings",
        "system_config.settings_history",
        "vector_store.collections",
        "vector_store.embeddings",
      ],
    );
    const [hnsw] = await sql<{ indexdef: string }>(
      svc,
      database,
      "SELECT indexdef FROM pg_indexes WHERE schemaname = 'vector_store' AND indexname = 'embeddings_embedding_hnsw_idx'",
    );
    assert.match(hnsw.indexdef, /USING hnsw \(embedding vector_cosine_ops\)/);

    // The application role logs in with its password and works with DML only.
    const app = { user: appUser, password: appPassword! };
    await sql(
      svc,
      database,
      `WITH u AS (INSERT INTO iam.users (username, email) VALUES ('alice', 'alice@example.com') RETURNING id),
            r AS (INSERT INTO iam.roles (name) VALUES ('ml-engineer') RETURNING id),
            p AS (INSERT INTO iam.permissions (resource, action) VALUES ('model', 'deploy') RETURNING id),
            rp AS (INSERT INTO iam.role_permissions (role_id, permission_id) SELECT r.id, p.id FROM r, p)
       INSERT INTO iam.user_roles (user_id, role_id) SELECT u.id, r.id FROM u, r`,
      [],
      app,
    );
    const perms = await sql(
      svc,
      database,
      "SELECT username, resource, action FROM iam.user_permissions",
      [],
      app,
    );
    assert.deepEqual(perms, [{ username: "alice", resource: "model", action: "deploy" }]);
    await sql(
      svc,
      database,
      `WITH mo AS (INSERT INTO model_registry.models (name, task) VALUES ('sentiment', 'text-classification') RETURNING id)
       INSERT INTO model_registry.model_versions (model_id, version, status, artifact_uri, metrics)
       SELECT id, '1.0.0', 'production', 's3://models/sentiment/1/', '{"f1": 0.91}' FROM mo`,
      [],
      app,
    );
    await assert.rejects(
      sql(
        svc,
        database,
        `INSERT INTO model_registry.model_versions (model_id, version, status, artifact_uri)
         SELECT id, '2.0.0', 'production', 's3://models/sentiment/2/' FROM model_registry.models`,
        [],
        app,
      ),
      /model_versions_one_production_idx/,
    );
    await sql(
      svc,
      database,
      `INSERT INTO system_config.settings (key, value) VALUES ('features.rag', '{"on": false}')`,
      [],
      app,
    );
    await sql(
      svc,
      database,
      `UPDATE system_config.settings SET value = '{"on": true}' WHERE key = 'features.rag'`,
      [],
      app,
    );
    const [setting] = await sql<{ version: number; history: string }>(
      svc,
      database,
      "SELECT version, (SELECT count(*) FROM system_config.settings_history)::text AS history FROM system_config.settings",
      [],
      app,
    );
    assert.deepEqual(setting, { version: 2, history: "1" });
    await sql(
      svc,
      database,
      `WITH j AS (INSERT INTO scheduler.jobs (name, job_type, schedule) VALUES ('nightly-train', 'model_training', '0 3 * * *') RETURNING id)
       INSERT INTO scheduler.job_runs (job_id) SELECT id FROM j`,
      [],
      app,
    );
    await sql(
      svc,
      database,
      `WITH c AS (INSERT INTO vector_store.collections (name, embedding_model) VALUES ('docs', 'all-mpnet-base-v2') RETURNING id)
       INSERT INTO vector_store.embeddings (collection_id, external_id, embedding)
       SELECT c.id, 'doc-' || i, (SELECT array_agg(CASE WHEN d = i THEN 1.0 ELSE 0.01 END) FROM generate_series(1, 768) d)::vector
       FROM c, generate_series(1, 3) i`,
      [],
      app,
    );
    const nearest = await sql<{ external_id: string }>(
      svc,
      database,
      `SELECT external_id FROM vector_store.embeddings
       ORDER BY embedding <=> (SELECT array_agg(CASE WHEN d = 2 THEN 1.0 ELSE 0.0 END) FROM generate_series(1, 768) d)::vector LIMIT 1`,
      [],
      app,
    );
    assert.deepEqual(nearest, [{ external_id: "doc-2" }]);
    await assert.rejects(
      sql(svc, database, "CREATE TABLE iam.sneaky (id int)", [], app),
      /permission denied/,
    );
    await assert.rejects(sql(svc, database, "DROP TABLE iam.users", [], app), /must be owner/);
  });

  it("re-run with no change: no diff, and an update writes nothing", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const db = main.inputs.database;
    const observe = async () => ({
      tracking: await tracking(svc, db),
      // A password write would change the SCRAM verifier (new random salt).
      verifier: await sql(svc, svc.database, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", [
        main!.inputs.appUser,
      ]),
      acls: await sql(
        svc,
        db,
        "SELECT n.nspname, n.nspacl::text, (SELECT array_agg(c.relacl::text ORDER BY c.oid) FROM pg_class c WHERE c.relnamespace = n.oid) AS rels FROM pg_namespace n ORDER BY 1",
      ),
      defaults: await sql(
        svc,
        db,
        "SELECT defaclnamespace, defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1, 2",
      ),
    });
    const before = await observe();
    const again = await update(p, main.id, main.outs, main.inputs, {
      ...main.inputs,
      appPasswordRevision: undefined,
    });
    assert.equal(again.changes, false);
    assert.deepEqual(again.outs.log, []);
    assert.deepEqual(await observe(), before);
    main = { ...main, inputs: again.inputs, outs: again.outs };
  });

  it("a new migration applies alone, and the application role can use its table", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const before = await tracking(svc, main.inputs.database);
    const next = await update(p, main.id, main.outs, main.inputs, {
      ...main.inputs,
      migrations: [...repo, extra],
    });
    assert.equal(next.changes, true);
    assert.deepEqual(next.outs.log, [
      `applied migration 0008_job_tags.sql (sha1 ${migrationChecksum(extra).slice(0, 12)})`,
    ]);
    const after = await tracking(svc, main.inputs.database);
    assert.deepEqual(after.slice(0, before.length), before);
    assert.deepEqual(
      after.slice(before.length).map((r) => [r.id, r.hash]),
      [[8, migrationChecksum(extra)]],
    );
    // Default privileges: the new table is usable by the application role without a new GRANT.
    await sql(
      svc,
      main.inputs.database,
      "INSERT INTO scheduler.job_tags SELECT id, 'gpu' FROM scheduler.jobs",
      [],
      { user: main.inputs.appUser, password: main.inputs.appPassword! },
    );
    main = { ...main, inputs: next.inputs, outs: next.outs };
  });

  it("an edited applied migration is refused, by check and at run time from the tracking table", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const edited = main.inputs.migrations.map((x) =>
      x.name === "0003_iam.sql"
        ? { ...x, sql: x.sql.replace("display_name  text,", "display_name  varchar(80),") }
        : x,
    );
    const refused = await p.check!(main.inputs, { ...main.inputs, migrations: edited });
    assert.equal(refused.failures!.length, 1);
    assert.match(
      refused.failures![0].reason,
      /migration 0003_iam.sql was applied to database .* edited since/,
    );
    assert.match(refused.failures![0].reason, /put the change into a new migration 0009_<what_it_does>.sql/);

    // Another checkout whose state does not know: the tracking table still refuses, before anything runs.
    const pending = m("0009_never.sql", "CREATE TABLE scheduler.never (id int);");
    const before = await tracking(svc, main.inputs.database);
    await assert.rejects(
      p.update!(
        main.id,
        { ...main.outs, migrations: [] },
        { ...main.inputs, migrations: [...edited, pending] },
      ),
      (e: Error) => {
        assert.match(
          e.message,
          /refusing to migrate: migration 0003_iam.sql was applied to database "aipd_\w+" with other SQL/,
        );
        assert.match(e.message, /immutable/);
        return true;
      },
    );
    assert.equal(await exists(svc, main.inputs.database, "scheduler.never"), false);
    assert.deepEqual(await tracking(svc, main.inputs.database), before);
  });

  it("a failing migration leaves nothing of itself applied and the tracking table unchanged", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const before = await tracking(svc, main.inputs.database);
    const broken = m(
      "0009_broken.sql",
      "CREATE TABLE scheduler.half (id int);\nINSERT INTO scheduler.half VALUES (1);\nSELEC 1;",
    );
    const news = { ...main.inputs, migrations: [...main.inputs.migrations, broken] };
    const checked = await p.check!(main.inputs, news);
    assert.deepEqual(checked.failures, []);
    await assert.rejects(p.update!(main.id, main.outs, checked.inputs), (e: Error) => {
      assert.match(
        e.message,
        /migration 0009_broken.sql failed and was rolled back: nothing of it is applied/,
      );
      assert.match(e.message, /syntax error at or near "SELEC"/);
      return true;
    });
    assert.equal(await exists(svc, main.inputs.database, "scheduler.half"), false);
    assert.deepEqual(await tracking(svc, main.inputs.database), before);
    // The advisory lock was released: a good run goes through at once.
    const ok = await update(p, main.id, main.outs, main.inputs, main.inputs);
    assert.deepEqual(ok.outs.log, []);
  });

  it("read reports drift (grants, tracking table) and the next update converges it", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const db = main.inputs.database;
    const clean = await p.read!(main.id, main.outs);
    assert.deepEqual(clean.props, main.outs);

    await sql(svc, db, `REVOKE ALL ON ALL TABLES IN SCHEMA scheduler FROM "${main.inputs.appUser}"`);
    await sql(svc, db, "UPDATE public.migrations SET hash = 'tampered' WHERE id = 6");
    const drifted = (await p.read!(main.id, main.outs)).props as PostgresSchemaOutputs;
    assert.deepEqual(drifted.appSchemas, ["iam", "model_registry", "system_config", "vector_store"]);
    assert.equal(drifted.applied.find((a) => a.id === 6)!.checksum, "tampered");
    assert.ok(!drifted.migrations.some((x) => x.name === "0006_scheduler.sql"));
    assert.equal((await p.diff!(main.id, drifted, main.inputs)).changes, true);
    // The tracking table disagrees with the file: refused, naming it.
    await assert.rejects(
      p.update!(main.id, drifted, main.inputs),
      /migration 0006_scheduler.sql was applied .* other SQL/,
    );

    await sql(svc, db, "UPDATE public.migrations SET hash = $1 WHERE id = 6", [migrationChecksum(repo[5])]);
    const fixed = await p.update!(main.id, drifted, main.inputs);
    assert.deepEqual(fixed.outs.log, [
      `granted "${main.inputs.appUser}" usage, DML and default privileges on schema scheduler`,
    ]);
    assert.deepEqual((await p.read!(main.id, fixed.outs)).props, fixed.outs);
    main = { ...main, outs: fixed.outs as PostgresSchemaOutputs };
  });

  it("delete keeps the database, its data and the role", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await provider();
    const said = await stderrOf(() => p.delete!(main!.id, main!.outs));
    assert.match(said, new RegExp(`kept database "${main.inputs.database}".*deletes nothing on the server`));
    const users = await sql(svc, main.inputs.database, "SELECT username FROM iam.users");
    assert.deepEqual(users, [{ username: "alice" }]);
    assert.equal(
      (await sql(svc, svc.database, "SELECT 1 FROM pg_roles WHERE rolname = $1", [main.inputs.appUser]))
        .length,
      1,
    );
  });

  it("a run that stopped half way (helm mode: chart-made role and database) converges when run again", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const news = inputs(svc, "half");
    // What the chart does in helm mode: the role (with some password) and the database exist.
    await sql(svc, svc.database, `CREATE ROLE "${news.appUser}" LOGIN PASSWORD 'chart-made-password'`);
    await sql(svc, svc.database, `CREATE DATABASE "${news.database}"`);
    // A first run dies in migration 0005 (an injected bad item).
    const broken = [
      ...repo.slice(0, 4),
      m("0005_system_config.sql", "CREATE SCHEMA system_config; SELECT 1/0;"),
    ];
    const checked = await p.check!({}, { ...news, migrations: broken });
    await assert.rejects(
      p.create!(checked.inputs),
      /migration 0005_system_config.sql failed and was rolled back.*division by zero/,
    );
    assert.deepEqual(
      (await tracking(svc, news.database)).map((r) => r.id),
      [0, 1, 2, 3, 4],
    );
    assert.equal(
      (await sql(svc, news.database, "SELECT 1 FROM pg_namespace WHERE nspname = 'system_config'")).length,
      0,
    );

    // Run again with the good migrations: only the rest is applied, the password converges.
    const again = await create(p, news);
    // The role, database and connect grant were there (the chart, then the first run).
    assert.equal(again.outs.log[0], `set the password of role "${news.appUser}"`);
    assert.ok(!again.outs.log.some((l) => /^created|connect on database/.test(l)), again.outs.log.join("\n"));
    assert.deepEqual(
      migrationLines(again.outs.log).map((l) => l.split(" ")[2]),
      ["0005_system_config.sql", "0006_scheduler.sql", "0007_vector_store.sql"],
    );
    assert.equal(again.outs.applied.length, 7);
    const who = await sql(
      svc,
      news.database,
      "SELECT current_user AS u, count(*)::int AS n FROM vector_store.embeddings",
      [],
      {
        user: news.appUser,
        password: news.appPassword!,
      },
    );
    assert.deepEqual(who, [{ u: news.appUser, n: 0 }]);
  });

  it("an app password rotation is applied to the role (no password in the outputs)", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const first = await create(p, inputs(svc, "rot", { migrations: repo.slice(0, 3), appSchemas: ["iam"] }));
    const rotated = await update(p, first.id, first.outs, first.inputs, {
      ...first.inputs,
      appPassword: `new-${run}-pw`,
    });
    assert.equal(rotated.changes, true);
    assert.equal(rotated.inputs.appPasswordRevision, 1);
    assert.deepEqual(rotated.outs.log, [`set the password of role "${first.inputs.appUser}"`]);
    assert.ok(!JSON.stringify(rotated.outs).includes(`new-${run}-pw`));
    await sql(svc, first.inputs.database, "SELECT 1", [], {
      user: first.inputs.appUser,
      password: `new-${run}-pw`,
    });
    await assert.rejects(
      sql(svc, first.inputs.database, "SELECT 1", [], {
        user: first.inputs.appUser,
        password: first.inputs.appPassword!,
      }),
      /password authentication failed/,
    );
  });

  it("the real server offers pgvector; without it the decision names the image setting", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const rows = await sql<{ name: string }>(svc, svc.database, "SELECT name FROM pg_available_extensions");
    const names = rows.map((r) => r.name);
    assert.ok(names.includes("vector"), "services.sh builds pgvector");
    const required = requiredExtensions(repo);
    assert.equal(missingExtensionsError(required, names), undefined);
    // The same server as the Bitnami image would present it: everything but pgvector.
    const bitnami = missingExtensionsError(
      required,
      names.filter((n) => n !== "vector"),
    );
    assert.ok(bitnami?.includes(IMAGE_SETTING));
  });

  it("waits for a server that starts late (retry with backoff)", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const proxy = await lateProxy({ host: svc.host, port: svc.port }, 3000);
    try {
      const r = await create(
        p,
        inputs(svc, "late", { port: proxy.port, migrations: repo.slice(0, 1), appSchemas: [] }),
      );
      assert.ok(proxy.accepted() > 0, "the server that started late was never reached");
      assert.equal(migrationLines(r.outs.log).length, 1);
    } finally {
      proxy.close();
    }
  });

  it("gives up on a server that is down past the deadline, saying what it tried", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const port = await closedPort();
    const started = Date.now();
    await assert.rejects(p.create!(inputs(svc, "down", { port, timeoutSeconds: 3 })), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`PostgreSQL at 127.0.0.1:${port} \\(database "postgres", user "postgres"\\)`),
      );
      assert.match(
        e.message,
        /not reachable after \d+ attempts over \d+ s \(deadline 3 s, set by initTimeoutSeconds\)/,
      );
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
    assert.ok(Date.now() - started < 8000);
  });

  it("fails at once on wrong credentials, without the password in the message", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const started = Date.now();
    await assert.rejects(p.create!(inputs(svc, "wrongpw", { password: wrong })), (e: Error) => {
      assert.match(e.message, /password authentication failed for user "postgres"/);
      assert.ok(!e.message.includes(wrong));
      assert.ok(!(e.stack ?? "").includes(wrong));
      return true;
    });
    assert.ok(Date.now() - started < 5000, "no retries on a refusal");
  });
});

describe("PostgreSQL backup round trip (components/backup/postgres.sh, README restore)", () => {
  it("dumps with the CronJob's script, prunes old dumps, restores into a fresh database", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await provider();
    const news = inputs(svc, "bak");
    const first = await create(p, news);
    const app = { user: news.appUser, password: news.appPassword! };
    await sql(svc, news.database, "INSERT INTO iam.users (username) VALUES ('bob'), ('carol')", [], app);
    await sql(
      svc,
      news.database,
      `WITH c AS (INSERT INTO vector_store.collections (name, embedding_model) VALUES ('imgs', 'clip') RETURNING id)
       INSERT INTO vector_store.embeddings (collection_id, external_id, embedding, metadata)
       SELECT c.id, 'img-' || i, (SELECT array_agg(((d * i) % 97)::real / 97) FROM generate_series(1, 768) d)::vector, jsonb_build_object('i', i)
       FROM c, generate_series(1, 20) i`,
      [],
      app,
    );
    const original = await sql(
      svc,
      news.database,
      "SELECT external_id, embedding::text AS e, metadata FROM vector_store.embeddings ORDER BY 1",
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-pg-backup-"));
    const env = {
      ...process.env,
      PATH: `${svc.bin ?? "/usr/lib/postgresql/15/bin"}:${process.env.PATH}`,
      PGHOST: svc.host,
      PGPORT: String(svc.port),
      PGUSER: svc.user,
      PGPASSWORD: svc.password,
      PGDATABASE: news.database,
      BACKUP_DIR: dir,
      RETENTION_DAYS: "7",
    };
    try {
      // A dump from a month ago must be pruned; one of another database must stay.
      const old = path.join(dir, `postgres-${news.database}-20000101T000000Z.dump`);
      const foreign = path.join(dir, `postgres-otherdb-20000101T000000Z.dump`);
      for (const f of [old, foreign]) {
        fs.writeFileSync(f, "old");
        const monthAgo = new Date(Date.now() - 30 * 86400_000);
        fs.utimesSync(f, monthAgo, monthAgo);
      }
      const script = path.join(__dirname, "../../components/backup/postgres.sh");
      const out = execFileSync("sh", [script], { env, encoding: "utf8" });
      assert.match(out, /backup written: .*postgres-aipd_\w+-\d{8}T\d{6}Z\.dump \(\d+ bytes\)/);
      const files = fs.readdirSync(dir).sort();
      const dumps = files.filter((f) => f.startsWith(`postgres-${news.database}-`));
      assert.equal(dumps.length, 1, files.join(", "));
      assert.ok(!fs.existsSync(old), "the old dump was pruned");
      assert.ok(fs.existsSync(foreign), "another database's dump was left alone");
      assert.ok(!files.some((f) => f.endsWith(".partial")));

      // README: createdb + pg_restore into a fresh database.
      const restored = `${news.database}_restored`;
      createdDatabases.add(restored);
      const conn = ["-h", svc.host, "-p", String(svc.port), "-U", svc.user];
      execFileSync("createdb", [...conn, restored], { env });
      const r = spawnSync("pg_restore", [...conn, "-d", restored, path.join(dir, dumps[0])], {
        env,
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);

      assert.deepEqual(
        await sql(
          svc,
          restored,
          "SELECT external_id, embedding::text AS e, metadata FROM vector_store.embeddings ORDER BY 1",
        ),
        original,
      );
      assert.deepEqual(
        (await sql<{ username: string }>(svc, restored, "SELECT username FROM iam.users ORDER BY 1")).map(
          (u) => u.username,
        ),
        ["bob", "carol"],
      );
      const idx = await sql(
        svc,
        restored,
        "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'",
      );
      assert.deepEqual(idx, [{ indexname: "embeddings_embedding_hnsw_idx" }]);
      // The tracking table came back too: the initialiser sees every migration applied there.
      const again = await create(p, { ...news, database: restored, appPasswordRevision: 0 });
      assert.deepEqual(migrationLines(again.outs.log), []);
      assert.deepEqual(
        again.outs.applied.map((a) => a.checksum),
        first.outs.applied.map((a) => a.checksum),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function m(name: string, sql: string): Migration {
  return { name, sql };
}
