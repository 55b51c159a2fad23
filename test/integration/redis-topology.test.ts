/**
 * How the Redis ACL users initialiser finds and reaches the nodes of scripts/services.sh, through its
 * serialized form: a Sentinel that starts late or never answers, wrong passwords, a replica a Sentinel
 * does not list yet, and fewer nodes than declared.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { viaSerialization } from "../support/dynamic";
import { laggingSentinel } from "../support/fake-sentinel";
import { aclScenarios, currentMaster, onRedis, removeAclUsers } from "../support/redis-fixtures";
import { closedPort, lateProxy, requireServer } from "../support/servers";
import { failsAtOnce } from "../support/stderr";

const { user, inputs } = aclScenarios();

describe("Redis ACL users initialiser: finding and reaching the nodes (real Sentinels)", () => {
  it("waits for a Sentinel that starts late", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    // Serialized first: on a busy machine that alone can outlast the proxy's delay.
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const proxy = await lateProxy(svc.sentinels[0], 3000);
    try {
      const late = user("late");
      const res = await provider.create!(
        inputs(svc, [late], { sentinels: [{ host: "127.0.0.1", port: proxy.port }] }),
      );
      // The run went through the Sentinel that was not there when it started.
      assert.ok(proxy.accepted() > 0, "the late Sentinel was never reached");
      assert.equal((res.outs as RedisAclUsersOutputs).nodes.length, 3);
      await removeAclUsers(provider, res.id, res.outs as RedisAclUsersOutputs);
    } finally {
      proxy.close();
    }
  });

  it("fails clearly when no Sentinel answers before the deadline", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const port = await closedPort();
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    await assert.rejects(
      provider.create!(
        inputs(svc, [user("down")], { sentinels: [{ host: "127.0.0.1", port }], timeoutSeconds: 3 }),
      ),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`Redis Sentinels 127.0.0.1:${port} .* not reachable after \\d+ attempts`),
        );
        assert.ok(!e.message.includes(svc.password) && !e.message.includes(svc.sentinelPassword));
        return true;
      },
    );
  });

  it("fails at once on a wrong password, without it in the error", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    for (const bad of [{ sentinelPassword: wrong }, { password: wrong }]) {
      const e = await failsAtOnce(() => provider.create!(inputs(svc, [user("auth")], bad)));
      assert.match(e.message, /WRONGPASS|invalid password|NOAUTH/);
      assert.ok(!e.message.includes(wrong));
    }
  });

  it("reaches a replica that a Sentinel does not list yet, through the master's INFO", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const master = await currentMaster(svc);
    const replicas = svc.nodes.filter((n) => n.port !== master.port);
    const fake = await laggingSentinel({
      password: svc.sentinelPassword,
      masterName: svc.masterName,
      master,
      listedReplicas: replicas.slice(0, 1),
    });
    try {
      const { provider } = await viaSerialization(new RedisAclUsersProvider());
      const lag = user("lag");
      const res = await provider.create!(
        inputs(svc, [lag], { sentinels: [{ host: "127.0.0.1", port: fake.port }] }),
      );
      const outs = res.outs as RedisAclUsersOutputs;
      assert.deepEqual([...outs.nodes].sort(), svc.nodes.map((n) => `${n.host}:${n.port}`).sort());
      for (const node of svc.nodes)
        assert.ok(
          await onRedis(node, svc.password, (c) => c.call("ACL", "GETUSER", lag.name)),
          `user missing on ${node.port}`,
        );
      await removeAclUsers(provider, res.id, outs);
    } finally {
      fake.close();
    }
  });

  it("waits for the declared node count, then fails naming what it found", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const want = svc.nodes.length + 1;
    await assert.rejects(
      provider.create!(inputs(svc, [user("count")], { expectedNodes: want, timeoutSeconds: 3 })),
      (e: Error) => {
        assert.match(e.message, new RegExp(`name ${svc.nodes.length} of the ${want} nodes`));
        assert.ok(!e.message.includes(svc.password));
        return true;
      },
    );
  });
});
