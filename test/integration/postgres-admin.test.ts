/**
 * Rotating the PostgreSQL administrator's password (issue 8 item 10) against the real PostgreSQL of
 * scripts/services.sh, through the serialized provider and as the engine calls it (check, diff, update).
 * The chart sets that password only when it creates the data directory, so the new value reaches the
 * server through the initialiser: it logs in with the previous password and sets the new one.
 *
 * The scenario runs as an administrator role of its own (a superuser made for the test), so the
 * server's own `postgres` password, which every other test uses, is never touched.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import {
  loadMigrations,
  Migration,
  PostgresSchemaInputs,
  PostgresSchemaOutputs,
  PostgresSchemaProvider,
} from "../../init/postgres";
import { isPartialFailure } from "../../init/shared/partial";
import { viaSerialization } from "../support/dynamic";
import { dropCreated, schemaInputs, sql } from "../support/postgres-fixtures";
import { recordedService, requireServer, Services } from "../support/servers";

type Svc = Services["postgres"];

const run = randomBytes(3).toString("hex");
const admin = `aipd_${run}_admin`;
const database = `aipd_${run}_adm`;
const appUser = `aipd_${run}_adm_app`;
const pw = () => randomBytes(16).toString("hex");
const repo = loadMigrations().slice(0, 3);

async function adminLogsIn(svc: Svc, password: string): Promise<boolean> {
  try {
    await sql(svc, svc.database, "SELECT 1", [], { user: admin, password });
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "28P01") return false;
    throw e;
  }
}

function inputs(svc: Svc, password: string, migrations: Migration[] = repo): PostgresSchemaInputs {
  return schemaInputs(svc, {
    adminUser: admin,
    password,
    database,
    appUser,
    appPassword: `app-${run}-pw`,
    appSchemas: ["iam"],
    migrations,
  });
}

after(() => dropCreated(recordedService("postgres"), [database], [appUser, admin]));

describe("PostgreSQL administrator password rotation (real server)", () => {
  it("sets a rotated admin password on the server, and state follows even when the run fails later", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const first = pw();
    await sql(svc, svc.database, `CREATE ROLE "${admin}" SUPERUSER LOGIN PASSWORD '${first}'`);
    const { provider } = await viaSerialization(new PostgresSchemaProvider());

    const news0 = (await provider.check!({}, inputs(svc, first))).inputs as PostgresSchemaInputs;
    const created = await provider.create!(news0);
    let outs = created.outs as PostgresSchemaOutputs;

    // A new admin password: a change; the update logs in with the previous one and sets the new one.
    const second = pw();
    const checked = await provider.check!(news0, inputs(svc, second));
    assert.deepEqual(checked.failures, []);
    const news1 = checked.inputs as PostgresSchemaInputs;
    assert.equal((await provider.diff!(created.id, outs, news1)).changes, true);
    outs = (await provider.update!(created.id, outs, news1)).outs as PostgresSchemaOutputs;
    assert.deepEqual(outs.log, [
      `set the new password of administrator role "${admin}" (logged in with the previous one)`,
    ]);
    assert.equal(await adminLogsIn(svc, second), true, "the new admin password does not log in");
    assert.equal(await adminLogsIn(svc, first), false, "the previous admin password still logs in");
    assert.ok(!JSON.stringify(outs.log).includes(second));
    // Refresh reads with the password in state.
    await provider.read!(created.id, outs);

    // Rotated again, and the run fails after setting it (a broken migration): the failure records the
    // new password, so that the next run, with yet another one, still gets in.
    const third = pw();
    const broken = [...repo, { name: "0004_broken.sql", sql: "SELECT * FROM no_such_table;" }];
    const news2 = inputs(svc, third, broken);
    const failed = await provider.update!(created.id, outs, news2).then(
      () => assert.fail("the broken migration did not fail"),
      (e: unknown) => e,
    );
    assert.ok(isPartialFailure(failed), `not a partial failure: ${String(failed)}`);
    assert.match(failed.message, /migration 0004_broken.sql failed/);
    assert.ok(!failed.message.includes(third));
    assert.equal(await adminLogsIn(svc, third), true);
    const recorded = failed.properties as unknown as PostgresSchemaOutputs;
    assert.equal(recorded.password, third);

    const fourth = pw();
    outs = (await provider.update!(created.id, recorded, inputs(svc, fourth))).outs as PostgresSchemaOutputs;
    assert.deepEqual(outs.log, [
      `set the new password of administrator role "${admin}" (logged in with the previous one)`,
    ]);
    assert.equal(await adminLogsIn(svc, fourth), true);
  });

  it("a wrong admin password that is no rotation fails at once, naming neither password", async (t) => {
    const svc = await requireServer(t, "postgres");
    if (!svc) return;
    const { provider } = await viaSerialization(new PostgresSchemaProvider());
    const [wrong, alsoWrong] = [pw(), pw()];
    const outs = { ...inputs(svc, alsoWrong), applied: [], log: [] } as PostgresSchemaOutputs;
    await assert.rejects(
      provider.update!("id", outs, { ...inputs(svc, wrong), timeoutSeconds: 5 }),
      (e: Error) => {
        assert.match(e.message, /password authentication failed/);
        assert.ok(!e.message.includes(wrong) && !e.message.includes(alsoWrong));
        return true;
      },
    );
  });
});
