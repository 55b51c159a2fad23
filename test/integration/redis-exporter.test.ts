/**
 * The exporter's ACL user, as the component declares it (REDIS_METRICS_COMMANDS, no key, no channel), set
 * by the ACL users initialiser on the real master and replicas of scripts/services.sh: it runs what
 * redis_exporter runs with the program's settings and nothing that reads data, writes, or reveals a
 * password. (redis_exporter 1.52 itself is not served by the Go proxy, so its command list is taken from
 * its source, exporter.go `scrapeRedisHost`, and checked here command by command.)
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REDIS_METRICS_COMMANDS } from "../../components/redis/values";
import { RedisAclUsersProvider } from "../../init/redis";
import { viaSerialization } from "../support/dynamic";
import { aclScenarios, currentMaster, onRedis, removeAclUsers } from "../support/redis-fixtures";
import { requireServer } from "../support/servers";

const { user, inputs } = aclScenarios();

/** The first word of the error `run` gets (NOPERM, ...), undefined when it succeeds. */
async function answer(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
    return undefined;
  } catch (e) {
    return (e as Error).message.split(" ")[0];
  }
}

describe("Redis exporter's ACL user (real master and replicas)", () => {
  it("runs the exporter's commands and nothing that reads data, writes or reveals a password", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    const exporter = { ...user("exporter", REDIS_METRICS_COMMANDS), keys: [] };
    const inp = inputs(svc, [exporter]);
    const created = await provider.create!(inp);
    try {
      const master = await currentMaster(svc);
      await onRedis(master, svc.password, (c) => c.set("cache:exporter-probe", "secret data"));
      const pw = inp.userPasswords[exporter.name];
      for (const node of svc.nodes) {
        const got = await onRedis(
          node,
          pw,
          async (c) => ({
            allowed: {
              PING: await answer(() => c.call("PING")),
              "INFO ALL": await answer(() => c.call("INFO", "ALL")),
              "CLIENT SETNAME": await answer(() => c.call("CLIENT", "SETNAME", "redis_exporter")),
              "LATENCY LATEST": await answer(() => c.call("LATENCY", "LATEST")),
              "LATENCY HISTOGRAM": await answer(() => c.call("LATENCY", "HISTOGRAM")),
              "SLOWLOG LEN": await answer(() => c.call("SLOWLOG", "LEN")),
              "SLOWLOG GET": await answer(() => c.call("SLOWLOG", "GET", "1")),
            },
            refused: {
              "GET a key": await answer(() => c.call("GET", "cache:exporter-probe")),
              "SET a key": await answer(() => c.call("SET", "cache:exporter-probe", "x")),
              KEYS: await answer(() => c.call("KEYS", "*")),
              SCAN: await answer(() => c.call("SCAN", "0")),
              "CONFIG GET requirepass": await answer(() => c.call("CONFIG", "GET", "requirepass")),
              "CONFIG SET": await answer(() => c.call("CONFIG", "SET", "maxmemory", "1")),
              "ACL SETUSER": await answer(() => c.call("ACL", "SETUSER", "intruder", "on", ">x", "+@all")),
              "ACL LIST": await answer(() => c.call("ACL", "LIST")),
              "CLIENT KILL": await answer(() => c.call("CLIENT", "KILL", "TYPE", "normal")),
              FLUSHALL: await answer(() => c.call("FLUSHALL")),
              PUBLISH: await answer(() => c.call("PUBLISH", "events", "x")),
              EVAL: await answer(() => c.call("EVAL", "return 1", "0")),
            },
          }),
          exporter.name,
        );
        const where = `${node.host}:${node.port}`;
        assert.deepEqual(
          got.allowed,
          Object.fromEntries(Object.keys(got.allowed).map((k) => [k, undefined])),
          `${where}: what the exporter runs`,
        );
        assert.deepEqual(
          got.refused,
          Object.fromEntries(Object.keys(got.refused).map((k) => [k, "NOPERM"])),
          `${where}: what it may not`,
        );
      }
    } finally {
      await removeAclUsers(provider, created.id, created.outs);
      const master = await currentMaster(svc);
      await onRedis(master, svc.password, (c) => c.del("cache:exporter-probe"));
    }
  });
});
