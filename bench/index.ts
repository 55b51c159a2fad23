/**
 * `npm run bench`: figures for the work the program does on every `pulumi preview`/`up` before it talks
 * to anything: config validation, the pure planners the initialisers run, the SCRAM salting of
 * kafka-scram-users, and a whole program evaluation
 * under mocks (time and peak memory of the child process); then the initialisers against the test
 * servers beside the raw clients (bench/servers.ts). Prints figures; asserts nothing.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { MongoCollectionConfig, parseConfig } from "../config";
import { planTopics, TopicSpec } from "../init/kafka";
import { saltedPassword } from "../init/kafka-users/spec";
import { collectionsFromConfig, planIndexes, ResolvedIndex } from "../init/mongodb";
import { projectDefaults, ROOT, stackConfig } from "../test/support/program";
import { benchServers } from "./servers";

function bench(name: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(50, iterations); i++) fn(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  const per = ns > 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} us`;
  console.log(`${name.padEnd(58)} ${per.padStart(10)} per op  (${iterations} ops)`);
}

const raw = (stack: string) =>
  Object.fromEntries(
    Object.entries(stackConfig(stack)).map(([k, v]) => [k.replace("ai-platform-data:", ""), v]),
  );

console.log("== pure work (in process)");
const prodRaw = raw("prod");
bench("parseConfig(prod stack)", 2000, () => parseConfig(prodRaw));

const manyTopics: TopicSpec[] = Array.from({ length: 1000 }, (_, i) => ({
  name: `topic-${i}`,
  partitions: 6,
  replicationFactor: 3,
  configs: { "retention.ms": "604800000", "cleanup.policy": "delete", "min.insync.replicas": "2" },
}));
const actualTopics = new Map(manyTopics.slice(0, 900).map((t) => [t.name, { ...t, partitions: 3 }]));
bench("planTopics(1000 desired, 900 on the cluster)", 200, () => planTopics(manyTopics, actualTopics));

const benchIndexes: MongoCollectionConfig["indexes"] = [
  { keys: { a: 1, b: -1 } },
  { keys: { ts: 1 }, expireAfterSeconds: 86400 },
  { keys: { k: 1 }, unique: true },
];
const collections = collectionsFromConfig(
  Array.from({ length: 200 }, (_, i) => ({ name: `c${i}`, indexes: benchIndexes })),
);
const actualIndexes = new Map<string, ResolvedIndex[]>(
  collections.map((c) => [c.name, [{ name: "_id_", keys: [["_id", 1]] }]]),
);
bench("planIndexes(200 collections x 3 indexes, none built)", 200, () =>
  planIndexes(collections, actualIndexes, []),
);

// Each run of kafka-scram-users salts every user's password once (PBKDF2, kafka.scramIterations).
const salt = Buffer.alloc(32, 7);
bench("saltedPassword(SCRAM-SHA-512, 8192 iterations)", 50, () =>
  saltedPassword("a-generated-password-of-32-chars", salt, 8192, "SCRAM-SHA-512"),
);

console.log("== whole program under Pulumi mocks (child process, as the unit tests run it)");
for (const stack of ["dev", "prod"]) {
  const runs = 3;
  let best = Infinity;
  let peakKiB = 0;
  let resources = 0;
  const config = { ...projectDefaults(), ...stackConfig(stack) };
  const asStrings = Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  for (let i = 0; i < runs; i++) {
    const start = Date.now();
    // GNU time's %M: the child's peak resident set size in KiB, on stderr's last line.
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "%M",
        process.execPath,
        "--import",
        "tsx",
        path.join(ROOT, "test", "support", "program-child.ts"),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, AIPD_STACK: stack, PULUMI_CONFIG: JSON.stringify(asStrings) },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    best = Math.min(best, Date.now() - start);
    peakKiB = Math.max(peakKiB, Number(r.stderr.trim().split("\n").pop()));
    resources = (JSON.parse(r.stdout) as { resources: unknown[] }).resources.length;
  }
  console.log(
    `${`evaluate ${stack} stack (${resources} resources)`.padEnd(58)} ${`${best} ms`.padStart(10)} best of ${runs}, peak RSS ${Math.round(peakKiB / 1024)} MiB`,
  );
}

benchServers().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
