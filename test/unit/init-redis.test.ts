import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sentinelRules, sentinelUsersConf } from "../../components/redis/sentinel-users";
import {
  aclRules,
  observedDrift,
  RedisAclUsersInputs,
  RedisAclUsersProvider,
  summariseGetUser,
} from "../../init/redis";
import {
  addressesFromSentinel,
  isFatalRedisError,
  replicasFromInfo,
  uniqueNodes,
} from "../../init/redis-topology";
import { viaSerialization } from "../support/dynamic";

const base: RedisAclUsersInputs = {
  sentinels: [{ host: "redis", port: 26379 }],
  masterName: "mymaster",
  password: "p",
  sentinelPassword: "p",
  users: [{ name: "app", keys: ["cache:*"], channels: [], commands: "+@read -@dangerous" }],
  userPasswords: { app: "secret" },
  timeoutSeconds: 60,
};

const SECRET_SHA256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

describe("Redis ACL users initialiser (no server)", () => {
  it("renders exact rules: reset first, the password only as its SHA-256", () => {
    const rules = aclRules(base.users[0], "secret");
    // SHA-256 of "secret" (sha256sum), as Redis's `#<hash>` rule takes it.
    const hash = SECRET_SHA256;
    assert.deepEqual(rules, [
      "reset",
      "on",
      `#${hash}`,
      "~cache:*",
      "resetchannels",
      "+@read",
      "-@dangerous",
    ]);
    assert.ok(!rules.join(" ").includes(">secret"));
  });

  it("gives a user on a Sentinel discovery and events only, never failover, config or ACL", () => {
    const rules = sentinelRules("secret");
    assert.deepEqual(rules.slice(0, 4), ["reset", "on", `#${SECRET_SHA256}`, "&*"]);
    assert.equal(rules[4], "-@all");
    const allowed = rules.filter((r) => r.startsWith("+"));
    for (const r of allowed)
      assert.match(
        r,
        /^\+(auth|hello|ping|sentinel\|(get-master-addr-by-name|sentinels|replicas|slaves)|p?(un)?subscribe)$/,
      );
    assert.ok(!rules.some((r) => /failover|set$|reset|config|acl|@all$/.test(r) && r.startsWith("+")));
  });

  it("summarises GETUSER replies independently of list order", () => {
    const a = summariseGetUser(["flags", ["on"], "keys", "~a ~b", "passwords", ["x", "y"], "selectors", []]);
    const b = summariseGetUser(["passwords", ["y", "x"], "keys", "~a ~b", "flags", ["on"]]);
    assert.equal(a, b);
    assert.equal(summariseGetUser(null), undefined);
  });

  it("diffs on input changes and on drift found by refresh, not on outputs", async () => {
    const p = new RedisAclUsersProvider();
    const olds = {
      ...base,
      nodes: ["a:1"],
      sentinelNodes: [],
      applied: { "a:1": { app: "d" } },
      drifted: false,
      log: ["x"],
    };
    assert.equal((await p.diff("id", olds, base)).changes, false);
    assert.equal((await p.diff("id", { ...olds, drifted: true }, base)).changes, true);
    assert.equal((await p.diff("id", olds, { ...base, userPasswords: { app: "rotated" } })).changes, true);
  });

  it("sees drift in what check observed: a user missing or changed, a server never set", async () => {
    const applied = { "node a:1": { app: "d1" }, "sentinel s:2": { app: "d2" } };
    const users = base.users;
    assert.equal(observedDrift(applied, undefined, users), false, "nothing observed (preview)");
    assert.equal(
      observedDrift(applied, { "node a:1": { app: "d1" }, "sentinel s:2": { app: "d2" } }, users),
      false,
    );
    assert.equal(observedDrift(applied, { "node a:1": { app: "" } }, users), true, "user deleted by hand");
    assert.equal(observedDrift(applied, { "sentinel s:2": { app: "other" } }, users), true, "rules changed");
    assert.equal(observedDrift(applied, { "node b:3": { app: "d1" } }, users), true, "a new node");
    // The diff is where it shows, with the same olds as a clean run.
    const p = new RedisAclUsersProvider();
    const olds = { ...base, nodes: [], sentinelNodes: [], applied, drifted: false, log: [] };
    assert.equal((await p.diff("id", olds, { ...base, observed: applied })).changes, false);
    assert.equal(
      (await p.diff("id", olds, { ...base, observed: { "node a:1": { app: "" } } })).changes,
      true,
    );
  });

  it("check drops `observe` and reads nothing for a new resource, a preview or bad inputs", async () => {
    // Unreachable Sentinels: a read would fail (and log); none of these cases may try one.
    const p = new RedisAclUsersProvider();
    const created = await p.check({}, { ...base, observe: true });
    assert.equal("observe" in created.inputs, false);
    assert.equal(created.inputs.observed, undefined);
    const preview = await p.check(base, { ...base, observe: false, observed: { x: {} } });
    assert.equal(preview.inputs.observed, undefined, "an `observed` from elsewhere is dropped");
    const bad = await p.check(base, {
      ...base,
      observe: true,
      users: [{ ...base.users[0], name: "default" }],
    });
    assert.equal(bad.inputs.observed, undefined);
  });

  it("keeps each user's Sentinel login as a config line with the rules SETUSER gets, sorted", () => {
    const conf = sentinelUsersConf([
      { name: "b", password: "secret" },
      { name: "a", password: "secret" },
    ]);
    const lines = conf.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(" ")[1]),
      ["a", "b"],
    );
    assert.equal(lines[0], `user a ${sentinelRules("secret").slice(1).join(" ")}`);
    assert.ok(!conf.includes("secret"), "only the hash");
  });

  it("reads the replicas a master reports, leaving out port-0 sync clients", () => {
    const info = [
      "# Replication",
      "role:master",
      "connected_slaves:3",
      "slave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0",
      "slave1:ip=127.0.0.1,port=0,state=wait_bgsave,offset=0,lag=0",
      "slave2:ip=redis-node-2.redis-headless,port=6379,state=send_bulk,offset=0,lag=1",
      "master_failover_state:no-failover",
    ].join("\r\n");
    assert.deepEqual(replicasFromInfo(info), [
      { host: "10.0.0.2", port: 6379 },
      { host: "redis-node-2.redis-headless", port: 6379 },
    ]);
  });

  it("reads Sentinel's replica entries and merges node lists without repeats, master first", () => {
    const entry = (ip: string, port: number) => [
      "name",
      `${ip}:${port}`,
      "ip",
      ip,
      "port",
      String(port),
      "flags",
      "slave",
    ];
    const fromSentinel = addressesFromSentinel([entry("h1", 1), entry("h0", 0)]);
    assert.deepEqual(fromSentinel, [{ host: "h1", port: 1 }]);
    assert.deepEqual(
      uniqueNodes([
        { host: "m", port: 9 },
        ...fromSentinel,
        { host: "h1", port: 1 },
        { host: "h2", port: 2 },
      ]),
      [
        { host: "m", port: 9 },
        { host: "h1", port: 1 },
        { host: "h2", port: 2 },
      ],
    );
  });

  it("ends at once on a refused login or a command the login may not run, retries the rest", () => {
    const noperm = new Error("NOPERM this user has no permissions to run the 'sentinel|replicas' command");
    assert.equal(isFatalRedisError(noperm), true);
    assert.equal(isFatalRedisError(new Error("WRONGPASS invalid username-password pair")), true);
    assert.equal(isFatalRedisError(new Error("Command timed out")), false);
    assert.equal(isFatalRedisError(new Error("connect ECONNREFUSED 127.0.0.1:1")), false);
  });

  it("refuses to manage the default user", async () => {
    const r = await new RedisAclUsersProvider().check(
      {},
      { ...base, users: [{ ...base.users[0], name: "default" }] },
    );
    assert.match(r.failures![0].reason, /built-in user/);
  });

  it("survives Pulumi's closure serialization", async () => {
    const { provider, text } = await viaSerialization(new RedisAclUsersProvider());
    assert.ok(!/ioredis\/built/.test(text));
    assert.equal(
      (
        await provider.diff!(
          "id",
          { ...base, nodes: [], sentinelNodes: [], applied: {}, drifted: false, log: [] },
          base,
        )
      ).changes,
      false,
    );
  });
});
