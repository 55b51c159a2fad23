/**
 * The MongoDB backup round trip against the FerretDB 1.24 of scripts/services.sh: the CronJob's own
 * script (components/backup/mongodb.sh) and the README's restore procedure, with
 * mongodump/mongorestore 100.10.0 built by scripts/mongo-tools.sh. The archive restored is the one
 * that came back from S3 after the job's upload step (backup.s3).
 *
 * The round trip cannot check `--oplog`/`--oplogReplay` (FerretDB is no replica set: the script
 * runs with MONGODB_REPLICA_SET empty) nor index restore (mongorestore sends each index with an `ns`
 * option and `ignoreUnknownIndexOptions: true`; FerretDB ignores the latter and refuses the former), so
 * documents are restored with --noIndexRestore and the initialiser rebuilds the declared indexes.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { MongoCollectionsOutputs } from "../../init/mongodb";
import {
  collectionsInputs,
  collectionsProvider,
  configurations,
  scenarioDatabases,
  systemLogs,
  withDb,
} from "../support/mongo-fixtures";
import { drillContainers, runDrill } from "../support/backup-job";
import { mongodStandIn } from "../support/mongo-drill";
import { offsiteRoundTrip } from "../support/s3";
import { requireServer } from "../support/servers";

const { dbName, cleanup } = scenarioDatabases();
after(cleanup);

/** The bin directory of mongodump/mongorestore, built once by scripts/mongo-tools.sh (cached). */
function mongoTools(t: TestContext): string | undefined {
  const script = path.join(__dirname, "../../scripts/mongo-tools.sh");
  const r = spawnSync("bash", [script], { encoding: "utf8" });
  if (r.status === 0) return r.stdout.trim().split("\n").pop();
  const reason = `scripts/mongo-tools.sh could not provide mongodump/mongorestore: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`;
  if (process.env.CI === "true") throw new Error(reason);
  t.skip(reason);
  return undefined;
}

