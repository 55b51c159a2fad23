/**
 * Kafka's backup script (components/shared/backup-scripts/kafka.sh) outside Kubernetes, with stand-in
 * Kafka tools that print what they were given.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";

describe("Kafka backup script", () => {
  /** A fake Kafka bin directory: the tools print their arguments and the client properties they got. */
  function fakeKafkaBin(dir: string): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const tool = (topicLine: string) =>
      [
        "#!/bin/sh",
        topicLine,
        'echo "args: $*"',
        'while [ $# -gt 0 ]; do if [ "$1" = "--command-config" ]; then echo "props: $2"; cat "$2"; fi; shift; done',
        "",
      ].join("\n");
    fs.writeFileSync(
      path.join(bin, "kafka-topics.sh"),
      tool('printf "Topic: t1\\tTopicId: x\\n\\tTopic: t1\\tPartition: 0\\n"'),
      {
        mode: 0o755,
      },
    );
    fs.writeFileSync(path.join(bin, "kafka-configs.sh"), tool(":"), { mode: 0o755 });
    return bin;
  }

  function runScript(dir: string, extra: Record<string, string>) {
    return spawnSync("sh", [path.join(BACKUP_SCRIPTS_DIR, "kafka.sh")], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        BACKUP_DIR: path.join(dir, "out"),
        RETENTION_DAYS: "30",
        KAFKA_BIN: path.join(dir, "bin"),
        KAFKA_BOOTSTRAP: "localhost:19092",
        KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        KAFKA_USER: "admin",
        KAFKA_PASSWORD: 'p\\a"ss',
        ...extra,
      },
    });
  }

  it("writes a timestamped text file with both descriptions, outside Kubernetes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-backup-"));
    try {
      fakeKafkaBin(dir);
      const out = path.join(dir, "out");
      fs.mkdirSync(out);
      const old = path.join(out, "kafka-topics-20000101T000000Z.txt");
      fs.writeFileSync(old, "old");
      execFileSync("touch", ["-d", "40 days ago", old]);
      const keep = path.join(out, "kafka-topics-20000102T000000Z.txt");
      fs.writeFileSync(keep, "recent");

      const r = runScript(dir, {});
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^backup written: .*kafka-topics-\d{8}T\d{6}Z\.txt \(1 topics, \d+ bytes\)$/m);
      const files = fs.readdirSync(out).sort();
      assert.ok(!files.some((f) => f.endsWith(".partial")), "a .partial file was left behind");
      assert.ok(!fs.existsSync(old), "the 40-day-old backup was not pruned");
      assert.ok(fs.existsSync(keep), "a recent backup was pruned");
      const written = files.filter(
        (f) => /^kafka-topics-\d{8}T\d{6}Z\.txt$/.test(f) && f !== path.basename(keep),
      );
      assert.equal(written.length, 1);
      const text = fs.readFileSync(path.join(out, written[0]), "utf8");
      assert.match(text, /--bootstrap-server localhost:19092 --command-config \S+ --describe$/m);
      assert.match(text, /--describe --entity-type topics --all$/m);
      assert.match(text, /^security\.protocol=SASL_PLAINTEXT$/m);
      assert.match(text, /^sasl\.mechanism=SCRAM-SHA-512$/m);
      const jaas =
        /^sasl\.jaas\.config=org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule required username="admin" password="(.*)";$/m.exec(
          text,
        );
      assert.ok(jaas, "no SCRAM JAAS line");
      // Java properties, then the JAAS parser, each turn \x into x.
      const unescape = (s: string) => s.replace(/\\(.)/g, "$1");
      assert.equal(unescape(unescape(jaas[1])), 'p\\a"ss');
      // The properties file with the password is gone once the script ends.
      const props = /^props: (\S+)$/m.exec(text)![1];
      assert.ok(!fs.existsSync(props), "the client properties file was left behind");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails on an unknown mechanism without writing a backup", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-backup-"));
    try {
      fakeKafkaBin(dir);
      fs.mkdirSync(path.join(dir, "out"));
      const r = runScript(dir, { KAFKA_SASL_MECHANISM: "GSSAPI" });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /KAFKA_SASL_MECHANISM "GSSAPI" is not supported/);
      assert.deepEqual(fs.readdirSync(path.join(dir, "out")), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
