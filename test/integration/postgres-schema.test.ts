/**
 * The PostgreSQL schema initialiser's life cycle against the real PostgreSQL + pgvector of
 * scripts/services.sh, driven only through its serialized form as Pulumi's dynamic-provider host runs
 * it: one stack's resource from create through re-run, a new migration, refused edits, a failing
 * migration and drift to delete, each step carrying the state of the one before.
 */
import * as assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { migrationChecksum, PostgresSchemaInputs, PostgresSchemaOutputs } from "../../init/postgres";
import {
  createSchema,
  exists,
  migration,
  migrationLines,
  schemaProvider,
  seedScenarios,
  sql,
  tracking,
  updateSchema,
} from "../support/postgres-fixtures";
import { assertSeedSchema } from "../support/postgres-seed";
import { stderrOf } from "../support/stderr";
import { requireServer } from "../support/servers";

const S = seedScenarios();
after(S.cleanup);

describe("PostgreSQL schema initialiser (real server)", () => {
  // The main scenario's state, carried from one step to the next like a stack's.
  let main: { id: string; inputs: PostgresSchemaInputs; outs: PostgresSchemaOutputs } | undefined;
  const extra = migration(
    "0008_job_tags.sql",
    "CREATE TABLE scheduler.job_tags (job_id bigint REFERENCES scheduler.jobs (id), tag text NOT NULL);",
  );

  it("fresh create (external mode: no role, no database) builds role, database, schemas, grants", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const news = S.inputs(svc, "main");
    main = await createSchema(p, news);
    const { database, appUser, appPassword } = news;

    assert.deepEqual(main.outs.log.slice(0, 4), [
      `created role "${appUser}" (login, password set)`,
      `created database "${database}"`,
      `granted "${appUser}" connect on database "${database}"`,
      "created the tracking table public.migrations",
    ]);
    assert.deepEqual(
      migrationLines(main.outs.log),
      S.repo.map((x) => `applied migration ${x.name} (sha1 ${migrationChecksum(x).slice(0, 12)})`),
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
      S.repo.map(migrationChecksum),
    );
    assert.deepEqual(
      main.outs.applied.map((a) => a.checksum),
      S.repo.map(migrationChecksum),
    );

    await assertSeedSchema(svc, database, news.appSchemas, { user: appUser, password: appPassword! });
  });

  it("re-run with no change: no diff, and an update writes nothing", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await schemaProvider();
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
    const again = await updateSchema(p, main.id, main.outs, main.inputs, {
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
    const p = await schemaProvider();
    const before = await tracking(svc, main.inputs.database);
    const next = await updateSchema(p, main.id, main.outs, main.inputs, {
      ...main.inputs,
      migrations: [...S.repo, extra],
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

  it("an edited applied migration is refused at run time from the tracking table", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await schemaProvider();
    const edited = main.inputs.migrations.map((x) =>
      x.name === "0003_iam.sql"
        ? { ...x, sql: x.sql.replace("display_name  text,", "display_name  varchar(80),") }
        : x,
    );
    // check refuses it from the state (test/unit/postgres-logic.test.ts); another checkout whose state
    // does not know: the tracking table still refuses, before anything runs.
    const pending = migration("0009_never.sql", "CREATE TABLE scheduler.never (id int);");
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
    const p = await schemaProvider();
    const before = await tracking(svc, main.inputs.database);
    const broken = migration(
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
    const ok = await updateSchema(p, main.id, main.outs, main.inputs, main.inputs);
    assert.deepEqual(ok.outs.log, []);
  });

  it("read reports drift (grants, tracking table) and the next update converges it", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc || !main) return;
    const p = await schemaProvider();
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

    await sql(svc, db, "UPDATE public.migrations SET hash = $1 WHERE id = 6", [migrationChecksum(S.repo[5])]);
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
    const p = await schemaProvider();
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
});
