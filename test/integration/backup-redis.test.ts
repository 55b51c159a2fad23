/**
 * Redis backup round trip against the real master, replicas and Sentinels of scripts/services.sh.
 * The backup is the CronJob of components/redis.ts as the program declares it (its command and its
 * environment, read from a run of the dev stack under Pulumi mocks), run with `/bin/sh -c` like the
 * container does, the loopback servers in place of the in-cluster ones. The RDB it streams from the
 * master (`redis-cli --rdb`) is restored the README's way into fresh redis-server instances (Debian's
 * Redis 7.0, the services' version): as dump.rdb with appendonly off, and through
 * `components/backup/redis.sh restore` into a data directory a node starts from with appendonly on (the
 * chart's default, redis.persistence.aof). A negative control shows why the helper exists: Redis 7
 * started with appendonly on ignores a lone dump.rdb and comes up empty.
 * Not covered here (no Kubernetes): the Bitnami image and chart themselves, Sentinel's in-cluster address.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { REDIS_BACKUP_COMMANDS, REDIS_BACKUP_USER } from "../../components/redis/values";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { viaSerialization } from "../support/dynamic";
import { aclScenarios, onRedis, removeAclUsers } from "../support/redis-fixtures";
import { backupContainer, drillContainers, JobContainer, jobEnv, runDrill } from "../support/backup-job";
import { offsiteRoundTrip } from "../support/s3";
import { closedPort, requireServer, Services } from "../support/servers";

const Redis = require("ioredis");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ioredis client from an untyped require
type Client = any;
type Svc = Services["redis"];

const aclInputsFor = aclScenarios().inputs;
/** The backup job's user as the test made it (deleted after). */
let backupUserMade: { id: string; outs: unknown } | undefined;

/** The CronJob's script, whose `restore` mode the README runs. */
const SCRIPT = path.join(BACKUP_SCRIPTS_DIR, "redis.sh");
const run = randomBytes(3).toString("hex");
const prefix = `aipd-bak:${run}:`;
/** Database of the one key outside db 0 (every database is in the RDB). */
const OTHER_DB = 5;
let written: { svc: Svc; master: HostPort } | undefined;

interface HostPort {
  host: string;
  port: number;
}

/** Runs the CronJob's command as its container does. */
function runJob(c: JobContainer, env: NodeJS.ProcessEnv) {
  return spawnSync(c.command[0], c.command.slice(1), { env, encoding: "utf8", timeout: 60_000 });
}

