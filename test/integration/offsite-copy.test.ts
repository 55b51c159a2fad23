/**
 * Off-site copies (components/backup/offsite.sh) against the real S3 server of scripts/services.sh
 * (SeaweedFS, SigV4): an upload counts only once the server holds the same size and SHA-256; a fetch
 * refuses a truncated or unrecorded object; faults (server down, wrong keys) end in one clear error with
 * the local copy kept; pruning follows the retention and the prefix. The PostgreSQL round trip through
 * S3 is in postgres-backup.test.ts.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it, TestContext } from "node:test";
import { busyboxPath, offsite, offsiteEnv, s3Request, testPrefix } from "../support/s3";
import { closedPort, requireServer, Services } from "../support/servers";
import { until } from "../support/wait";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-offsite-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A file of `bytes` random bytes in the test's folder. */
function backupFile(name: string, bytes = 1 << 20): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, randomBytes(bytes));
  return f;
}

let bucket: string | undefined;

/** The S3 server and the tests' bucket; undefined when the test is skipped. */
async function server(t: TestContext): Promise<{ s3: Services["s3"]; bucket: string } | undefined> {
  const s3 = await requireServer(t, "s3");
  if (!s3) return undefined;
  bucket ??= s3.bucket;
  return { s3, bucket };
}

