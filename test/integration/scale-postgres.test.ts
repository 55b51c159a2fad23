/**
 * The PostgreSQL schema initialiser with many migrations, against the real server of
 * scripts/services.sh, through its serialized form: 20 migrations in one run, each in one transaction
 * of its own together with its row in the tracking table (seen on the server: both rows carry the same
 * `xmin`, and no two migrations share one); the no-op converge; and a migration that the server
 * answers with lock_not_available (55P03) while another session holds a lock, run again by the shared
 * retry once the lock is gone.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import type * as Pg from "pg";
import {
  Migration,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  PostgresSchemaProvider,
} from "../../init/postgres";
import { viaSerialization } from "../support/dynamic";
import { dropCreated, schemaInputs, withPgClient } from "../support/postgres-fixtures";
import { stderrLine } from "../support/stderr";
import { requireServer, Services } from "../support/servers";

const { Client } = require("pg") as typeof Pg;
type Svc = Services["postgres"];

const MIGRATIONS = 20;
const tag = randomBytes(3).toString("hex");
const database = `aipd_scale_${tag}`;
const appUser = `aipd_scale_${tag}_app`;
let svcForCleanup: Svc | undefined;

const pad = (n: number) => String(n).padStart(4, "0");

/** Migration n: a table of its own, and its number in scale.tx, written by its transaction. */
function migration(n: number): Migration {
  const first = n === 1 ? "CREATE SCHEMA scale;\nCREATE TABLE scale.tx (migration int PRIMARY KEY);\n" : "";
  return {
    name: `${pad(n)}_scale_step_${n}.sql`,
    sql:
      first +
      `CREATE TABLE scale.t_${n} (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now());\n` +
      `CREATE INDEX t_${n}_v ON scale.t_${n} (v);\n` +
      `INSERT INTO scale.tx (migration) VALUES (${n});\n`,
  };
}

function inputs(svc: Svc, migrations: Migration[]): PostgresSchemaInputs {
  return schemaInputs(svc, {
    database,
    appUser,
    appPassword: `app-${tag}-pw`,
    appSchemas: ["scale"],
    migrations,
    timeoutSeconds: 60,
  });
}

/** Per applied migration: the xmin of its tracking row and of the row it wrote itself. */
async function transactions(svc: Svc): Promise<{ id: number; tracking: string; own: string }[]> {
  return withPgClient(svc, database, async (c) => {
    const r = await c.query<{ id: number; tracking: string; own: string }>(
      `SELECT m.id, m.xmin::text AS tracking, t.xmin::text AS own
         FROM public.migrations m JOIN scale.tx t ON t.migration = m.id
        WHERE m.id > 0 ORDER BY m.id`,
    );
    return r.rows.map((x) => ({ ...x, id: Number(x.id) }));
  });
}

after(() => dropCreated(svcForCleanup, [database], [appUser]));

describe(`PostgreSQL schema initialiser with ${MIGRATIONS} migrations (real server)`, () => {
  it("one transaction per migration with its tracking row; a no-op converge; a lock timeout retried", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    svcForCleanup = svc;
    const { provider } = await viaSerialization(new PostgresSchemaProvider());
    const migrations = Array.from({ length: MIGRATIONS }, (_, i) => migration(i + 1));

    const checked = await provider.check!({}, inputs(svc, migrations));
    assert.deepEqual(checked.failures, []);
    const created = await provider.create!(checked.inputs as PostgresSchemaInputs);
    const outs = created.outs as PostgresSchemaOutputs;
    assert.equal(outs.log.filter((l) => l.startsWith("applied migration")).length, MIGRATIONS);
    assert.equal(outs.applied.length, MIGRATIONS);
    const txs = await transactions(svc);
    assert.deepEqual(
      txs.map((x) => x.id),
      migrations.map((_, i) => i + 1),
    );
    for (const x of txs)
      assert.equal(x.tracking, x.own, `migration ${x.id} and its tracking row: one transaction`);
    assert.equal(
      new Set(txs.map((x) => x.own)).size,
      MIGRATIONS,
      "each migration in a transaction of its own",
    );

    const again = await provider.update!(created.id, outs, checked.inputs as PostgresSchemaInputs);
    assert.deepEqual((again.outs as PostgresSchemaOutputs).log, []);

    // Another session holds a lock on scale.tx; the new migration waits at most 100 ms for it, and the
    // server answers 55P03. The lock is released only once the initialiser has reported that failure.
    const waiting: Migration = {
      name: `${pad(MIGRATIONS + 1)}_scale_lock_wait.sql`,
      sql:
        "SET LOCAL lock_timeout = '100ms';\nALTER TABLE scale.tx ADD COLUMN note text;\n" +
        `INSERT INTO scale.tx (migration, note) VALUES (${MIGRATIONS + 1}, 'after a lock timeout');\n`,
    };
    const more = await provider.check!(checked.inputs, inputs(svc, [...migrations, waiting]));
    assert.deepEqual(more.failures, []);
    const holder = new Client({
      host: svc.host,
      port: svc.port,
      user: svc.user,
      password: svc.password,
      database,
    });
    holder.on("error", () => undefined);
    await holder.connect();
    const watch = stderrLine(
      /attempt \d+ failed \(migration 0021_scale_lock_wait\.sql failed .*lock timeout/,
    );
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE scale.tx IN ACCESS SHARE MODE");
      const update = provider.update!(
        created.id,
        again.outs as PostgresSchemaOutputs,
        more.inputs as PostgresSchemaInputs,
      );
      // The update cannot finish while the lock is held: if it does, it did not wait or did not retry.
      const line = await Promise.race([
        watch.seen,
        update.then(
          () => assert.fail("the migration ran without waiting for the lock"),
          (e: Error) => assert.fail(`the update failed instead of retrying: ${e.message}`),
        ),
      ]);
      assert.match(line, /55P03|lock timeout/);
      await holder.query("COMMIT");
      const done = (await update).outs as PostgresSchemaOutputs;
      assert.ok(
        done.log.some((l) => /attempt \d+ failed .*The server says the same statements may succeed/.test(l)),
        done.log.join("\n"),
      );
      assert.ok(done.log.some((l) => l.startsWith(`applied migration ${waiting.name}`)));
      const last = (await transactions(svc)).at(-1)!;
      assert.equal(last.id, MIGRATIONS + 1);
      assert.equal(last.tracking, last.own);
    } finally {
      watch.stop();
      await holder.end().catch(() => undefined);
    }
  });
});
