/**
 * The PostgreSQL schema initialiser against the real PostgreSQL + pgvector of scripts/services.sh,
 * through its serialized form, when things go wrong: a run that stopped half way, an application
 * password rotation, a server without pgvector, a server that starts late or stays down, and wrong
 * credentials.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { IMAGE_SETTING, missingExtensionsError, requiredExtensions } from "../../init/postgres";
import {
  createSchema,
  migration,
  migrationLines,
  schemaProvider,
  seedScenarios,
  sql,
  tracking,
  updateSchema,
} from "../support/postgres-fixtures";
import { closedPort, lateProxy, requireServer } from "../support/servers";
import { failsAtOnce } from "../support/stderr";

const S = seedScenarios();
after(S.cleanup);

describe("PostgreSQL schema initialiser: recovery and failures (real server)", () => {
  it("a run that stopped half way (helm mode: chart-made role and database) converges when run again", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const news = S.inputs(svc, "half");
    // What the chart does in helm mode: the role (with some password) and the database exist.
    await sql(svc, svc.database, `CREATE ROLE "${news.appUser}" LOGIN PASSWORD 'chart-made-password'`);
    await sql(svc, svc.database, `CREATE DATABASE "${news.database}"`);
    // A first run dies in migration 0005 (an injected bad item).
    const broken = [
      ...S.repo.slice(0, 4),
      migration("0005_system_config.sql", "CREATE SCHEMA system_config; SELECT 1/0;"),
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
    const again = await createSchema(p, news);
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
    const p = await schemaProvider();
    const first = await createSchema(
      p,
      S.inputs(svc, "rot", { migrations: S.repo.slice(0, 3), appSchemas: ["iam"] }),
    );
    const rotated = await updateSchema(p, first.id, first.outs, first.inputs, {
      ...first.inputs,
      appPassword: `new-${S.run}-pw`,
    });
    assert.equal(rotated.changes, true);
    assert.equal(rotated.inputs.appPasswordRevision, 1);
    assert.deepEqual(rotated.outs.log, [`set the password of role "${first.inputs.appUser}"`]);
    assert.ok(!JSON.stringify(rotated.outs).includes(`new-${S.run}-pw`));
    await sql(svc, first.inputs.database, "SELECT 1", [], {
      user: first.inputs.appUser,
      password: `new-${S.run}-pw`,
    });
    await assert.rejects(
      sql(svc, first.inputs.database, "SELECT 1", [], {
        user: first.inputs.appUser,
        password: first.inputs.appPassword!,
      }),
      /password authentication failed/,
    );
  });

  it("`up` sees a role changed or dropped by hand without a refresh (check reads, diff compares) and repairs it", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const monitor = `aipd_${S.run}_drift_mon`;
    S.roles.add(monitor);
    const news = {
      ...S.inputs(svc, "drift", { migrations: S.repo.slice(0, 3), appSchemas: ["iam"] }),
      serviceRoles: [{ name: monitor, grant: "pg_monitor" as const }],
      serviceRolePasswords: { [monitor]: `mon-${S.run}-pw` },
    };
    const first = await createSchema(p, news);
    const clean = await p.check!(first.inputs, { ...news, observe: true });
    assert.equal((clean.inputs as { driftedRoles?: string[] }).driftedRoles, undefined);
    assert.equal((await p.diff!(first.id, first.outs, clean.inputs)).changes, false);

    // By hand: the app role's password changed, the service role loses pg_monitor.
    await sql(svc, svc.database, `ALTER ROLE "${news.appUser}" PASSWORD 'changed-by-hand'`);
    await sql(svc, svc.database, `REVOKE pg_monitor FROM "${monitor}"`);
    const preview = await p.check!(first.inputs, { ...news, observe: false });
    assert.equal(
      (await p.diff!(first.id, first.outs, preview.inputs)).changes,
      false,
      "a preview reads nothing",
    );
    const up = await p.check!(first.inputs, { ...news, observe: true });
    assert.deepEqual((up.inputs as { driftedRoles?: string[] }).driftedRoles, [news.appUser, monitor]);
    assert.equal((await p.diff!(first.id, first.outs, up.inputs)).changes, true);
    const repaired = await p.update!(first.id, first.outs, up.inputs);
    assert.ok(!("driftedRoles" in (repaired.outs as object)));
    await sql(svc, news.database, "SELECT 1", [], { user: news.appUser, password: news.appPassword! });
    const member = await sql<{ m: boolean }>(
      svc,
      svc.database,
      "SELECT pg_has_role($1, 'pg_monitor', 'USAGE') AS m",
      [monitor],
    );
    assert.equal(member[0].m, true);
    const after = await p.check!(first.inputs, { ...news, observe: true });
    assert.equal((after.inputs as { driftedRoles?: string[] }).driftedRoles, undefined);
  });

  it("the real server offers pgvector; without it the decision names the image setting", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const rows = await sql<{ name: string }>(svc, svc.database, "SELECT name FROM pg_available_extensions");
    const names = rows.map((r) => r.name);
    assert.ok(names.includes("vector"), "services.sh builds pgvector");
    const required = requiredExtensions(S.repo);
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
    const p = await schemaProvider();
    const proxy = await lateProxy({ host: svc.host, port: svc.port }, 3000);
    try {
      const r = await createSchema(
        p,
        S.inputs(svc, "late", { port: proxy.port, migrations: S.repo.slice(0, 1), appSchemas: [] }),
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
    const p = await schemaProvider();
    const port = await closedPort();
    await assert.rejects(p.create!(S.inputs(svc, "down", { port, timeoutSeconds: 3 })), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`PostgreSQL at 127.0.0.1:${port} \\(database "postgres", user "postgres"\\)`),
      );
      assert.match(
        e.message,
        /not reachable after \d+ attempts over \d+ s \(deadline 3 s, set by initTimeoutSeconds\)/,
      );
      assert.match(e.message, /ECONNREFUSED/);
      // The deadline kept, by the run's own account (the attempts stop at it: shared/retry.ts).
      assert.ok(Number(/ over (\d+) s/.exec(e.message)?.[1]) <= 3, e.message);
      return true;
    });
  });

  it("fails at once on wrong credentials, without the password in the message", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const p = await schemaProvider();
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const e = await failsAtOnce(() => p.create!(S.inputs(svc, "wrongpw", { password: wrong })));
    assert.match(e.message, /password authentication failed for user "postgres"/);
    assert.ok(!e.message.includes(wrong));
    assert.ok(!(e.stack ?? "").includes(wrong));
  });
});
