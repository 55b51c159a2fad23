/**
 * What the application login can do after the schema initialiser ran, against the real PostgreSQL of
 * scripts/services.sh. Helm mode is reproduced as the Bitnami image's first boot leaves the server
 * (`postgresql_create_admin_user`: the app role CREATEDB, owner of the database and of schema `public`),
 * then the initialiser runs as it does after every release: the app keeps DML on the application schemas
 * and loses everything that could destroy data or run code as the administrator.
 */
import * as assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PostgresSchemaInputs } from "../../init/postgres";
import {
  createSchema,
  PgLogin,
  refusal,
  schemaProvider,
  seedScenarios,
  sql,
  updateSchema,
} from "../support/postgres-fixtures";
import { requireServer, Services } from "../support/servers";

type Svc = Services["postgres"];
const S = seedScenarios();
after(S.cleanup);

/** The server as the chart's first boot leaves it: role, database and `public` all the app's. */
async function chartFirstBoot(svc: Svc, news: PostgresSchemaInputs): Promise<void> {
  await sql(svc, svc.database, `CREATE ROLE "${news.appUser}" LOGIN CREATEDB PASSWORD '${news.appPassword}'`);
  await sql(svc, svc.database, `CREATE DATABASE "${news.database}"`);
  await sql(svc, svc.database, `ALTER DATABASE "${news.database}" OWNER TO "${news.appUser}"`);
  await sql(svc, news.database, `ALTER SCHEMA public OWNER TO "${news.appUser}"`);
}

/**
 * A trusted extension the server has and the database lacks (the owner of a database may create one),
 * or undefined: the PostgreSQL 16 test server (pgserver's build) ships no contrib module, Debian's 15
 * of `test:integration:pg15` does. The CREATE privilege on the database that a trusted extension needs
 * is checked on both by CREATE SCHEMA.
 */
async function trustedExtension(svc: Svc, database: string): Promise<string | undefined> {
  const rows = await sql<{ name: string }>(
    svc,
    database,
    `SELECT DISTINCT v.name FROM pg_available_extension_versions v
     WHERE v.trusted AND v.name NOT IN (SELECT extname FROM pg_extension) ORDER BY v.name LIMIT 1`,
  );
  return rows[0]?.name;
}

describe("PostgreSQL application login: least privilege (real server)", () => {
  it("after the chart's first boot, the initialiser leaves the app DML and nothing that destroys data", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const news = S.inputs(svc, "priv");
    const app: PgLogin = { user: news.appUser, password: news.appPassword! };
    await chartFirstBoot(svc, news);
    const ext = await trustedExtension(svc, news.database);
    // The elevation is real before the initialiser runs (so the checks below can fail): the owner of
    // `public` may create a schema-level object there.
    assert.equal(await refusal(svc, news.database, "CREATE TABLE public.app_probe (x int)", app), undefined);
    await sql(svc, news.database, "DROP TABLE public.app_probe");

    const created = await createSchema(await schemaProvider(), news);
    assert.ok(
      created.outs.log.includes(`took CREATEDB from role "${news.appUser}" (applications need none)`),
    );
    assert.ok(
      created.outs.log.includes(
        `gave database "${news.database}" to "${svc.user}" (it was owned by "${news.appUser}")`,
      ),
    );
    assert.ok(
      created.outs.log.includes(`gave schema public to "${svc.user}" (it was owned by "${news.appUser}")`),
    );

    // What applications need: DML on the migrated tables.
    await sql(svc, news.database, "INSERT INTO iam.users (username) VALUES ('least-privilege')", [], app);
    const rows = await sql(
      svc,
      news.database,
      "SELECT id FROM iam.users WHERE username = 'least-privilege'",
      [],
      app,
    );
    assert.equal(rows.length, 1);
    await sql(svc, news.database, "DELETE FROM iam.users WHERE username = 'least-privilege'", [], app);

    // 42501 insufficient_privilege for each way to destroy data or take the server over.
    const refused: Record<string, string | undefined> = {
      "DROP SCHEMA public CASCADE": await refusal(svc, news.database, "DROP SCHEMA public CASCADE", app),
      "DROP SCHEMA iam CASCADE": await refusal(svc, news.database, "DROP SCHEMA iam CASCADE", app),
      "DROP TABLE public.migrations": await refusal(svc, news.database, "DROP TABLE public.migrations", app),
      "DROP EXTENSION vector": await refusal(svc, news.database, "DROP EXTENSION vector", app),
      "CREATE DATABASE": await refusal(svc, svc.database, `CREATE DATABASE "${news.database}_app"`, app),
      "INSERT INTO public.migrations": await refusal(
        svc,
        news.database,
        "INSERT INTO public.migrations (id, name, hash) VALUES (99, 'x', 'x')",
        app,
      ),
      "DELETE FROM public.migrations": await refusal(
        svc,
        news.database,
        "DELETE FROM public.migrations",
        app,
      ),
      ...(ext && {
        [`CREATE EXTENSION ${ext}`]: await refusal(svc, news.database, `CREATE EXTENSION "${ext}"`, app),
      }),
      "CREATE SCHEMA": await refusal(svc, news.database, "CREATE SCHEMA app_own", app),
      "CREATE TABLE in public": await refusal(svc, news.database, "CREATE TABLE public.t (x int)", app),
      "CREATE FUNCTION in public": await refusal(
        svc,
        news.database,
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        app,
      ),
      "ALTER TABLE iam.users": await refusal(
        svc,
        news.database,
        "ALTER TABLE iam.users ADD COLUMN x int",
        app,
      ),
      "CREATE TRIGGER on iam.users": await refusal(
        svc,
        news.database,
        "CREATE TRIGGER t BEFORE UPDATE ON iam.users FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at()",
        app,
      ),
      "ALTER ROLE admin": await refusal(svc, svc.database, `ALTER ROLE "${svc.user}" PASSWORD 'x'`, app),
    };
    const allowed = Object.entries(refused).filter(([, code]) => code !== "42501");
    assert.deepEqual(allowed, [], "statements the app login was not refused with 42501");

    // A second run finds nothing to take away.
    const again = await updateSchema(await schemaProvider(), created.id, created.outs, created.inputs, news);
    assert.deepEqual(
      again.outs.log.filter(
        (l) => l.startsWith("took ") || l.startsWith("gave ") || l.startsWith("revoked "),
      ),
      [],
    );
  });

  it("a privilege on the tracking table given to the app by hand is revoked by the next run", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const news = S.inputs(svc, "track");
    const app: PgLogin = { user: news.appUser, password: news.appPassword! };
    const created = await createSchema(await schemaProvider(), news);
    await sql(svc, news.database, `GRANT INSERT, TRIGGER ON public.migrations TO "${news.appUser}"`);
    const again = await updateSchema(await schemaProvider(), created.id, created.outs, created.inputs, {
      ...news,
      codeVersion: "next release",
    });
    assert.ok(again.outs.log.includes(`revoked "${news.appUser}"'s privileges on public.migrations`));
    assert.equal(
      await refusal(
        svc,
        news.database,
        "INSERT INTO public.migrations (id, name, hash) VALUES (99, 'x', 'x')",
        app,
      ),
      "42501",
    );
  });
});
