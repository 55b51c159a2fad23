/**
 * The exporter's login and the settings that wait for the first boot, against the real PostgreSQL of
 * scripts/services.sh (16, and 15 in `test:integration:pg15`). The schema initialiser keeps the role the
 * program's exporter sidecar logs in as (`pg_monitor` only) and sets `log_statement` with ALTER SYSTEM
 * instead of the chart's conf.d; statements that carry a password stay out of the statement log.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
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
  withPgClient,
} from "../support/postgres-fixtures";
import { requireServer, Services } from "../support/servers";
import { until } from "../support/wait";

type Svc = Services["postgres"];
const S = seedScenarios();
const monitors: string[] = [];
let server: Svc | undefined;
after(async () => {
  await S.cleanup();
  if (!server) return;
  for (const m of monitors)
    await sql(server, server.database, `DROP ROLE IF EXISTS "${m}"`).catch(() => undefined);
  // The test server's own setting back as it was (the tests of other files expect no statement log).
  await sql(server, server.database, "ALTER SYSTEM RESET log_statement").catch(() => undefined);
  await sql(server, server.database, "SELECT pg_reload_conf()").catch(() => undefined);
});

function withMonitor(svc: Svc, tag: string): { news: PostgresSchemaInputs; monitor: PgLogin } {
  const user = `aipd_${S.run}_${tag}_mon`;
  monitors.push(user);
  const password = randomBytes(12).toString("hex");
  const news = S.inputs(svc, tag, {
    serviceRoles: [{ name: user, grant: "pg_monitor" }],
    serviceRolePasswords: { [user]: password },
    serverSettings: { log_statement: "ddl" },
  });
  return { news, monitor: { user, password } };
}

describe("PostgreSQL exporter login and deferred settings (real server)", () => {
  it("the exporter's role reads statistics and nothing else", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    server = svc;
    const { news, monitor } = withMonitor(svc, "mon");
    const created = await createSchema(await schemaProvider(), news);
    assert.ok(created.outs.log.includes(`created role "${monitor.user}"`));
    assert.ok(created.outs.log.includes(`granted pg_monitor to "${monitor.user}"`));
    assert.ok(!("serviceRolePasswords" in created.outs), "the exporter's password is no output");

    // What postgres_exporter's default collectors read, as the exporter.
    const db = svc.database;
    const reads = {
      pg_stat_database: await refusal(svc, db, "SELECT datname, numbackends FROM pg_stat_database", monitor),
      pg_settings: await refusal(
        svc,
        db,
        "SELECT setting FROM pg_settings WHERE name = 'max_connections'",
        monitor,
      ),
      pg_stat_replication: await refusal(svc, db, "SELECT * FROM pg_stat_replication", monitor),
      pg_stat_bgwriter: await refusal(svc, db, "SELECT * FROM pg_stat_bgwriter", monitor),
      "pg_ls_waldir (pg_monitor)": await refusal(svc, db, "SELECT count(*) FROM pg_ls_waldir()", monitor),
    };
    assert.deepEqual(reads, {
      pg_stat_database: undefined,
      pg_settings: undefined,
      pg_stat_replication: undefined,
      pg_stat_bgwriter: undefined,
      "pg_ls_waldir (pg_monitor)": undefined,
    });
    // Another session (the admin's, held open): the exporter sees its statement (pg_read_all_stats,
    // what makes pg_stat_activity useful) and may not end it.
    const seen = await withPgClient(svc, db, async (admin) => {
      const pid = (await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      const [row] = await sql<{ query: string }>(
        svc,
        db,
        "SELECT query FROM pg_stat_activity WHERE pid = $1",
        [pid],
        monitor,
      );
      return {
        query: row?.query,
        terminate: await refusal(svc, db, `SELECT pg_terminate_backend(${pid})`, monitor),
      };
    });
    assert.deepEqual(seen, { query: "SELECT pg_backend_pid() AS pid", terminate: "42501" });

    const refused = {
      "create a table": await refusal(svc, db, "CREATE TABLE public.mon_probe (x int)", monitor),
      "create a database": await refusal(svc, db, `CREATE DATABASE "${monitor.user}_db"`, monitor),
      "change the app's password": await refusal(
        svc,
        db,
        `ALTER ROLE "${news.appUser}" PASSWORD 'taken'`,
        monitor,
      ),
      "read the migrations table": await refusal(
        svc,
        news.database,
        "SELECT * FROM public.migrations",
        monitor,
      ),
    };
    for (const [what, code] of Object.entries(refused)) {
      // 42501 insufficient_privilege; connecting to the app database may already be refused (CONNECT).
      assert.ok(code === "42501", `${what}: expected refusal 42501, got ${code ?? "success"}`);
    }
  });

  it("repairs the role changed by hand, rotates its password, and writes nothing when all is in place", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    server = svc;
    const { news, monitor } = withMonitor(svc, "monfix");
    const p = await schemaProvider();
    const created = await createSchema(p, news);
    const again = await updateSchema(p, created.id, created.outs, created.inputs, {
      ...news,
      codeVersion: "next release",
    });
    assert.deepEqual(
      again.outs.log.filter((l) => l.includes(monitor.user) || l.startsWith("set ")),
      [],
      "a second run with nothing changed writes nothing",
    );

    await sql(svc, svc.database, `ALTER ROLE "${monitor.user}" NOLOGIN CREATEROLE PASSWORD 'by-hand'`);
    await sql(svc, svc.database, `REVOKE pg_monitor FROM "${monitor.user}"`);
    const repaired = await updateSchema(p, created.id, again.outs, again.inputs, {
      ...news,
      codeVersion: "one more release",
    });
    assert.deepEqual(
      repaired.outs.log.filter((l) => l.includes(monitor.user)),
      [
        `reset the attributes of role "${monitor.user}" (LOGIN, nothing elevated)`,
        `set the password of role "${monitor.user}"`,
        `granted pg_monitor to "${monitor.user}"`,
      ],
    );
    assert.equal(await refusal(svc, svc.database, "SELECT count(*) FROM pg_ls_waldir()", monitor), undefined);

    const rotated = { ...monitor, password: randomBytes(12).toString("hex") };
    const r = await updateSchema(p, created.id, repaired.outs, repaired.inputs, {
      ...news,
      codeVersion: "one more release",
      serviceRolePasswords: { [monitor.user]: rotated.password },
    });
    assert.ok(r.changes, "a new exporter password is a change");
    assert.ok(r.outs.log.includes(`set the password of role "${monitor.user}"`));
    assert.equal(await refusal(svc, svc.database, "SELECT 1", rotated), undefined);
    assert.equal(await refusal(svc, svc.database, "SELECT 1", monitor), "28P01");
  });

  it("sets log_statement after the first boot, and keeps passwords out of the statement log", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    server = svc;
    await sql(svc, svc.database, "ALTER SYSTEM RESET log_statement");
    await sql(svc, svc.database, "SELECT pg_reload_conf()");
    const { news, monitor } = withMonitor(svc, "logs");
    const logSize = svc.log && fs.existsSync(svc.log) ? fs.statSync(svc.log).size : undefined;
    const p = await schemaProvider();
    const created = await createSchema(p, news);
    // A reload reaches new sessions once the postmaster has read the file: waited for, not assumed.
    await until("log_statement = ddl in new sessions", async () => {
      const [row] = await sql<{ log_statement: string }>(svc, svc.database, "SHOW log_statement");
      return row.log_statement === "ddl" ? true : undefined;
    });
    assert.ok(
      created.outs.log.some((l) => /^set log_statement = 'ddl' \(was '[a-z]+'; ALTER SYSTEM\)$/.test(l)),
    );
    // A rotation of both passwords while DDL is logged.
    await updateSchema(p, created.id, created.outs, created.inputs, {
      ...news,
      appPassword: `${news.appPassword}-2`,
      serviceRolePasswords: { [monitor.user]: `${monitor.password}-2` },
    });
    if (logSize === undefined) {
      t.diagnostic("services.json names no server log (started before it did): the log is not read");
      return;
    }
    // The rotation's own DDL is logged around it; its password statements are not.
    const probe = `aipd_${S.run}_logprobe`;
    await sql(svc, svc.database, `CREATE ROLE "${probe}" NOLOGIN`);
    monitors.push(probe);
    const text = await until("the probe's DDL in the server log", async () => {
      const all = fs.readFileSync(svc.log!, "utf8").slice(logSize);
      return all.includes(`CREATE ROLE "${probe}"`) ? all : undefined;
    });
    assert.doesNotMatch(text, /SCRAM-SHA-256\$/, "a password verifier reached the statement log");
    assert.doesNotMatch(text, new RegExp(`${monitor.password}|${news.appPassword}`));
  });
});
