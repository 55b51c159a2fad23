/**
 * Kafka SCRAM users initialiser against the real KRaft broker of scripts/services.sh, driven through its
 * serialized form as Pulumi's dynamic-provider host runs it. Every claim is checked by logging in as the
 * user with kafkajs (the broker's own SCRAM verification), never by reading the provider's outputs.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  KafkaScramUsersInputs,
  KafkaScramUsersOutputs,
  KafkaScramUsersProvider,
  ScramUserSpec,
} from "../../init/kafka-users";
import { alterUsers, withScramAdmin } from "../../init/kafka-users/operations";
import { viaSerialization } from "../support/dynamic";
import { brokerLogin } from "../support/kafka-fixtures";
import {
  closedPort,
  kafkaCanLogin as canLogin,
  lateProxy,
  requireServer,
  Services,
  withKafkaAdmin,
} from "../support/servers";
import { failsAtOnce } from "../support/stderr";

const run = randomBytes(3).toString("hex");
const pw = () => randomBytes(16).toString("hex");

function inputs(
  svc: Services["kafka"],
  users: ScramUserSpec[],
  passwords: Record<string, string>,
  extra: Partial<KafkaScramUsersInputs> = {},
): KafkaScramUsersInputs {
  return {
    ...brokerLogin(svc),
    users,
    userPasswords: passwords,
    iterations: 4096,
    timeoutSeconds: 30,
    ...extra,
  };
}

async function provider() {
  return (await viaSerialization(new KafkaScramUsersProvider())).provider;
}

/** Removes a run's users the way config does it (an update without them): delete keeps logins. */
async function removeUsers(
  p: Awaited<ReturnType<typeof provider>>,
  svc: Services["kafka"],
  olds: KafkaScramUsersOutputs | KafkaScramUsersInputs,
) {
  await p.update!("x", { log: [], ...olds }, inputs(svc, [], {}));
}

