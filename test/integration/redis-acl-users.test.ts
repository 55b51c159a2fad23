/**
 * Redis ACL users initialiser against the real master, two replicas and three Sentinels of
 * scripts/services.sh, driven through its serialized form as Pulumi's dynamic-provider host runs it:
 * the users' life cycle, refresh, a half-done run, a failover, and an application's own login.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { viaSerialization } from "../support/dynamic";
import { aclScenarios, aclWrites, currentMaster, onRedis, removeAclUsers } from "../support/redis-fixtures";
import { requireServer, RUN_DIR } from "../support/servers";

const Redis = require("ioredis");
const { user, inputs } = aclScenarios();

const onSentinels = (log: string[]) => log.filter((l) => / on Sentinel /.test(l));
const onNodes = (log: string[]) => log.filter((l) => / on [^S]/.test(l));

describe("Redis ACL users initialiser (real master, replicas, Sentinels)", () => {
  it("puts users on every node, persists them, is idempotent, repairs drift, removes dropped users", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const app = user("app");
    const inp = inputs(svc, [app]);
    const created = await provider.create!(inp);
    const outs = created.outs as RedisAclUsersOutputs;
    assert.equal(outs.nodes.length, 3);
    assert.equal(outs.sentinelNodes.length, svc.sentinels.length);
    assert.equal(onNodes(outs.log).length, 3);
    assert.equal(onSentinels(outs.log).length, svc.sentinels.length);

    // On every node: the user can write its keys and nothing else.
    for (const node of svc.nodes) {
      await onRedis(
        node,
        inp.userPasswords[app.name],
        async (c) => {
          assert.equal(await c.set("cache:x", "1"), "OK");
          await assert.rejects(c.set("other:x", "1"), /NOPERM/);
        },
        app.name,
      ).catch(async (e: Error) => {
        // Replicas are read-only: a write is refused with READONLY, which still proves the login worked.
        if (!/READONLY/.test(e.message)) throw e;
      });
      // Saved in the node's aclfile: dropping it in memory and reloading the file brings it back.
      await onRedis(node, svc.password, async (c) => {
        await c.call("ACL", "DELUSER", app.name);
        await c.call("ACL", "LOAD");
        assert.ok(await c.call("ACL", "GETUSER", app.name), `user lost on ${node.port} after ACL LOAD`);
      });
    }

    assert.equal((await provider.diff!(created.id, outs, inp)).changes, false);
    const rerun = await provider.update!(created.id, outs, inp);
    assert.deepEqual((rerun.outs as RedisAclUsersOutputs).log, []);

    // Drift behind the program's back on one replica: refresh sees it, update repairs it.
    const replica = svc.nodes.find((n) => n.port !== 0)!;
    await onRedis(replica, svc.password, (c) => c.call("ACL", "DELUSER", app.name));
    const read = await provider.read!(created.id, outs);
    assert.equal((read.props as RedisAclUsersOutputs).drifted, true);
    assert.equal((await provider.diff!(created.id, read.props as RedisAclUsersOutputs, inp)).changes, true);
    const repaired = await provider.update!(created.id, read.props as RedisAclUsersOutputs, inp);
    assert.deepEqual((repaired.outs as RedisAclUsersOutputs).log, [
      `set ACL user ${app.name} on ${replica.host}:${replica.port}`,
    ]);

    // A rules change applies on every node; a user removed from config is removed everywhere.
    const ro = { ...app, commands: "+@read" };
    const ops = user("ops");
    const changed = await provider.update!(created.id, outs, inputs(svc, [ro, ops]));
    // Nodes: new rules for one user, a new user (3 + 3); Sentinels: only the new user's login.
    assert.equal(onNodes((changed.outs as RedisAclUsersOutputs).log).length, 6);
    assert.deepEqual(
      onSentinels((changed.outs as RedisAclUsersOutputs).log).map((l) => l.split(" on ")[0]),
      svc.sentinels.map(() => `set ACL user ${ops.name}`),
    );
    const dropped = await provider.update!(
      created.id,
      changed.outs as RedisAclUsersOutputs,
      inputs(svc, [ro]),
    );
    assert.equal(
      (dropped.outs as RedisAclUsersOutputs).log.filter((l) => l.startsWith(`removed ACL user ${ops.name}`))
        .length,
      3 + svc.sentinels.length,
    );
    // A rename or re-parent: the engine creates the new resource, then deletes the old one. The user
    // stays on every node and Sentinel throughout; config without it removes it.
    const renamed = await provider.create!(inputs(svc, [ro], { userPasswords: inp.userPasswords }));
    await provider.delete!(created.id, dropped.outs as RedisAclUsersOutputs);
    for (const server of [...svc.nodes, ...svc.sentinels]) {
      const pw = svc.nodes.includes(server) ? svc.password : svc.sentinelPassword;
      assert.ok(
        await onRedis(server, pw, (c) => c.call("ACL", "GETUSER", ro.name)),
        `lost on ${server.port}`,
      );
    }
    await removeAclUsers(provider, renamed.id, renamed.outs as RedisAclUsersOutputs);
    for (const node of svc.nodes) {
      assert.equal(await onRedis(node, svc.password, (c) => c.call("ACL", "GETUSER", ro.name)), null);
    }
    for (const s of svc.sentinels) {
      assert.equal(await onRedis(s, svc.sentinelPassword, (c) => c.call("ACL", "GETUSER", ro.name)), null);
    }
  });

  it("keeps users usable across a Sentinel failover", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const fo = user("failover");
    const inp = inputs(svc, [fo]);
    const created = await provider.create!(inp);
    const before = await currentMaster(svc);
    await onRedis(svc.sentinels[0], svc.sentinelPassword, (c) =>
      c.call("SENTINEL", "failover", svc.masterName),
    );
    let after = before;
    for (let i = 0; i < 60 && after.port === before.port; i++) {
      await new Promise((r) => setTimeout(r, 500));
      after = await currentMaster(svc);
    }
    assert.notEqual(after.port, before.port, "Sentinel did not fail over within 30 s");
    // Let the topology settle: every replica linked to the new master again.
    for (let i = 0; i < 60; i++) {
      const replicas = await onRedis<string[][]>(svc.sentinels[0], svc.sentinelPassword, (c) =>
        c.call("SENTINEL", "replicas", svc.masterName),
      );
      if (
        replicas.length === 2 &&
        replicas.every((r) => !/down|disconnected/.test(r[r.indexOf("flags") + 1]))
      )
        break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // The new master accepts the user's writes without the initialiser running again.
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      ok = await onRedis(after, inp.userPasswords[fo.name], (c) => c.set("cache:failover", "1"), fo.name)
        .then(() => true)
        .catch(() => new Promise((r) => setTimeout(() => r(false), 500)) as Promise<boolean>);
    }
    assert.ok(ok, "the ACL user could not write on the new master");
    const again = await provider.update!(created.id, created.outs as RedisAclUsersOutputs, inp);
    assert.deepEqual((again.outs as RedisAclUsersOutputs).log, []);
    await removeAclUsers(provider, created.id, again.outs as RedisAclUsersOutputs);
  });

  it("converges after a run that stopped half way", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const half = user("half");
    const inp = inputs(svc, [half]);
    // Half way: the user exists on the master only, with other rules.
    await onRedis(await currentMaster(svc), svc.password, (c) =>
      c.call("ACL", "SETUSER", half.name, "on", ">x", "~*", "+@all"),
    );
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const res = await provider.create!(inp);
    assert.deepEqual(
      onNodes((res.outs as RedisAclUsersOutputs).log).sort(),
      svc.nodes.map((n) => `set ACL user ${half.name} on ${n.host}:${n.port}`).sort(),
    );
    const read = await provider.read!(res.id, res.outs as RedisAclUsersOutputs);
    assert.equal((read.props as RedisAclUsersOutputs).drifted, false);
    await removeAclUsers(provider, res.id, res.outs as RedisAclUsersOutputs);
  });

  it("refresh only reads: no probe user, no save, on any node", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const ro = user("refresh");
    const created = await provider.create!(inputs(svc, [ro]));
    const before = await aclWrites(svc);
    const read = await provider.read!(created.id, created.outs as RedisAclUsersOutputs);
    assert.equal((read.props as RedisAclUsersOutputs).drifted, false);
    assert.equal(await aclWrites(svc), before, "read() sent ACL SETUSER/DELUSER/SAVE or CONFIG REWRITE");
    // A node the last run did not reach reads as drift, so the next `up` brings the users there.
    const outs = created.outs as RedisAclUsersOutputs;
    const [first, ...others] = Object.keys(outs.applied);
    const partial = { ...outs, applied: Object.fromEntries(others.map((k) => [k, outs.applied[k]])) };
    assert.ok(first);
    assert.equal(((await provider.read!(created.id, partial)).props as RedisAclUsersOutputs).drifted, true);
    await removeAclUsers(provider, created.id, outs);
  });

  it("lets an application find the master through Sentinel with its own user, and nothing more", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const app = user("discovery");
    const inp = inputs(svc, [app]);
    const res = await provider.create!(inp);
    const password = inp.userPasswords[app.name];
    const client = new Redis({
      sentinels: svc.sentinels,
      name: svc.masterName,
      sentinelUsername: app.name,
      sentinelPassword: password,
      username: app.name,
      password,
      enableReadyCheck: false,
      maxRetriesPerRequest: 1,
    });
    client.on("error", () => undefined);
    try {
      assert.equal(await client.set("cache:discovery", "1"), "OK");
    } finally {
      client.disconnect();
    }
    await onRedis(
      svc.sentinels[0],
      password,
      async (c) => {
        await assert.rejects(c.call("SENTINEL", "failover", svc.masterName), /NOPERM/);
        await assert.rejects(c.call("SENTINEL", "set", svc.masterName, "quorum", "1"), /NOPERM/);
        await assert.rejects(c.call("ACL", "LIST"), /NOPERM/);
      },
      app.name,
    );
    // Saved in sentinel.conf (SENTINEL FLUSHCONFIG): a Sentinel restarted from its file keeps the login.
    for (const s of svc.sentinels) {
      const conf = fs.readFileSync(
        path.join(RUN_DIR, "redis", `sentinel-${s.port}`, "sentinel.conf"),
        "utf8",
      );
      assert.match(conf, new RegExp(`^user ${app.name} on `, "m"), `login not saved by Sentinel ${s.port}`);
    }
    await removeAclUsers(provider, res.id, res.outs as RedisAclUsersOutputs);
  });
});
