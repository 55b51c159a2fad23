import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { aclRules, RedisAclUsersInputs, RedisAclUsersProvider, summariseGetUser } from "../../init/redis";
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

describe("Redis ACL users initialiser (no server)", () => {
  it("renders exact rules: reset first, the password only as its SHA-256", () => {
    const rules = aclRules(base.users[0], "secret");
    const hash = createHash("sha256").update("secret").digest("hex");
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

  it("summarises GETUSER replies independently of list order", () => {
    const a = summariseGetUser(["flags", ["on"], "keys", "~a ~b", "passwords", ["x", "y"], "selectors", []]);
    const b = summariseGetUser(["passwords", ["y", "x"], "keys", "~a ~b", "flags", ["on"]]);
    assert.equal(a, b);
    assert.equal(summariseGetUser(null), undefined);
  });

  it("diffs on input changes and on drift found by refresh, not on outputs", async () => {
    const p = new RedisAclUsersProvider();
    const olds = { ...base, nodes: ["a:1"], drifted: false, log: ["x"] };
    assert.equal((await p.diff("id", olds, base)).changes, false);
    assert.equal((await p.diff("id", { ...olds, drifted: true }, base)).changes, true);
    assert.equal((await p.diff("id", olds, { ...base, userPasswords: { app: "rotated" } })).changes, true);
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
      (await provider.diff!("id", { ...base, nodes: [], drifted: false, log: [] }, base)).changes,
      false,
    );
  });
});
