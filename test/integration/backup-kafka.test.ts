/**
 * Kafka backup round trip against the real KRaft broker (SASL SCRAM-SHA-512) of scripts/services.sh.
 * The backup is the CronJob of components/kafka.ts as the program declares it (its command and its
 * environment, read from a run of the dev stack under Pulumi mocks), run with `/bin/sh -c` like the
 * container does, the loopback broker in place of the in-cluster one. Its kafka-topics.sh and
 * kafka-configs.sh are the Kafka 3.6.2 jars of the services cache behind two small wrappers (the image's
 * bin/ scripts do the same: `kafka-run-class.sh kafka.admin.TopicCommand|ConfigCommand`).
 * A Kafka backup is the topic layout and the topic configs, not the messages. Restore, the README's
 * way: `components/backup/kafka.sh restore` re-creates the topics from the file. "A fresh cluster" here is
 * the same broker after the topics were deleted (a second KRaft cluster would prove nothing more about
 * the file); the single broker allows replication factor 1 only.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { KAFKA_OBSERVER_USER } from "../../components/kafka/values";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { KafkaAclsProvider, observerBindings } from "../../init/kafka-acls";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import { viaSerialization } from "../support/dynamic";
import { brokerLogin } from "../support/kafka-fixtures";
import { until } from "../support/wait";
import { ROOT } from "../support/program";
import { backupContainer, drillContainers, jobEnv, runDrill } from "../support/backup-job";
import { offsiteRoundTrip } from "../support/s3";
import { requireServer, Services, withKafkaAdmin } from "../support/servers";

const { Kafka, logLevel, ConfigResourceTypes } = require("kafkajs");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs admin from an untyped require
type Admin = any;
type Svc = Services["kafka"];

const run = randomBytes(3).toString("hex");
/** The CronJob's script, whose `restore` mode the README runs. */
const SCRIPT = path.join(BACKUP_SCRIPTS_DIR, "kafka.sh");
const created = new Set<string>();
let cleanupSvc: Svc | undefined;

/**
 * A directory with kafka-topics.sh and kafka-configs.sh running the services' Kafka jars, as the image's
 * scripts do (tool logging: warnings to stderr). Fails under CI=true when the jars are missing.
 */
function kafkaBin(t: TestContext, dir: string): string | undefined {
  const kafkaLib = fs.readFileSync(path.join(ROOT, "scripts", "lib", "kafka.sh"), "utf8");
  const version = kafkaLib.match(/^KAFKA_VERSION=(\S+)/m)![1];
  const cache = process.env.AIPD_CACHE ?? path.join(os.homedir(), ".cache", "ai-platform-data");
  const libs = path.join(cache, `kafka-${version}`, "libs");
  if (!fs.existsSync(path.join(libs, `kafka-clients-${version}.jar`))) {
    const reason = `no Kafka ${version} jars in ${libs}: run 'npm run services:start'`;
    if (process.env.CI === "true") throw new Error(reason);
    t.skip(reason);
    return undefined;
  }
  const bin = path.join(dir, "kafka-bin");
  fs.mkdirSync(bin);
  const log4j = path.join(bin, "tools-log4j.properties");
  fs.writeFileSync(
    log4j,
    [
      "log4j.rootLogger=WARN, stderr",
      "log4j.appender.stderr=org.apache.log4j.ConsoleAppender",
      "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout",
      "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n",
      "log4j.appender.stderr.Target=System.err",
      "",
    ].join("\n"),
  );
  for (const [tool, main] of [
    ["kafka-topics.sh", "kafka.admin.TopicCommand"],
    ["kafka-configs.sh", "kafka.admin.ConfigCommand"],
  ]) {
    fs.writeFileSync(
      path.join(bin, tool),
      `#!/bin/sh\nexec java -Xmx256m -Djava.awt.headless=true "-Dlog4j.configuration=file:${log4j}" -cp "${libs}/*" ${main} "$@"\n`,
      { mode: 0o755 },
    );
  }
  return bin;
}

const withAdmin = withKafkaAdmin;

/** The observer as the initialisers leave it: its SCRAM credential and exactly its read-only bindings. */
async function makeObserver(svc: Svc, name: string, password: string): Promise<void> {
  const users = (await viaSerialization(new KafkaScramUsersProvider())).provider;
  await users.create!({
    ...brokerLogin(svc),
    users: [{ name, mechanism: "SCRAM-SHA-512" }],
    userPasswords: { [name]: password },
    iterations: 4096,
    timeoutSeconds: 60,
  });
  const acls = (await viaSerialization(new KafkaAclsProvider())).provider;
  await acls.create!({
    ...brokerLogin(svc),
    users: [name],
    acls: observerBindings(name),
    timeoutSeconds: 60,
  });
}

