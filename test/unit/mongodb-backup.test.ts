/**
 * MongoDB's backup script (components/shared/backup-scripts/mongodb.sh) outside Kubernetes, with a
 * stand-in `mongodump` that records its arguments and config file.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";

describe("MongoDB backup script", () => {
  const script = path.join(BACKUP_SCRIPTS_DIR, "mongodb.sh");

  /** Runs the script with a stand-in `mongodump` that records its arguments and config file. */
  function runBackup(replicaSet: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mongodb-backup-test-"));
    const bin = path.join(dir, "bin");
    const backupDir = path.join(dir, "backup");
    fs.mkdirSync(bin);
    fs.mkdirSync(backupDir);
    fs.writeFileSync(
      path.join(bin, "mongodump"),
      [
        "#!/bin/sh",
        'printf "%s\\n" "$@" >"$FAKE_DIR/args"',
        'for a in "$@"; do case $a in --config=*) cp "${a#--config=}" "$FAKE_DIR/config";;',
        '  --archive=*) echo archive >"${a#--archive=}";; esac; done',
      ].join("\n"),
      { mode: 0o755 },
    );
    const old = path.join(backupDir, "mongodb-20000101T000000Z.archive.gz");
    fs.writeFileSync(old, "old");
    fs.utimesSync(old, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const stdout = execFileSync("/bin/sh", [script], {
      encoding: "utf8",
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_DIR: dir,
        MONGODB_HOSTS: "a:27017,b:27017",
        MONGODB_USER: "ops@team",
        MONGODB_PASSWORD: "pa'ss word",
        MONGODB_AUTH_DB: "admin",
        MONGODB_REPLICA_SET: replicaSet,
        BACKUP_DIR: backupDir,
        RETENTION_DAYS: "7",
      },
    });
    const args = fs.readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
    const config = fs.readFileSync(path.join(dir, "config"), "utf8");
    const files = fs.readdirSync(backupDir);
    fs.rmSync(dir, { recursive: true, force: true });
    return { stdout, args, config, files };
  }

  it("dumps a replica set from a secondary with --oplog, the password only in the config file", () => {
    const r = runBackup("rs0");
    assert.ok(r.args.includes("--oplog"));
    assert.ok(r.args.includes("--gzip"));
    const uri = r.args.find((a) => a.startsWith("--uri="))!;
    assert.equal(
      uri,
      "--uri=mongodb://%6f%70%73%40%74%65%61%6d@a:27017,b:27017/?authSource=admin&replicaSet=rs0&readPreference=secondaryPreferred",
    );
    assert.ok(!r.args.join(" ").includes("pa'ss"), "the password is on the command line");
    assert.equal(r.config, "password: 'pa''ss word'\n");
    assert.equal(r.files.length, 1, `old archive pruned, partial renamed: ${r.files.join(", ")}`);
    assert.match(r.files[0], /^mongodb-\d{8}T\d{6}Z\.archive\.gz$/);
    assert.match(
      r.stdout,
      /^backup written: .*mongodb-\d{8}T\d{6}Z\.archive\.gz \(8 bytes, replica set rs0, with oplog\)$/m,
    );
  });

  it("dumps a standalone server without --oplog or a read preference", () => {
    const r = runBackup("");
    assert.ok(!r.args.includes("--oplog"));
    const uri = r.args.find((a) => a.startsWith("--uri="))!;
    assert.ok(!uri.includes("readPreference") && !uri.includes("replicaSet"), uri);
  });
});