describe("MongoDB backup round trip (components/backup/mongodb.sh, README restore)", () => {
  it("dumps with the CronJob's script, prunes old archives, restores into a fresh database", async (t) => {
    const svc = await requireServer(t, "mongodb");
    const s3 = await requireServer(t, "s3");
    if (!svc || !s3) return;
    const bin = mongoTools(t);
    if (!bin) return;
    const source = dbName("bak");
    const restored = dbName("bak_restored");
    const { ObjectId } = require("mongodb");
    const docs = [
      {
        _id: new ObjectId(),
        level: "info",
        service: "api",
        timestamp: new Date("2024-05-01T10:00:00Z"),
        n: 1,
      },
      {
        _id: new ObjectId(),
        level: "error",
        service: "worker",
        timestamp: new Date("2024-05-01T10:00:01Z"),
        n: 2.5,
        tags: ["a", "b"],
        ctx: { retry: true, detail: null },
      },
    ];
    await withDb(svc, source, (d) => d.collection("system_logs").insertMany(docs));
    await withDb(svc, source, (d) =>
      d.collection("configurations").insertOne({ component: "api", is_active: true }),
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-mongo-backup-"));
    try {
      const old = path.join(dir, "mongodb-20000101T000000Z.archive.gz");
      fs.writeFileSync(old, "old");
      const monthAgo = new Date(Date.now() - 30 * 86400_000);
      fs.utimesSync(old, monthAgo, monthAgo);
      // The environment the CronJob gets (components/mongodb.ts), with this server's values.
      const env = {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        MONGODB_HOSTS: `${svc.host}:${svc.port}`,
        MONGODB_REPLICA_SET: "",
        MONGODB_AUTH_DB: svc.authSource,
        MONGODB_USER: svc.username,
        MONGODB_PASSWORD: svc.password,
        BACKUP_DIR: dir,
        RETENTION_DAYS: "7",
      };
      const script = path.join(__dirname, "../../components/backup/mongodb.sh");
      const dump = spawnSync("sh", [script], { env, encoding: "utf8" });
      assert.equal(dump.status, 0, dump.stderr);
      assert.match(
        dump.stdout,
        /backup written: .*mongodb-\d{8}T\d{6}Z\.archive\.gz \(\d+ bytes, standalone, no oplog\)/,
      );
      assert.match(dump.stderr, new RegExp(`done dumping ${source}.system_logs \\(2 documents\\)`));
      assert.ok(!`${dump.stdout}${dump.stderr}`.includes(svc.password));
      const files = fs.readdirSync(dir);
      const archives = files.filter((f) => /^mongodb-\d{8}T\d{6}Z\.archive\.gz$/.test(f));
      assert.equal(archives.length, 1, files.join(", "));
      assert.ok(!fs.existsSync(old), "the old archive was pruned");
      assert.ok(!files.some((f) => f.endsWith(".partial")));
      const archive = path.join(dir, archives[0]);
      assert.equal(fs.statSync(archive).mode & 0o777, 0o600, "the archive is readable by its owner only");
      // Off-site (backup.s3): the archive restored below is the copy that came back from S3.
      assert.deepEqual(offsiteRoundTrip("mongodb", s3, dir), archives);
      assert.equal(fs.statSync(archive).mode & 0o777, 0o600, "the fetched archive is its owner's only");

      // README restore: mongorestore --gzip --archive, one database into a fresh one (--nsFrom/--nsTo),
      // the password from a --config file. --noIndexRestore: FerretDB refuses mongorestore's index
      // documents (checked below); the initialiser rebuilds the declared indexes.
      const cfg = path.join(dir, "restore.yaml");
      fs.writeFileSync(cfg, `password: '${svc.password.replace(/'/g, "''")}'\n`, { mode: 0o600 });
      const restoreArgs = [
        `--config=${cfg}`,
        `--uri=mongodb://${encodeURIComponent(svc.username)}@${svc.host}:${svc.port}/?authSource=${svc.authSource}`,
        "--gzip",
        `--archive=${archive}`,
        `--nsInclude=${source}.*`,
        `--nsFrom=${source}.*`,
        `--nsTo=${restored}.*`,
      ];
      const restore = spawnSync(path.join(bin, "mongorestore"), [...restoreArgs, "--noIndexRestore"], {
        encoding: "utf8",
      });
      assert.equal(restore.status, 0, restore.stderr);
      assert.match(
        restore.stderr,
        /3 document\(s\) restored successfully\. 0 document\(s\) failed to restore/,
      );

      const back = await withDb(svc, restored, (d) =>
        d.collection("system_logs").find().sort({ n: 1 }).toArray(),
      );
      assert.deepEqual(back, docs);
      assert.deepEqual(
        await withDb(svc, restored, (d) =>
          d
            .collection("configurations")
            .find({}, { projection: { _id: 0 } })
            .toArray(),
        ),
        [{ component: "api", is_active: true }],
      );

      // The initialiser, pointed at the restored database, rebuilds the declared indexes.
      const p = await collectionsProvider();
      const res = await p.create!(collectionsInputs(svc, restored, [systemLogs, configurations]));
      assert.deepEqual((res.outs as MongoCollectionsOutputs).log, [
        "created index system_logs.timestamp_1 on {timestamp: 1}",
        "created index system_logs.level_1_timestamp_1 on {level: 1, timestamp: 1}",
      ]);

      // What FerretDB cannot check: restoring indexes from the archive (MongoDB accepts mongorestore's
      // `ns` index option because it sends ignoreUnknownIndexOptions; FerretDB does not).
      const indexed = dbName("bak_indexes");
      await withDb(svc, source, (d) => d.collection("system_logs").createIndex({ level: 1 }));
      execFileSync("sh", [script], { env, encoding: "utf8", stdio: "pipe" });
      const newest = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".archive.gz"))
        .sort()
        .pop()!;
      const withIdx = spawnSync(
        path.join(bin, "mongorestore"),
        [
          ...restoreArgs.slice(0, 3),
          `--archive=${path.join(dir, newest)}`,
          `--nsInclude=${source}.*`,
          `--nsFrom=${source}.*`,
          `--nsTo=${indexed}.*`,
        ],
        { encoding: "utf8" },
      );
      assert.notEqual(withIdx.status, 0, "FerretDB now restores indexes: drop --noIndexRestore above");
      assert.match(withIdx.stderr, /Index option "ns" is unknown/);

      // The restore drill as the CronJob declares it: the newest archive into a scratch server (FerretDB
      // standing in for mongod, test/support/mongo-drill.ts), the documents of each collection counted;
      // no login to the live server.
      const { drill } = drillContainers("mongodb");
      const local = { DRILL_DIR: dir, SCRATCH_DIR: path.join(dir, "scratch") };
      const drillPath = `${mongodStandIn(path.join(dir, "stand-in"), svc.ferretdb)}:${bin}`;
      fs.mkdirSync(local.SCRATCH_DIR);
      const passed = runDrill(drill, local, { path: drillPath });
      assert.equal(passed.status, 0, `${passed.out}${passed.err}`);
      assert.match(
        passed.out,
        new RegExp(
          `^drill passed: mongodb ${newest} \\(\\d+ bytes\\): \\d+ collections, \\d+ documents: .*\\b${source}\\.system_logs=2\\b`,
          "m",
        ),
      );
      // An archive cut short, newer than the good one, fails the drill and says why.
      const cut = "mongodb-29991231T000000Z.archive.gz";
      const bytes = fs.readFileSync(path.join(dir, newest));
      fs.writeFileSync(path.join(dir, cut), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const failed = runDrill(drill, local, { path: drillPath });
      assert.equal(failed.status, 1, failed.out);
      assert.match(failed.err, new RegExp(`^drill failed: mongodb: mongorestore of ${cut} failed: `, "m"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