/** What a topic backup must bring back: partitions, replication factor, topic-level configs; and what not. */
async function topicState(admin: Admin, name: string) {
  const meta = await admin.fetchTopicMetadata({ topics: [name] });
  const cfg = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name }],
  });
  const configs: Record<string, string> = {};
  for (const c of cfg.resources[0].configEntries)
    if (c.configSource === 1) configs[c.configName] = c.configValue;
  const partitions = meta.topics[0].partitions as { replicas: number[] }[];
  const offsets = (await admin.fetchTopicOffsets(name)) as { high: string }[];
  return {
    partitions: partitions.length,
    replicationFactor: partitions[0].replicas.length,
    configs,
    messages: offsets.reduce((n, o) => n + Number(o.high), 0),
  };
}

async function waitUntilGone(admin: Admin, names: string[]) {
  for (let i = 0; i < 100; i++) {
    const left = ((await admin.listTopics()) as string[]).filter((n) => names.includes(n));
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`topics not deleted: ${names.join(", ")}`);
}

/** A topic of the backup: replication factor 1, its topic-level configs as the admin API takes them. */
const topic = (suffix: string, numPartitions: number, configs: Record<string, string> = {}) => ({
  topic: `aipd-bak-${run}-${suffix}`,
  numPartitions,
  replicationFactor: 1,
  configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
});
const topics = [
  topic("events", 3, {
    "cleanup.policy": "compact,delete",
    "retention.ms": "3600000",
    // Equal to the broker's own setting: still a topic-level config, so it must come back as one.
    "min.insync.replicas": "1",
    "max.message.bytes": "2097152",
  }),
  topic("logs", 2, {
    "retention.bytes": "1048576",
    "segment.ms": "600000",
    "message.timestamp.type": "LogAppendTime",
  }),
  topic("plain", 1),
];
const names = topics.map((t) => t.topic);

after(async () => {
  if (!cleanupSvc || created.size === 0) return;
  await withAdmin(cleanupSvc, async (admin) => {
    const left = ((await admin.listTopics()) as string[]).filter((n) => created.has(n));
    if (left.length) await admin.deleteTopics({ topics: left });
  });
});

/**
 * Runs `fn` with the test broker, the backup CronJob's container and the Kafka tools in a scratch
 * directory (removed after); nothing when the broker or the tools are missing (a skip, or a failure
 * under CI=true).
 */