describe("off-site copies in S3 (components/backup/offsite.sh)", () => {
  it("uploads, checks what the server holds, and fetches the same bytes back", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("prod/postgres"));
    const file = backupFile("postgres-app-20261206T010203Z.dump", 3 << 20);
    const up = offsite(env, "upload", file);
    assert.equal(up.status, 0, up.err);
    assert.match(
      up.out,
      /offsite copy checked: s3:\/\/aipd-tests\/runs\/\w+\/prod\/postgres\/postgres-app-\S+ \(3145728 bytes/,
    );
    const marker = fs.readFileSync(`${file}.offsite`, "utf8");
    assert.match(
      marker,
      /^key=runs\/\w+\/prod\/postgres\/postgres-app-20261206T010203Z\.dump\nsize=3145728\nsha256=[0-9a-f]{64}\n$/,
    );
    assert.ok(fs.existsSync(file), "the local copy stays");
    assert.match(offsite(env, "list").out, /^postgres-app-20261206T010203Z\.dump 3145728 \d{4}-/m);
    const back = path.join(dir, "fetched.dump");
    const got = offsite(env, "fetch", path.basename(file), back);
    assert.equal(got.status, 0, got.err);
    assert.ok(fs.readFileSync(back).equals(fs.readFileSync(file)), "fetched bytes differ");
  });

  it("latest: fetches the newest backup matching a pattern, checked; none matching is an error", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("latest/redis"));
    const names = [
      "redis-mymaster-20261201T020000Z.rdb",
      "redis-mymaster-20261203T020000Z.rdb",
      "redis-other-20261209T020000Z.rdb",
      "redis-mymaster-20261202T020000Z.rdb",
    ];
    for (const n of names) assert.equal(offsite(env, "upload", backupFile(n, 4096)).status, 0);
    // An object in a sub-folder (Weaviate's own backups are) is never taken, though its name matches.
    const inFolder = "redis-mymaster-29990101T000000Z.rdb.d/redis-mymaster-29990101T000000Z.rdb";
    const folderFile = backupFile("in-folder.rdb", 16);
    assert.equal(
      s3Request(s3, "PUT", `/${bucket}/${testPrefix("latest/redis")}/${inFolder}`, ["-T", folderFile]),
      200,
    );
    const out = path.join(dir, "latest");
    const got = offsite(env, "latest", "redis-mymaster-*.rdb", out);
    assert.equal(got.status, 0, got.err);
    assert.deepEqual(fs.readdirSync(out), ["redis-mymaster-20261203T020000Z.rdb"]);
    assert.ok(
      fs.readFileSync(path.join(out, names[1])).equals(fs.readFileSync(path.join(dir, names[1]))),
      "fetched bytes differ",
    );
    const none = offsite(env, "latest", "postgres-*.dump", out);
    assert.equal(none.status, 1);
    assert.match(
      none.err,
      /^offsite: no backup matching postgres-\*\.dump in s3 bucket \S+ at \S+ under 'runs\/\w+\/latest\/redis'$/m,
    );
  });

  it("runs with busybox's shell and tools and curl alone, as the jobs' curl image runs it", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const bb = busyboxPath(path.join(dir, "busybox-bin"));
    if (!bb) {
      assert.ok(process.env.CI !== "true", "busybox is not installed (scripts/services.sh install)");
      t.skip("busybox is not installed (scripts/services.sh install)");
      return;
    }
    const env = { ...offsiteEnv(srv.s3, srv.bucket, testPrefix("busybox/redis")), PATH: bb };
    const backups = path.join(dir, "busybox-backups");
    fs.mkdirSync(backups);
    const names = ["redis-mymaster-20261204T020000Z.rdb", "redis-mymaster-20261205T020000Z.rdb"];
    for (const n of names) fs.writeFileSync(path.join(backups, n), randomBytes(1 << 20));
    const synced = offsite(env, "sync", backups, "7");
    assert.equal(synced.status, 0, synced.err);
    assert.match(synced.out, /offsite sync of .*: 2 new copies checked/);
    assert.doesNotMatch(synced.out, /pruned/);
    assert.deepEqual(
      offsite(env, "list")
        .out.split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ")[0]),
      names,
    );
    const out = path.join(dir, "busybox-latest");
    const got = offsite(env, "latest", "redis-mymaster-*.rdb", out);
    assert.equal(got.status, 0, got.err);
    assert.ok(
      fs.readFileSync(path.join(out, names[1])).equals(fs.readFileSync(path.join(backups, names[1]))),
    );
  });

  it("S3 down during an upload: fails saying so, keeps the local copy, counts no copy", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("down"), {
      S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    });
    const file = backupFile("redis-down.rdb");
    const r = offsite(env, "upload", file);
    assert.equal(r.status, 1);
    assert.match(
      r.err,
      /offsite: upload of redis-down\.rdb failed: s3 bucket \S+ at http:\/\/127\.0\.0\.1:\d+ is not reachable/,
    );
    assert.ok(fs.existsSync(file), "the local copy was removed");
    assert.ok(!fs.existsSync(`${file}.offsite`), "a failed upload was counted as done");
  });

  it("wrong keys: one clear error naming the key id, never the secret", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const secret = `wrong-${randomBytes(8).toString("hex")}`;
    const env = offsiteEnv(s3, bucket, testPrefix("keys"), { AWS_SECRET_ACCESS_KEY: secret });
    const file = backupFile("kafka-keys.txt", 1000);
    const r = offsite(env, "upload", file);
    assert.equal(r.status, 1);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, new RegExp(`refused the credentials of ${s3.accessKeyId} \\(\\w+\\)`));
    assert.ok(!`${r.out}${r.err}`.includes(secret), "the secret key is in the output");
    assert.ok(!fs.existsSync(`${file}.offsite`));
  });

  it("refuses to fetch a truncated object or one uploaded without a recorded checksum", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("trunc"));
    const file = backupFile("mongodb-trunc.archive.gz");
    assert.equal(offsite(env, "upload", file).status, 0);
    // The object cut short where it is stored, its recorded checksum left as it was.
    const sha = fs.readFileSync(`${file}.offsite`, "utf8").match(/sha256=(\w+)/)![1];
    const short = path.join(dir, "short");
    fs.writeFileSync(short, fs.readFileSync(file).subarray(0, 4096));
    const key = `/${bucket}/${testPrefix("trunc")}/mongodb-trunc.archive.gz`;
    assert.equal(s3Request(s3, "PUT", key, ["-H", `x-amz-meta-sha256: ${sha}`, "-T", short]), 200);
    const out = path.join(dir, "restored.gz");
    const r = offsite(env, "fetch", "mongodb-trunc.archive.gz", out);
    assert.equal(r.status, 1);
    assert.match(r.err, /4096 bytes with SHA-256 \w+, recorded \w+: truncated or altered; refused/);
    assert.ok(!fs.existsSync(out) && !fs.existsSync(`${out}.partial`), "a refused object was left on disk");

    assert.equal(s3Request(s3, "PUT", `/${bucket}/${testPrefix("trunc")}/foreign.bin`, ["-T", short]), 200);
    const foreign = offsite(env, "fetch", "foreign.bin", out);
    assert.equal(foreign.status, 1);
    assert.match(foreign.err, /no recorded SHA-256/);
  });

  it("sync: uploads each finished backup once, skips partial files, forgets records of pruned files", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("sync/redis"));
    const backups = fs.mkdtempSync(path.join(dir, "sync-"));
    const put = (name: string, text = randomBytes(64).toString("hex")) =>
      fs.writeFileSync(path.join(backups, name), text);
    put("redis-mymaster-20261201T030000Z.rdb");
    put("redis-mymaster-20261202T030000Z.rdb");
    put("redis-mymaster-20261203T030000Z.rdb.partial");
    put("redis-mymaster-20261130T030000Z.rdb.offsite", "key=x\n"); // its file was pruned locally
    const first = offsite(env, "sync", backups, "7");
    assert.equal(first.status, 0, first.err);
    assert.match(first.out, /: 2 new copies checked$/m);
    const listed = offsite(env, "list")
      .out.split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")[0]);
    assert.deepEqual(listed.sort(), [
      "redis-mymaster-20261201T030000Z.rdb",
      "redis-mymaster-20261202T030000Z.rdb",
    ]);
    assert.deepEqual(fs.readdirSync(backups).sort(), [
      "redis-mymaster-20261201T030000Z.rdb",
      "redis-mymaster-20261201T030000Z.rdb.offsite",
      "redis-mymaster-20261202T030000Z.rdb",
      "redis-mymaster-20261202T030000Z.rdb.offsite",
      "redis-mymaster-20261203T030000Z.rdb.partial",
    ]);
    const again = offsite(env, "sync", backups, "7");
    assert.equal(again.status, 0, again.err);
    assert.match(again.out, /: 0 new copies checked$/m);

    // The server down: the job fails saying why, and the next backup's file waits for the next run.
    put("redis-mymaster-20261204T030000Z.rdb");
    const down = offsiteEnv(s3, bucket, testPrefix("sync/redis"), {
      S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    });
    const failed = offsite(down, "sync", backups, "7");
    assert.equal(failed.status, 1);
    assert.match(failed.err, /upload of redis-mymaster-20261204T030000Z\.rdb failed: .* is not reachable/);
    assert.ok(!fs.existsSync(path.join(backups, "redis-mymaster-20261204T030000Z.rdb.offsite")));
    const later = offsite(env, "sync", backups, "7");
    assert.match(later.out, /: 1 new copy checked$/m, later.err);
  });

  it("prunes the copies older than the retention under its own prefix only", async (t) => {
    const srv = await server(t);
    if (!srv) return;
    const { s3, bucket } = srv;
    const env = offsiteEnv(s3, bucket, testPrefix("prune/weaviate"));
    const other = offsiteEnv(s3, bucket, testPrefix("prune/other"));
    for (const n of ["a", "b"])
      assert.equal(offsite(env, "upload", backupFile(`weaviate-${n}.json`, 100)).status, 0);
    assert.equal(offsite(other, "upload", backupFile("other.json", 100)).status, 0);
    // Younger than a day: kept.
    const keep = offsite(env, "prune", "1");
    assert.equal(keep.status, 0, keep.err);
    assert.equal(keep.out, "");
    // Retention 0 takes every copy uploaded before the current second: wait for the next one.
    const uploaded = Math.floor(Date.now() / 1000);
    await until("the next second", async () => (Math.floor(Date.now() / 1000) > uploaded ? true : undefined));
    const pruned = offsite(env, "prune", "0");
    assert.equal(pruned.status, 0, pruned.err);
    assert.match(pruned.out, /offsite copy pruned: \S+\/prune\/weaviate\/weaviate-a\.json/);
    assert.match(pruned.out, /offsite copy pruned: \S+\/prune\/weaviate\/weaviate-b\.json/);
    assert.equal(offsite(env, "list").out, "");
    assert.match(offsite(other, "list").out, /^other\.json 100 /m, "another prefix was pruned");
  });
});
