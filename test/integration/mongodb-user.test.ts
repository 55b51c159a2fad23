/**
 * The MongoDB application user managed by the collections initialiser (issue 8 item 10), against the
 * FerretDB 1.24 of scripts/services.sh (SCRAM-SHA-256 with --test-enable-new-auth), driven through the
 * serialized provider: created when missing, its password rotated on the server, recreated after it
 * was dropped behind the program's back, kept by delete; each checked by logging in as the user.
 *
 * What FerretDB cannot check: roles. It refuses `createUser`/`updateUser` with a non-empty `roles`
 * ("not implemented"), has no `grantRolesToUser`, and enforces no authorization. These tests therefore
 * pass `appRoles: []`; the commands with the default role (readWrite on the database) and the revocation of
 * roles appRoles no longer declares are proved by
 * test/unit/init-mongodb-user.test.ts, and the last test below fails, and says so, once FerretDB
 * accepts roles.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import {
  MongoCollectionsInputs,
  MongoCollectionsOutputs,
  MongoCollectionsProvider,
} from "../../init/mongodb";
import { viaSerialization } from "../support/dynamic";
import { collectionsInputs, Db, withDb } from "../support/mongo-fixtures";
import { recordedService, requireServer, Services } from "../support/servers";

const { MongoClient } = require("mongodb");

const run = randomBytes(3).toString("hex");
const database = `aipd_it_${run}_user`;
const appUser = `aipd_app_${run}`;
const pw = () => randomBytes(16).toString("hex");

function inputs(svc: Services["mongodb"], extra: Partial<MongoCollectionsInputs>): MongoCollectionsInputs {
  return collectionsInputs(svc, database, [{ name: "notes", indexes: [] }], {
    appUser,
    appRoles: [],
    ...extra,
  });
}

/** Runs `fn` with the application database, as the test server's administrator. */
const asAdmin = <T>(svc: Services["mongodb"], fn: (db: Db) => Promise<T>) => withDb(svc, database, fn);

/** Whether the application user logs in with `password` (its authSource is the application database). */
async function canLogin(svc: Services["mongodb"], password: string): Promise<boolean> {
  const client = new MongoClient(`mongodb://${svc.host}:${svc.port}/`, {
    auth: { username: appUser, password },
    authSource: database,
    authMechanism: "SCRAM-SHA-256",
    serverSelectionTimeoutMS: 5000,
  });
  try {
    await client.connect();
    await client.db(database).command({ ping: 1 });
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 18 || /Authentication failed/i.test(String(e))) return false;
    throw e;
  } finally {
    await client.close().catch(() => undefined);
  }
}

after(async () => {
  const svc = recordedService("mongodb");
  if (!svc) return;
  await asAdmin(svc, async (db) => {
    await db.command({ dropUser: appUser }).catch(() => undefined);
    await db.dropDatabase();
  }).catch(() => undefined);
});

describe("MongoDB application user (real FerretDB)", () => {
  it("creates the user, rotates its password on the server, repairs a dropped user, keeps it on delete", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
    const first = pw();

    const created = await provider.create!(inputs(svc, { appPassword: first }));
    let outs = created.outs as MongoCollectionsOutputs;
    assert.ok(
      outs.log.includes(`created user ${appUser} in database ${database} (no roles)`),
      outs.log.join("\n"),
    );
    assert.equal(await canLogin(svc, first), true, "the created user logs in");
    assert.ok(!JSON.stringify(outs.log).includes(first), "the password reached the log");

    // Same config: no change, and a re-run leaves the user alone.
    const same = inputs(svc, { appPassword: first });
    assert.equal((await provider.diff!(created.id, outs, same)).changes, false);
    outs = (await provider.update!(created.id, outs, same)).outs as MongoCollectionsOutputs;
    assert.deepEqual(outs.log, []);

    // Rotation: a change, and the server takes the new password; the old one stops working.
    const second = pw();
    const rotated = inputs(svc, { appPassword: second });
    assert.equal((await provider.diff!(created.id, outs, rotated)).changes, true);
    outs = (await provider.update!(created.id, outs, rotated)).outs as MongoCollectionsOutputs;
    assert.deepEqual(outs.log, [`set the password of user ${appUser} in database ${database}`]);
    assert.equal(await canLogin(svc, second), true, "the rotated password logs in");
    assert.equal(await canLogin(svc, first), false, "the previous password still logs in");

    // Dropped behind the program's back: refresh shows it, the next update creates it again.
    await asAdmin(svc, (db) => db.command({ dropUser: appUser }));
    const read = (await provider.read!(created.id, outs)).props as MongoCollectionsOutputs;
    assert.equal(read.appUserDrifted, true);
    assert.equal((await provider.diff!(created.id, read, rotated)).changes, true);
    outs = (await provider.update!(created.id, read, rotated)).outs as MongoCollectionsOutputs;
    assert.ok(outs.log.includes(`created user ${appUser} in database ${database} (no roles)`));
    assert.equal(await canLogin(svc, second), true);
    const quiet = (await provider.read!(created.id, outs)).props as MongoCollectionsOutputs;
    assert.equal((await provider.diff!(created.id, quiet, rotated)).changes, false);

    // The same without a refresh: in `up` the check reads the user, the diff sees it gone, the update
    // creates it again; a preview reads nothing.
    await asAdmin(svc, (db) => db.command({ dropUser: appUser }));
    const preview = await provider.check!(rotated, { ...rotated, observe: false });
    assert.equal((await provider.diff!(created.id, outs, preview.inputs)).changes, false);
    const up = await provider.check!(rotated, { ...rotated, observe: true });
    assert.equal((up.inputs as MongoCollectionsInputs).appUserMissing, true);
    assert.equal((await provider.diff!(created.id, outs, up.inputs)).changes, true);
    outs = (await provider.update!(created.id, outs, up.inputs)).outs as MongoCollectionsOutputs;
    assert.ok(outs.log.includes(`created user ${appUser} in database ${database} (no roles)`));
    assert.equal(await canLogin(svc, second), true);
    const clean = await provider.check!(rotated, { ...rotated, observe: true });
    assert.equal((clean.inputs as MongoCollectionsInputs).appUserMissing, undefined);

    // delete keeps the user (and the data), as for a rename or destroy.
    await provider.delete!(created.id, outs);
    assert.equal(await canLogin(svc, second), true, "delete removed the user");
  });

  it("takes over a user the chart created with another password (helm mode's first run)", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    const chartPassword = pw();
    await asAdmin(svc, async (db) => {
      await db.command({ dropUser: appUser }).catch(() => undefined);
      await db.command({ createUser: appUser, pwd: chartPassword, roles: [] });
    });
    const { provider } = await viaSerialization(new MongoCollectionsProvider());
    const configured = pw();
    const res = await provider.create!(inputs(svc, { appPassword: configured }));
    assert.ok(
      (res.outs as MongoCollectionsOutputs).log.includes(
        `set the password of user ${appUser} in database ${database}`,
      ),
    );
    assert.equal(await canLogin(svc, configured), true);
    assert.equal(await canLogin(svc, chartPassword), false);
  });

  it("what FerretDB cannot check: roles (createUser with readWrite is not implemented there)", async (t) => {
    const svc = await requireServer(t, "mongodb");
    if (!svc) return;
    await assert.rejects(
      asAdmin(svc, (db) =>
        db.command({
          createUser: `${appUser}_roles`,
          pwd: pw(),
          roles: [{ role: "readWrite", db: database }],
        }),
      ),
      (e: Error) => {
        assert.match(e.message, /not implemented/i, "FerretDB now takes roles: test them here");
        return true;
      },
    );
  });
});