async function withBackupKit(
  t: TestContext,
  fn: (kit: {
    svc: Services["kafka"];
    s3: Services["s3"];
    job: ReturnType<typeof backupContainer>;
    dir: string;
    bin: string;
  }) => Promise<void>,
): Promise<void> {
  const svc = await requireServer(t, "kafka");
  const s3 = await requireServer(t, "s3");
  if (!svc || !s3) return;
  const job = backupContainer("kafka");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-kafka-backup-"));
  try {
    const bin = kafkaBin(t, dir);
    if (!bin) return;
    await fn({ svc, s3, job, dir, bin });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("Kafka backup round trip (components/backup/kafka.sh, README restore with kafka.sh restore)", () => {
  it("describes the topics with the CronJob's command, prunes, re-creates them from the file", (t) =>
    withBackupKit(t, async ({ svc, s3, job, dir, bin }) => {
      cleanupSvc = svc;
      names.forEach((n) => created.add(n));
      const before = await withAdmin(svc, async (admin) => {
        assert.equal(await admin.createTopics({ topics, waitForLeaders: true }), true);
        // A message: not part of a Kafka backup, so not there after the restore.
        const producer = new Kafka({
          clientId: "backup-test",
          brokers: svc.brokers,
          sasl: { mechanism: svc.mechanism, username: svc.username, password: svc.password },
          logLevel: logLevel.NOTHING,
        }).producer();
        await producer.connect();
        await producer.send({ topic: names[0], messages: [{ key: "k", value: "v" }] });
        await producer.disconnect();
        return Promise.all(names.map((n) => topicState(admin, n)));
      });
      assert.equal(before[0].messages, 1);
      assert.deepEqual(
        before.map((s) => s.configs),
        topics.map((tp) => Object.fromEntries(tp.configEntries.map((e) => [e.name, e.value]))),
      );

      const backups = path.join(dir, "backup");
      fs.mkdirSync(backups);
      const old = path.join(backups, "kafka-topics-20000101T000000Z.txt");
      const other = path.join(backups, "notes.txt");
      const monthAgo = new Date(Date.now() - 30 * 86400_000);
      for (const f of [old, other]) {
        fs.writeFileSync(f, "old");
        fs.utimesSync(f, monthAgo, monthAgo);
      }
      // The CronJob logs in as the read-only observer, which the initialisers create with its bindings
      // (observerBindings): the same here, with a password of this run.
      const observer = job.env.find((e) => e.name === "KAFKA_USER")?.value;
      assert.equal(observer, KAFKA_OBSERVER_USER);
      const observerPassword = randomBytes(16).toString("hex");
      await makeObserver(svc, observer, observerPassword);
      // The CronJob's environment (components/kafka.ts) with this machine's broker; KAFKA_BIN because the
      // image's /opt/bitnami/kafka/bin is not here.
      const env = jobEnv(
        job,
        { KAFKA_BOOTSTRAP: svc.brokers.join(","), KAFKA_PASSWORD: observerPassword, BACKUP_DIR: backups },
        { KAFKA_BIN: bin },
      );
      // New SCRAM credentials and ACLs reach the broker's authorizer a moment after they are written.
      let last = "";
      const r = await until(
        "the backup as the observer",
        async () => {
          const attempt = spawnSync(job.command[0], job.command.slice(1), {
            env,
            encoding: "utf8",
            timeout: 120_000,
          });
          last = attempt.stderr;
          return attempt.status === 0 ? attempt : undefined;
        },
        120_000,
      ).catch((e: Error) => assert.fail(`${e.message}: ${last}`));
      assert.ok(!`${r.stdout}${r.stderr}`.includes(observerPassword), "no password in the output");
      const m = r.stdout.match(
        /^backup written: (.+\/kafka-topics-\d{8}T\d{6}Z\.txt) \((\d+) topics, (\d+) bytes\)$/m,
      );
      assert.ok(m, r.stdout);
      const file = m[1];
      const text = fs.readFileSync(file, "utf8");
      assert.equal(Number(m[2]), (text.match(/^Topic: /gm) ?? []).length);
      for (const n of names) {
        assert.match(text, new RegExp(`^Topic: ${n}\\t`, "m"));
        assert.match(text, new RegExp(`^All configs for topic ${n} are:$`, "m"));
      }
      assert.ok(!text.includes(svc.password));
      const files = fs.readdirSync(backups).sort();
      assert.deepEqual(files, [path.basename(file), "notes.txt"], "the old backup was pruned, nothing else");
      // Off-site (backup.s3): the file restored below is the copy that came back from S3.
      assert.deepEqual(offsiteRoundTrip("kafka", s3, backups), files);

      // What the restore will do, read from the file alone (no broker contacted).
      const dry = spawnSync("sh", [SCRIPT, "restore", "--dry-run", file, ...names], { encoding: "utf8" });
      assert.equal(dry.status, 0, dry.stderr);
      assert.deepEqual(dry.stdout.trim().split("\n"), [
        `would create ${names[0]} (3 partitions, replication factor 1, configs: cleanup.policy=compact,delete max.message.bytes=2097152 min.insync.replicas=1 retention.ms=3600000)`,
        `would create ${names[1]} (2 partitions, replication factor 1, configs: message.timestamp.type=LogAppendTime retention.bytes=1048576 segment.ms=600000)`,
        `would create ${names[2]} (1 partitions, replication factor 1, configs: none)`,
        `kafka restore from ${file}: 3 to create, 0 already there, 0 internal skipped, 0 failed`,
      ]);

      // The topics are lost...
      await withAdmin(svc, async (admin) => {
        await admin.deleteTopics({ topics: names });
        await waitUntilGone(admin, names);
      });
      // The observer may not re-create them (README: a restore needs the admin's login)...
      const refused = spawnSync("sh", [SCRIPT, "restore", file, names[2]], {
        env,
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.notEqual(refused.status, 0, refused.stdout);
      assert.match(
        `${refused.stdout}${refused.stderr}`,
        /Authorization failed|not authorized|AuthorizationException/i,
      );
      // ...README: `kafka.sh restore` with the backup job's environment and the admin's login does.
      const adminEnv = { ...env, KAFKA_USER: svc.username, KAFKA_PASSWORD: svc.password };
      const restore = spawnSync("sh", [SCRIPT, "restore", file, ...names], {
        env: adminEnv,
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(restore.status, 0, `${restore.stdout}${restore.stderr}`);
      assert.ok(!`${restore.stdout}${restore.stderr}`.includes(svc.password), "no password in the output");
      assert.deepEqual(
        restore.stdout.trim().split("\n"),
        dry.stdout
          .trim()
          .split("\n")
          .map((l) => l.replace(/^would create/, "created").replace(/3 to create/, "3 created")),
      );
      const back = await withAdmin(svc, (admin) => Promise.all(names.map((n) => topicState(admin, n))));
      assert.deepEqual(
        back,
        before.map((s) => ({ ...s, messages: 0 })),
        "partitions, replication factor and topic configs came back; messages are not in a Kafka backup",
      );

      // A re-run leaves existing topics alone; a topic the file does not hold is an error.
      const again = spawnSync("sh", [SCRIPT, "restore", file, ...names], {
        env: adminEnv,
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(again.status, 0, again.stderr);
      assert.deepEqual(again.stdout.trim().split("\n"), [
        ...names.map((n) => `exists, left as it is: ${n}`),
        `kafka restore from ${file}: 0 created, 3 already there, 0 internal skipped, 0 failed`,
      ]);
      const missing = spawnSync(
        "sh",
        [SCRIPT, "restore", "--dry-run", file, names[0], `aipd-bak-${run}-nope`],
        {
          encoding: "utf8",
        },
      );
      assert.equal(missing.status, 1);
      assert.equal(missing.stderr, `kafka restore: not in the backup file: aipd-bak-${run}-nope\n`);

      // The restore drill as the CronJob declares it: the newest file read as a restore reads it, every
      // topic with its layout and configs section; no broker contacted.
      const { drill } = drillContainers("kafka");
      const passed = runDrill(drill, { DRILL_DIR: backups });
      assert.equal(passed.status, 0, `${passed.out}${passed.err}`);
      const line = new RegExp(
        `^drill passed: kafka ${path.basename(file)} \\(\\d+ bytes\\): \\d+ topics, \\d+ topic configs: .*`,
        "m",
      );
      assert.match(passed.out, line);
      for (const [i, n] of names.entries()) {
        assert.match(passed.out, new RegExp(`\\b${n}=${topics[i].numPartitions}x1\\b`));
      }
      // A file cut short (before its configs section), newer than the good one, fails the drill.
      const cut = path.join(backups, "kafka-topics-29991231T000000Z.txt");
      fs.writeFileSync(cut, text.slice(0, text.indexOf("# kafka-configs.sh")));
      const failed = runDrill(drill, { DRILL_DIR: backups });
      assert.equal(failed.status, 1, failed.out);
      assert.match(
        failed.err,
        /^drill failed: kafka: kafka-topics-29991231T000000Z\.txt has no kafka-configs\.sh section/m,
      );
      fs.rmSync(cut);

      // Internal topics are the brokers' business (a backup of a cluster with consumer groups has one).
      const withInternal = path.join(dir, "with-internal.txt");
      fs.writeFileSync(
        withInternal,
        text.replace(
          "# kafka-configs.sh",
          "Topic: __consumer_offsets\tTopicId: x\tPartitionCount: 50\tReplicationFactor: 1\tConfigs: cleanup.policy=compact\n# kafka-configs.sh",
        ),
      );
      const internal = spawnSync("sh", [SCRIPT, "restore", "--dry-run", withInternal, "__consumer_offsets"], {
        encoding: "utf8",
      });
      assert.equal(internal.status, 0, internal.stderr);
      assert.match(internal.stdout, /^skipped internal topic __consumer_offsets \(made by the brokers\)$/m);
    }));

  it("fails clearly, without the password in its output, on wrong credentials", (t) =>
    withBackupKit(t, async ({ svc, job, dir, bin }) => {
      const wrong = `wrong-${randomBytes(8).toString("hex")}`;
      const backups = path.join(dir, "backup");
      fs.mkdirSync(backups);
      const env = jobEnv(
        job,
        {
          KAFKA_BOOTSTRAP: svc.brokers.join(","),
          KAFKA_USER: svc.username,
          KAFKA_PASSWORD: wrong,
          BACKUP_DIR: backups,
        },
        { KAFKA_BIN: bin },
      );
      const r = spawnSync(job.command[0], job.command.slice(1), { env, encoding: "utf8", timeout: 120_000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /invalid credentials with SASL mechanism SCRAM-SHA-512/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong));
      assert.deepEqual(fs.readdirSync(backups), [], "no backup and no partial file left");

      const file = path.join(dir, "kafka-topics-20000101T000000Z.txt");
      fs.writeFileSync(
        file,
        `# kafka-topics.sh --describe\nTopic: aipd-bak-${run}-x\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n# kafka-configs.sh --describe --entity-type topics --all\nAll configs for topic aipd-bak-${run}-x are:\n`,
      );
      const restore = spawnSync("sh", [SCRIPT, "restore", file], { env, encoding: "utf8", timeout: 120_000 });
      assert.equal(restore.status, 1);
      assert.match(restore.stderr, /^kafka restore: cannot list the topics of 127\.0\.0\.1:\d+:$/m);
      assert.match(restore.stderr, /invalid credentials with SASL mechanism SCRAM-SHA-512/);
      assert.ok(!`${restore.stdout}${restore.stderr}`.includes(wrong));
    }));
});
