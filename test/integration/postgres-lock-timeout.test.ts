/**
 * A migration queued behind an application's transaction, against the real PostgreSQL of
 * scripts/services.sh: the initialiser's session gives up the lock after `lock_timeout` (so it never
 * holds other sessions' queries behind its own lock request for long), retries, and past its deadline
 * fails naming the migration, with nothing of it applied; once the lock is gone the next run applies it.
 */
import * as assert from "node:assert/strict";
import type * as Pg from "pg";
import { after, describe, it } from "node:test";
import {
  createSchema,
  exists,
  migration,
  schemaProvider,
  seedScenarios,
  tracking,
  updateSchema,
} from "../support/postgres-fixtures";
import { requireServer } from "../support/servers";

const S = seedScenarios();
after(S.cleanup);

describe("PostgreSQL schema initialiser: lock and statement timeouts (real server)", () => {
  it("a migration blocked by another session's lock is retried, then fails naming it, rolled back", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const base = [...S.repo, migration("0008_lock_target.sql", "CREATE TABLE public.lock_target (id int);")];
    const news = S.inputs(svc, "lock", { migrations: base, lockTimeoutSeconds: 1 });
    const created = await createSchema(p, news);

    const alter = migration("0009_alter_locked.sql", "ALTER TABLE public.lock_target ADD COLUMN note text;");
    const { Client } = require("pg") as typeof Pg;
    const app = new Client({
      host: svc.host,
      port: svc.port,
      user: svc.user,
      password: svc.password,
      database: news.database,
    });
    app.on("error", () => undefined);
    await app.connect();
    try {
      // An application's long transaction: it read the table, so it holds ACCESS SHARE until it ends.
      await app.query("BEGIN");
      await app.query("SELECT count(*) FROM public.lock_target");
      const blocked = { ...news, migrations: [...base, alter], timeoutSeconds: 16 };
      await assert.rejects(updateSchema(p, created.id, created.outs, created.inputs, blocked), (e: Error) => {
        assert.match(e.message, /still answering that the request may be retried after \d+ attempts/);
        assert.match(e.message, /migration 0009_alter_locked\.sql failed and was rolled back/);
        assert.match(e.message, /lock timeout/);
        assert.ok(!e.message.includes(svc.password));
        return true;
      });
      // Rolled back: the column is not there and the tracking table does not list the migration.
      const columns = await app.query(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'public.lock_target'::regclass AND attnum > 0",
      );
      assert.deepEqual(
        columns.rows.map((r) => r.attname),
        ["id"],
      );
      assert.equal((await tracking(svc, news.database)).length, base.length + 1); // + the library's row 0
      // The application's session was never disturbed: its transaction is still open and usable.
      assert.equal((await app.query("SELECT 1 AS one")).rows[0].one, 1);
      await app.query("COMMIT");
    } finally {
      await app.end().catch(() => undefined);
    }

    // The lock gone, the same change goes through.
    const done = await updateSchema(p, created.id, created.outs, created.inputs, {
      ...news,
      migrations: [...base, alter],
    });
    assert.ok(done.outs.log.some((l) => l.startsWith("applied migration 0009_alter_locked.sql")));
    assert.ok(await exists(svc, news.database, "public.lock_target"));
  });

  it("a migration may raise the limit for itself (SET LOCAL), and statement_timeout stops a runaway one", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const slow = migration("0008_slow.sql", "SET LOCAL statement_timeout = '5s'; SELECT pg_sleep(2);");
    const news = S.inputs(svc, "slow", {
      migrations: [...S.repo, slow],
      statementTimeoutSeconds: 1,
    });
    const created = await createSchema(p, news);
    assert.ok(created.outs.log.some((l) => l.startsWith("applied migration 0008_slow.sql")));

    const runaway = migration("0009_runaway.sql", "SELECT pg_sleep(30);");
    await assert.rejects(
      updateSchema(p, created.id, created.outs, created.inputs, {
        ...news,
        migrations: [...news.migrations, runaway],
      }),
      (e: Error) => {
        assert.match(e.message, /migration 0009_runaway\.sql failed and was rolled back/);
        assert.match(e.message, /statement timeout/);
        return true;
      },
    );
  });
});
