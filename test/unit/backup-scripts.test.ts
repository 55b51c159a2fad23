/**
 * The modes of the backup scripts that also restore (components/backup/<svc>.sh): no argument is the
 * backup the CronJob runs, `restore ...` the README's restore; anything else is refused before a server
 * is contacted or a file written. What each mode does is checked against real servers in
 * test/integration/backup-*.test.ts.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";

/** Runs a script with only PATH set: a mode that got past the argument checks fails on a missing variable. */
function script(name: string, args: string[], cwd: string) {
  return spawnSync("sh", [path.join(BACKUP_SCRIPTS_DIR, name), ...args], {
    cwd,
    env: { PATH: process.env.PATH! },
    encoding: "utf8",
  });
}

const USAGE: Record<string, RegExp> = {
  "redis.sh":
    /^usage: sh redis\.sh \[backup\] \| sh redis\.sh restore RDB_FILE DATA_DIR \| sh redis\.sh drill\n$/,
  "weaviate.sh":
    /^usage: sh weaviate\.sh \[backup\] \| sh weaviate\.sh restore BACKUP_ID \[CLASS\.\.\.\] \| sh weaviate\.sh drill\n$/,
  "kafka.sh":
    /^usage: sh kafka\.sh \[backup\] \| sh kafka\.sh restore \[--dry-run\] BACKUP_FILE \[TOPIC\.\.\.\] \| sh kafka\.sh drill\n$/,
};

describe("backup scripts with a restore mode", () => {
  for (const [name, usage] of Object.entries(USAGE)) {
    it(`${name}: refuses an unknown mode, arguments to backup and a restore without arguments`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-backup-modes-"));
      try {
        for (const args of [["bogus"], ["backup", "extra"], ["restore"], ["--dry-run"], ["drill", "extra"]]) {
          const r = script(name, args, dir);
          assert.equal(r.status, 2, `${name} ${args.join(" ")}: ${r.stderr}`);
          assert.match(r.stderr, usage, `${name} ${args.join(" ")}`);
          assert.equal(r.stdout, "");
        }
        assert.deepEqual(fs.readdirSync(dir), [], "a refused call wrote a file");
        // Past the checks, the modes go on to their environment (here missing: nothing contacted).
        assert.match(script(name, [], dir).stderr, /parameter not set/);
        assert.match(script(name, ["backup"], dir).stderr, /parameter not set/);
        assert.match(script(name, ["drill"], dir).stderr, /parameter not set/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const name of ["postgres.sh", "mongodb.sh"]) {
    it(`${name}: backup (no argument) or drill, nothing else`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-backup-modes-"));
      try {
        const r = script(name, ["bogus"], dir);
        assert.equal(r.status, 2);
        assert.equal(r.stderr, `usage: sh ${name} [backup | drill]\n`);
        for (const mode of [[], ["drill"]]) assert.match(script(name, mode, dir).stderr, /parameter not set/);
        assert.deepEqual(fs.readdirSync(dir), [], "a refused call wrote a file");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("offsite.sh: refuses a wrong mode or arity and a retention that is not a number of days", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-backup-modes-"));
    try {
      for (const args of [
        [],
        ["bogus"],
        ["upload"],
        ["fetch", "x"],
        ["prune", "-1"],
        ["prune", "7d"],
        ["list", "x"],
        ["latest", "*.rdb"],
      ]) {
        const r = script("offsite.sh", args, dir);
        assert.equal(r.status, 2, `offsite.sh ${args.join(" ")}: ${r.stderr}`);
        assert.equal(
          r.stderr,
          "usage: sh offsite.sh upload FILE | fetch NAME OUT | latest PATTERN DIR | prune DAYS | list | sync DIR DAYS\n",
        );
      }
      assert.deepEqual(fs.readdirSync(dir), [], "a refused call wrote a file");
      // Past the checks it goes on to its settings (here missing: nothing contacted).
      assert.match(script("offsite.sh", ["prune", "14"], dir).stderr, /S3_ENDPOINT is not set/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("weaviate.sh restore: checks the backup id and class names before calling Weaviate", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-backup-modes-"));
    try {
      const id = script("weaviate.sh", ["restore", "Bad-Id"], dir);
      assert.equal(id.status, 2);
      assert.equal(
        id.stderr,
        "weaviate restore: invalid backup id 'Bad-Id' (lower-case letters, digits, _ and - only)\n",
      );
      const cls = script("weaviate.sh", ["restore", "ai-platform-1", "Good", "bad"], dir);
      assert.equal(cls.status, 2);
      assert.equal(
        cls.stderr,
        "weaviate restore: invalid class name 'bad' (a capital letter, then letters, digits, _)\n",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("redis.sh restore and kafka.sh restore: refuse a file that is not their backup", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-backup-modes-"));
    try {
      const file = path.join(dir, "not-a-backup");
      fs.writeFileSync(file, "hello\n");
      const redis = script("redis.sh", ["restore", file, path.join(dir, "data")], dir);
      assert.equal(redis.status, 2);
      assert.equal(redis.stderr, `redis restore: '${file}' is not a readable RDB file\n`);
      assert.ok(!fs.existsSync(path.join(dir, "data")), "the data directory was made for a bad file");
      const kafka = script("kafka.sh", ["restore", "--dry-run", file], dir);
      assert.equal(kafka.status, 2);
      assert.equal(
        kafka.stderr,
        `kafka restore: '${file}' is not a complete backup of kafka.sh (no kafka-configs.sh section)\n`,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