describe("Kafka SCRAM users initialiser (real broker)", () => {
  it("creates users, rotates a password, repairs drift, removes dropped users, keeps the admin", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    const app: ScramUserSpec = { name: `it-${run}-app`, mechanism: "SCRAM-SHA-512" };
    const ops: ScramUserSpec = { name: `it-${run}-ops`, mechanism: "SCRAM-SHA-256" };
    const pws = { [app.name]: pw(), [ops.name]: pw() };
    assert.equal(await canLogin(svc, app.name, pws[app.name]), false, "no such user before");

    const created = await p.create!(inputs(svc, [app, ops], pws));
    const outs = created.outs as KafkaScramUsersOutputs;
    assert.deepEqual(outs.log, [
      `created SCRAM user ${app.name} (SCRAM-SHA-512, 4096 iterations)`,
      `created SCRAM user ${ops.name} (SCRAM-SHA-256, 4096 iterations)`,
    ]);
    assert.equal(await canLogin(svc, app.name, pws[app.name]), true);
    assert.equal(await canLogin(svc, ops.name, pws[ops.name], "SCRAM-SHA-256"), true);
    assert.equal(await canLogin(svc, app.name, "wrong-password"), false);
    assert.ok(!JSON.stringify(outs.log).includes(pws[app.name]));

    // Same inputs: no change. A rotated password: an update, after which only the new one works.
    assert.equal((await p.diff!(created.id, outs, inputs(svc, [app, ops], pws))).changes, false);
    const rotated = { ...pws, [app.name]: pw() };
    assert.equal((await p.diff!(created.id, outs, inputs(svc, [app, ops], rotated))).changes, true);
    const up = await p.update!(created.id, outs, inputs(svc, [app, ops], rotated));
    assert.deepEqual((up.outs as KafkaScramUsersOutputs).log, [
      `set SCRAM user ${app.name} (SCRAM-SHA-512, 4096 iterations)`,
      `set SCRAM user ${ops.name} (SCRAM-SHA-256, 4096 iterations)`,
    ]);
    assert.equal(await canLogin(svc, app.name, rotated[app.name]), true);
    assert.equal(await canLogin(svc, app.name, pws[app.name]), false, "the old password no longer works");

    // Drift: a credential removed behind Pulumi's back shows in read, and the next update restores it.
    const upOuts = up.outs as KafkaScramUsersOutputs;
    await p.update!(created.id, upOuts, inputs(svc, [app], { [app.name]: rotated[app.name] }));
    assert.equal(await canLogin(svc, ops.name, rotated[ops.name], "SCRAM-SHA-256"), false);
    const seen = await p.read!(created.id, upOuts);
    assert.deepEqual((seen.props as KafkaScramUsersOutputs).users, [app]);
    assert.equal(
      (await p.diff!(created.id, seen.props as KafkaScramUsersOutputs, inputs(svc, [app, ops], rotated)))
        .changes,
      true,
    );
    await p.update!(created.id, seen.props as KafkaScramUsersOutputs, inputs(svc, [app, ops], rotated));
    assert.equal(await canLogin(svc, ops.name, rotated[ops.name], "SCRAM-SHA-256"), true);

    // A rename or re-parent: the engine creates the new resource, then deletes the old one. Logins hold
    // throughout, the admin's too.
    const withAdmin = inputs(svc, [app, { name: svc.username, mechanism: "SCRAM-SHA-512" }], {
      [app.name]: rotated[app.name],
      [svc.username]: svc.password,
    });
    const adminRun = await p.update!(created.id, upOuts, withAdmin);
    const renamed = await p.create!(withAdmin);
    assert.equal(await canLogin(svc, app.name, rotated[app.name]), true);
    await p.delete!(created.id, adminRun.outs as KafkaScramUsersOutputs);
    assert.equal(
      await canLogin(svc, app.name, rotated[app.name]),
      true,
      "the old resource's delete locked the app out",
    );
    assert.equal(await canLogin(svc, svc.username, svc.password), true, "the admin survives delete");
    // The connecting user is never removed, even when it leaves config; the others are.
    await removeUsers(p, svc, renamed.outs as KafkaScramUsersOutputs);
    assert.equal(
      await canLogin(svc, app.name, rotated[app.name]),
      false,
      "config without it removes the app user",
    );
    assert.equal(await canLogin(svc, svc.username, svc.password), true);
  });

  it("sees a credential deleted by hand in `up` (check asks, diff compares) and restores it", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    const u: ScramUserSpec = { name: `it-${run}-lost`, mechanism: "SCRAM-SHA-512" };
    const pws = { [u.name]: pw() };
    const inp = inputs(svc, [u], pws);
    const created = await p.create!(inp);
    const outs = created.outs as KafkaScramUsersOutputs;
    // A clean cluster: nothing missing, no change; a preview (observe false) never asks.
    const clean = await p.check!(inp, { ...inp, observe: true });
    assert.equal((clean.inputs as KafkaScramUsersInputs).missing, undefined);
    assert.equal((await p.diff!(created.id, outs, clean.inputs)).changes, false);

    await withScramAdmin(inp, (conn) => alterUsers(conn, [u], []));
    assert.equal(await canLogin(svc, u.name, pws[u.name]), false);
    const preview = await p.check!(inp, { ...inp, observe: false });
    assert.equal(
      (await p.diff!(created.id, outs, preview.inputs)).changes,
      false,
      "a preview stays off the cluster",
    );
    const up = await p.check!(inp, { ...inp, observe: true });
    assert.deepEqual((up.inputs as KafkaScramUsersInputs).missing, [u.name]);
    assert.equal((await p.diff!(created.id, outs, up.inputs)).changes, true);
    const repaired = await p.update!(created.id, outs, up.inputs);
    assert.equal((repaired.outs as KafkaScramUsersOutputs).missing, undefined);
    assert.equal(await canLogin(svc, u.name, pws[u.name]), true);
    await removeUsers(p, svc, repaired.outs as KafkaScramUsersOutputs);
  });

  it("rotates the password of the user it connects as: logs in with the previous one, sets the new", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    // A user of its own plays the initialiser's user. The broker runs the StandardAuthorizer: like an
    // external cluster's initialiser user that is no super user, it gets ALTER and DESCRIBE on the cluster.
    const boss: ScramUserSpec = { name: `it-${run}-boss`, mechanism: "SCRAM-SHA-512" };
    const first = pw();
    await p.create!(inputs(svc, [boss], { [boss.name]: first }));
    const {
      AclOperationTypes,
      AclPermissionTypes,
      AclResourceTypes,
      ResourcePatternTypes,
    } = require("kafkajs");
    const clusterAcls = [AclOperationTypes.ALTER, AclOperationTypes.DESCRIBE].map((operation: number) => ({
      resourceType: AclResourceTypes.CLUSTER,
      resourceName: "kafka-cluster",
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: `User:${boss.name}`,
      host: "*",
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    }));
    await withKafkaAdmin(svc, (admin) => admin.createAcls({ acl: clusterAcls }));
    const as = (password: string) =>
      inputs(svc, [boss], { [boss.name]: password }, { username: boss.name, password });
    const olds = { ...as(first), log: [] };
    const second = pw();
    const res = await p.update!("x", olds, as(second));
    assert.match(
      (res.outs as KafkaScramUsersOutputs).log.join("\n"),
      new RegExp(`set SCRAM user ${boss.name} `),
    );
    assert.equal(await canLogin(svc, boss.name, second), true);
    assert.equal(await canLogin(svc, boss.name, first), false);
    // Neither password works: a clear authentication error, no password in it.
    await assert.rejects(p.update!("x", olds, as(pw())), (e: Error) => {
      assert.match(e.message, /SASL|Authentication/i);
      assert.ok(!e.message.includes(first) && !e.message.includes(second));
      return true;
    });
    await removeUsers(p, svc, inputs(svc, [boss], { [boss.name]: second }));
    assert.equal(await canLogin(svc, boss.name, second), false);
    await withKafkaAdmin(svc, (admin) => admin.deleteAcls({ filters: clusterAcls }));
  });

  it("moves a user to another mechanism: the new credential set, the old one removed", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    const u512: ScramUserSpec = { name: `it-${run}-mech`, mechanism: "SCRAM-SHA-512" };
    const u256: ScramUserSpec = { ...u512, mechanism: "SCRAM-SHA-256" };
    const secret = pw();
    const first = await p.create!(inputs(svc, [u512], { [u512.name]: secret }));
    const moved = await p.update!(
      first.id,
      first.outs as KafkaScramUsersOutputs,
      inputs(svc, [u256], { [u256.name]: secret }),
    );
    assert.ok(
      (moved.outs as KafkaScramUsersOutputs).log.some((l) =>
        l.startsWith(`removed the SCRAM-SHA-512 credential`),
      ),
    );
    assert.equal(await canLogin(svc, u256.name, secret, "SCRAM-SHA-256"), true);
    assert.equal(await canLogin(svc, u512.name, secret, "SCRAM-SHA-512"), false);
    await removeUsers(p, svc, moved.outs as KafkaScramUsersOutputs);
  });

  it("waits for a broker that starts late, and fails clearly past the deadline", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    const [host, port] = svc.brokers[0].split(":");
    const proxy = await lateProxy({ host, port: Number(port) }, 1500);
    const u: ScramUserSpec = { name: `it-${run}-late`, mechanism: "SCRAM-SHA-512" };
    const secret = pw();
    try {
      // The proxy only forwards the bootstrap connection; the broker advertises its own address after.
      await p.create!(inputs(svc, [u], { [u.name]: secret }, { brokers: [`127.0.0.1:${proxy.port}`] }));
    } finally {
      proxy.close();
    }
    assert.equal(await canLogin(svc, u.name, secret), true);
    await removeUsers(p, svc, inputs(svc, [u], { [u.name]: secret }));

    const down = await closedPort();
    await assert.rejects(
      p.create!(
        inputs(svc, [u], { [u.name]: secret }, { brokers: [`127.0.0.1:${down}`], timeoutSeconds: 3 }),
      ),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`Kafka at 127.0.0.1:${down} .* not reachable after \\d+ attempts`),
        );
        assert.ok(!e.message.includes(svc.password) && !e.message.includes(secret));
        return true;
      },
    );
  });

  it("fails at once on wrong credentials, without the password in the message", async (t) => {
    const svc = await requireServer(t, "kafka");
    if (!svc) return;
    const p = await provider();
    const wrong = `wrong-${pw()}`;
    const u: ScramUserSpec = { name: `it-${run}-y`, mechanism: "SCRAM-SHA-512" };
    // An authentication failure is not retried until the deadline.
    const e = await failsAtOnce(() => p.create!(inputs(svc, [u], { [u.name]: pw() }, { password: wrong })));
    assert.match(e.message, /SASL|Authentication/i);
    assert.ok(!e.message.includes(wrong));
  });
});