async function connect(node: HostPort, password?: string, db = 0): Promise<Client> {
  const c = new Redis({ ...node, password, db, protocol: 2, lazyConnect: true, retryStrategy: () => null });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

async function onNode<T>(
  node: HostPort,
  password: string | undefined,
  fn: (c: Client) => Promise<T>,
  db = 0,
) {
  const c = await connect(node, password, db);
  try {
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

async function currentMaster(svc: Svc): Promise<HostPort> {
  const [host, port] = await onNode<string[]>(svc.sentinels[0], svc.sentinelPassword, (c) =>
    c.call("SENTINEL", "get-master-addr-by-name", svc.masterName),
  );
  return { host, port: Number(port) };
}

const key = (name: string) => `${prefix}${name}`;
/** Every byte value, and a value big enough to span several RDB chunks. */
const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const big = randomBytes(96 * 1024).toString("base64");

async function writeKeys(c: Client) {
  await c.set(key("bin"), binary);
  await c.set(key("big"), big);
  await c.set(key("ttl"), "expires", "PX", 3_600_000);
  await c.hset(key("hash"), { a: "1", schlüssel: "wert" });
  await c.rpush(key("list"), "x", "y", "z");
  await c.sadd(key("set"), "m1", "m2");
  await c.zadd(key("zset"), 1.5, "a", -2, "b");
  await c.xadd(key("stream"), "1-1", "field", "value");
  await c.select(OTHER_DB);
  await c.set(key("db5"), "other database");
  await c.select(0);
}

/** Asserts that every key written by {@link writeKeys} is back with its value, type and TTL. */
async function checkKeys(c: Client) {
  assert.deepEqual(await c.getBuffer(key("bin")), binary);
  assert.equal(await c.get(key("big")), big);
  assert.equal(await c.get(key("ttl")), "expires");
  const ttl = await c.pttl(key("ttl"));
  assert.ok(ttl > 3_000_000 && ttl <= 3_600_000, `the TTL came back (${ttl} ms)`);
  assert.equal(await c.pttl(key("hash")), -1, "no TTL where there was none");
  assert.deepEqual(await c.hgetall(key("hash")), { a: "1", schlüssel: "wert" });
  assert.deepEqual(await c.lrange(key("list"), 0, -1), ["x", "y", "z"]);
  assert.deepEqual((await c.smembers(key("set"))).sort(), ["m1", "m2"]);
  assert.deepEqual(await c.zrange(key("zset"), 0, -1, "WITHSCORES"), ["b", "-2", "a", "1.5"]);
  assert.deepEqual(await c.xrange(key("stream"), "-", "+"), [["1-1", ["field", "value"]]]);
  await c.select(OTHER_DB);
  assert.equal(await c.get(key("db5")), "other database");
  await c.select(0);
}

/** A throwaway redis-server (Debian's) on a free loopback port, data in `dir`; stopped after `fn`. */
async function withFreshRedis<T>(dir: string, appendonly: "yes" | "no", fn: (c: Client) => Promise<T>) {
  const port = await closedPort();
  const log = path.join(dir, "..", `redis-${port}.log`);
  const child: ChildProcess = spawn(
    "redis-server",
    [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb"],
      ...["--appendonly", appendonly, "--save", "", "--daemonize", "no", "--logfile", log],
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    let c: Client | undefined;
    for (let i = 0; !c; i++) {
      try {
        c = await connect({ host: "127.0.0.1", port });
        if ((await c.ping()) !== "PONG") throw new Error("loading");
      } catch (e) {
        c?.disconnect();
        c = undefined;
        if (child.exitCode !== null || i > 100) {
          throw new Error(
            `throwaway redis-server did not start: ${String(e)}\n${fs.readFileSync(log, "utf8")}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    try {
      return await fn(c);
    } finally {
      c.disconnect();
    }
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  }
}

after(async () => {
  if (backupUserMade) {
    const acl = (await viaSerialization(new RedisAclUsersProvider())).provider;
    await removeAclUsers(acl, backupUserMade.id, backupUserMade.outs as RedisAclUsersOutputs);
  }
  if (!written) return;
  const { svc } = written;
  // The master may have moved meanwhile: ask again.
  await onNode(await currentMaster(svc), svc.password, async (c) => {
    const keys: string[] = await c.keys(`${prefix}*`);
    if (keys.length) await c.del(...keys);
    await c.select(OTHER_DB);
    await c.del(key("db5"));
  });
});

describe("Redis backup round trip (components/backup/redis.sh, README restore)", () => {
  it("snapshots the master found through Sentinel with the CronJob's command, prunes, restores into fresh instances", async (t) => {
    const svc = await requireServer(t, "redis");
    const s3 = await requireServer(t, "s3");
    if (!svc || !s3) return;
    const job = backupContainer("redis");
    const master = await currentMaster(svc);
    written = { svc, master };
    await onNode(master, svc.password, writeKeys);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-redis-backup-"));
    try {
      const backups = path.join(dir, "backup");
      fs.mkdirSync(backups);
      // A snapshot from a month ago must be pruned; one of another master set must stay.
      const old = path.join(backups, `redis-${svc.masterName}-20000101T000000Z.rdb`);
      const foreign = path.join(backups, "redis-otherset-20000101T000000Z.rdb");
      const monthAgo = new Date(Date.now() - 30 * 86400_000);
      for (const f of [old, foreign]) {
        fs.writeFileSync(f, "old");
        fs.utimesSync(f, monthAgo, monthAgo);
      }
      // The CronJob logs in as its own ACL user (REDIS_USER), which the initialiser keeps on every node
      // with a discovery login on every Sentinel: made here the same way, with a password of this run.
      const backupUser = job.env.find((e) => e.name === "REDIS_USER")?.value;
      assert.equal(backupUser, REDIS_BACKUP_USER);
      const aclInputs = aclInputsFor(svc, [
        { name: backupUser, keys: [], channels: [], commands: REDIS_BACKUP_COMMANDS },
      ]);
      const acl = (await viaSerialization(new RedisAclUsersProvider())).provider;
      const made = await acl.create!(aclInputs);
      backupUserMade = { id: made.id, outs: made.outs };
      const backupPassword = aclInputs.userPasswords[backupUser];
      // It may take the replication stream and nothing else.
      await assert.rejects(
        onRedis(master, backupPassword, (c) => c.call("GET", key("a")), backupUser),
        /NOPERM/,
      );
      // The CronJob's environment (components/redis.ts) with this machine's servers.
      const env = jobEnv(job, {
        REDIS_SENTINEL_HOST: svc.sentinels[0].host,
        REDIS_SENTINEL_PORT: String(svc.sentinels[0].port),
        REDIS_MASTER_SET: svc.masterName,
        REDISCLI_AUTH: backupPassword,
        BACKUP_DIR: backups,
      });
      const r = runJob(job, env);
      assert.equal(r.status, 0, r.stderr);
      const output = `${r.stdout}${r.stderr}`;
      assert.ok(
        !output.includes(svc.password) && !output.includes(svc.sentinelPassword),
        "no password in the output",
      );
      const m = r.stdout.match(/^backup written: (.+\.rdb) \((\d+) bytes\) from master (.+):(\d+)$/m);
      assert.ok(m, r.stdout);
      assert.deepEqual({ host: m[3], port: Number(m[4]) }, master, "the master Sentinel names");
      const files = fs.readdirSync(backups).sort();
      const snapshots = files.filter((f) =>
        new RegExp(`^redis-${svc.masterName}-\\d{8}T\\d{6}Z\\.rdb$`).test(f),
      );
      assert.equal(snapshots.length, 1, files.join(", "));
      const rdb = path.join(backups, snapshots[0]);
      assert.equal(m[1], rdb);
      assert.equal(fs.statSync(rdb).size, Number(m[2]));
      assert.equal(fs.readFileSync(rdb).subarray(0, 5).toString(), "REDIS");
      assert.ok(!fs.existsSync(old), "the old snapshot was pruned");
      assert.ok(fs.existsSync(foreign), "another master set's snapshot was left alone");
      assert.ok(!files.some((f) => f.endsWith(".partial")));
      // Off-site (backup.s3): the snapshot restored below is the copy that came back from S3.
      assert.ok(offsiteRoundTrip("redis", s3, backups).includes(snapshots[0]));

      // README, fresh instance: the snapshot as dump.rdb, Redis started with appendonly no.
      const plain = path.join(dir, "plain");
      fs.mkdirSync(plain);
      fs.copyFileSync(rdb, path.join(plain, "dump.rdb"));
      await withFreshRedis(plain, "no", checkKeys);

      // Why the README's helper exists: with appendonly yes (the chart's default) Redis 7 loads only the
      // AOF and, finding none, starts empty. Fails, and says so, once a Redis loads the RDB instead.
      const aofOnly = path.join(dir, "aof-only");
      fs.mkdirSync(aofOnly);
      fs.copyFileSync(rdb, path.join(aofOnly, "dump.rdb"));
      await withFreshRedis(aofOnly, "yes", async (c) => {
        assert.equal(await c.dbsize(), 0, "Redis started with appendonly yes now loads a lone dump.rdb");
      });

      // README, a node's data directory: `redis.sh restore`, then a Redis with appendonly yes.
      const data = path.join(dir, "data");
      fs.mkdirSync(data);
      fs.writeFileSync(path.join(data, "users.acl"), "user default on nopass ~* &* +@all\n");
      const restore = spawnSync("sh", [SCRIPT, "restore", rdb, data], {
        // The caller's password in the environment must not get in the way (the pod has one).
        env: { PATH: process.env.PATH!, REDISCLI_AUTH: svc.password },
        encoding: "utf8",
      });
      assert.equal(restore.status, 0, restore.stderr);
      assert.match(restore.stdout, new RegExp(`^redis restore: ${data} holds the \\d+ keys of ${rdb} `, "m"));
      assert.equal(restore.stderr, "");
      assert.ok(fs.existsSync(path.join(data, "appendonlydir", "appendonly.aof.manifest")));
      assert.equal(
        fs.readFileSync(path.join(data, "users.acl"), "utf8"),
        "user default on nopass ~* &* +@all\n",
      );
      await withFreshRedis(data, "yes", checkKeys);
      // A second run refuses to overwrite the restored data.
      const again = spawnSync("sh", [SCRIPT, "restore", rdb, data], {
        encoding: "utf8",
      });
      assert.equal(again.status, 2);
      assert.match(
        again.stderr,
        /already holds Redis data \(dump\.rdb or appendonlydir\); move it away first/,
      );

      // The restore drill as the CronJob declares it: the newest snapshot of the master set loaded into
      // a scratch server, from the RDB and again from the AOF written of it; no login to the live servers.
      const { drill } = drillContainers("redis");
      const local = {
        REDIS_MASTER_SET: svc.masterName,
        DRILL_DIR: backups,
        SCRATCH_DIR: path.join(dir, "scratch"),
      };
      fs.mkdirSync(local.SCRATCH_DIR);
      const passed = runDrill(drill, local);
      assert.equal(passed.status, 0, `${passed.out}${passed.err}`);
      const keys = Number(
        passed.out.match(
          new RegExp(`^drill passed: redis ${snapshots[0]} \\(\\d+ bytes\\): (\\d+) keys,`, "m"),
        )?.[1],
      );
      assert.ok(keys >= 1, passed.out);
      // A snapshot cut short, newer than the good one, fails the drill and says why.
      const cut = `redis-${svc.masterName}-29991231T000000Z.rdb`;
      const bytes = fs.readFileSync(rdb);
      fs.writeFileSync(path.join(backups, cut), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const failed = runDrill(drill, local);
      assert.equal(failed.status, 1, failed.out);
      assert.match(
        failed.err,
        /^drill failed: redis: redis restore: redis-check-rdb rejects .*29991231T000000Z\.rdb/m,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly, without a password in its output, when Sentinel or the master refuses it", async (t) => {
    const svc = await requireServer(t, "redis");
    if (!svc) return;
    const job = backupContainer("redis");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-redis-backup-"));
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    try {
      const local = {
        // As the `default` user: the refusals below are of the password, whoever logs in.
        REDIS_USER: "",
        REDIS_SENTINEL_HOST: svc.sentinels[0].host,
        REDIS_SENTINEL_PORT: String(svc.sentinels[0].port),
        REDIS_MASTER_SET: svc.masterName,
        REDISCLI_AUTH: svc.password,
        BACKUP_DIR: dir,
      };
      const sentinel = `${svc.sentinels[0].host}:${svc.sentinels[0].port}`;
      const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
        [
          {},
          { REDIS_SENTINEL_PASSWORD: wrong },
          new RegExp(
            `^no master for set '${svc.masterName}' from Sentinel ${sentinel}: AUTH failed: WRONGPASS`,
          ),
        ],
        [
          { REDIS_MASTER_SET: `unknown-${run}` },
          { REDIS_SENTINEL_PASSWORD: svc.sentinelPassword },
          new RegExp(
            `^no master for set 'unknown-${run}' from Sentinel ${sentinel}: it does not monitor that set$`,
            "m",
          ),
        ],
        [
          { REDISCLI_AUTH: wrong },
          { REDIS_SENTINEL_PASSWORD: svc.sentinelPassword },
          /^redis-cli --rdb from [\d.]+:\d+ failed: AUTH failed: WRONGPASS/,
        ],
      ];
      for (const [override, extra, message] of cases) {
        const r = runJob(job, jobEnv(job, { ...local, ...override }, extra));
        assert.equal(r.status, 1, r.stdout);
        assert.match(r.stderr, message);
        const output = `${r.stdout}${r.stderr}`;
        for (const secret of [wrong, svc.password, svc.sentinelPassword]) assert.ok(!output.includes(secret));
        assert.deepEqual(fs.readdirSync(dir), [], "nothing written, no partial file left");
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
