/**
 * The `local` stack as a new user runs it (scripts/local.sh, `npm run local:up|local:down`), in a run folder
 * of its own:
 *   1. `local:up` deploys the stack and initialises the servers through port-forwards: the outputs and the
 *      initialisation log are printed, every object is on the servers, no password is in the output.
 *   2. `local:up` again finds no change and applies nothing.
 *   3. `local:down` destroys the stack and keeps the data (namespace, volume claims, database, topics).
 *   4. `local:down --purge` removes that data and the run folder.
 * It shares the cluster-shaped servers' namespace with the helm-mode e2e, which runs before it.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { requireServer } from "../support/servers";
import { aclOnEveryNode, clusterTopic, requireCluster } from "./cluster";
import { engineBin, ROOT, timing } from "./harness";
import { until } from "../support/wait";
import { Kube } from "./kube";
import { missingPodReferences } from "./pod-references";

interface LocalConfig {
  namespace: string;
  database: string;
  appUser: string;
  collections: string[];
  classes: string[];
  topics: string[];
  aclUser: string;
}

function localConfig(): LocalConfig {
  const c = (
    parse(fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, never> }
  ).config;
  const get = (k: string) => c[`ai-platform-data:${k}`] as Record<string, never>;
  const names = (list: { name: string }[]) => list.map((x) => x.name);
  return {
    namespace: c["ai-platform-data:namespace"],
    database: get("postgres").database,
    appUser: get("postgres").appUser,
    collections: names(get("mongodb").collections),
    classes: names(get("weaviate").classes),
    topics: names(get("kafka").topics),
    aclUser: names(get("redis").aclUsers)[0],
  };
}

test("local stack: up, up again without change, down keeps the data, down --purge removes it", async (t) => {
  const pg = await requireServer(t, "postgres");
  const mongo = await requireServer(t, "mongodb");
  const weaviate = await requireServer(t, "weaviate");
  const cluster = pg && mongo && weaviate ? await requireCluster(t) : undefined;
  const kubeSvc = cluster ? await requireServer(t, "kube") : undefined;
  if (!pg || !mongo || !weaviate || !cluster || !kubeSvc || !engineBin(t)) return;
  const kube = new Kube(kubeSvc);
  const cfg = localConfig();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-local-"));
  const env: NodeJS.ProcessEnv = { ...process.env, AIPD_LOCAL: path.join(dir, "local") };
  const local = (...args: string[]) => {
    const started = Date.now();
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "local.sh"), ...args], {
      cwd: ROOT,
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 25 * 60 * 1000,
    });
    timing(`local-${args.join("-")}`, Date.now() - started);
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    assert.equal(r.status, 0, `local.sh ${args.join(" ")} exited ${r.status}:\n${out.slice(-8000)}`);
    return out;
  };
  let known: string[] | undefined;
  /** Every password in play; read once, before purge removes the run folder that keeps some of them. */
  const secrets = (): string[] => {
    if (known) return known;
    const made = JSON.parse(fs.readFileSync(path.join(dir, "local", "passwords.json"), "utf8"));
    return (known = [
      pg.password,
      mongo.password,
      weaviate.apiKey,
      cluster.kafka.password,
      cluster.redis.password,
      ...Object.values(made),
    ] as string[]);
  };
  const noSecretIn = (out: string) => {
    for (const s of secrets()) assert.ok(!out.includes(s), "a password is printed in clear");
  };
  const pgDatabaseExists = async (): Promise<boolean> => {
    const { Client } = require("pg");
    const c = new Client({
      host: pg.host,
      port: pg.port,
      user: pg.user,
      password: pg.password,
      database: "postgres",
    });
    await c.connect();
    try {
      return (await c.query("select 1 from pg_database where datname = $1", [cfg.database])).rowCount === 1;
    } finally {
      await c.end();
    }
  };
  const namespaceClaims = () =>
    kube.list("persistentvolumeclaims", cfg.namespace).map((p) => p.metadata.name as string);

  // The helm-mode e2e leaves this namespace with its kept claims (by design), and an earlier run may have
  // left objects on the servers: start from none, with the purge `local:down --purge` runs.
  const purge = spawnSync("node", ["--import", "tsx", path.join(ROOT, "scripts", "local", "purge.ts")], {
    cwd: ROOT,
    env: { ...env, PATH: `${path.dirname(kube.kubectl)}:${process.env.PATH}` },
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.equal(purge.status, 0, `purge of an earlier run failed:\n${purge.stdout}${purge.stderr}`);

  try {
    await t.test(
      "1. local:up deploys, initialises through port-forwards and prints outputs and the log",
      async () => {
        const out = local("up");
        noSecretIn(out);
        assert.match(out, /real: {6}Pulumi engine/, "the output does not say what is real");
        assert.match(out, /simulated: pods \(kwok/, "the output does not say what is simulated");
        assert.match(
          out,
          /local: charts: the pinned charts as published, from \S+/,
          "the output does not say which charts it used (CI gives the published ones)",
        );
        // The published charts' own objects, which no stand-in rendered: Redis's start scripts, and
        // every pod names only objects that exist (a real kubelet would refuse it otherwise).
        assert.ok(kube.get("configmap", "redis-scripts", cfg.namespace), "not the published redis chart");
        assert.deepEqual(
          missingPodReferences(kube, cfg.namespace),
          [],
          "pods name objects that do not exist",
        );
        assert.match(out, /local: stack outputs/);
        assert.match(
          out,
          new RegExp(`"postgres": "postgresql\\.${cfg.namespace}\\.svc`),
          "no endpoints output",
        );
        for (const step of [
          "postgresSchema",
          "mongodbCollections",
          "weaviateClasses",
          "redisAclUsers",
          "kafkaTopics",
          "kafkaScramUsers",
        ])
          assert.match(
            out,
            new RegExp(`^  ${step}: `, "m"),
            `no initialisation log of ${step}:\n${out.slice(-4000)}`,
          );
        // The objects, read on the servers themselves.
        const { Client } = require("pg");
        const made = JSON.parse(fs.readFileSync(path.join(dir, "local", "passwords.json"), "utf8"));
        const app = new Client({
          host: pg.host,
          port: pg.port,
          user: cfg.appUser,
          password: made.postgresApp,
          database: cfg.database,
        });
        await app.connect();
        const ext = await app.query("select extname from pg_extension where extname = 'vector'");
        await app.end();
        assert.equal(ext.rowCount, 1, "pgvector is not in the application database");
        const { MongoClient } = require("mongodb");
        const m = new MongoClient(mongo.uri, { directConnection: true });
        await m.connect();
        const colls = (await m.db(cfg.database).listCollections().toArray()).map(
          (c: { name: string }) => c.name,
        );
        await m.close();
        for (const c of cfg.collections) assert.ok(colls.includes(c), `collection ${c} missing: ${colls}`);
        const schema = (await (
          await fetch(`${weaviate.scheme}://${weaviate.host}:${weaviate.port}/v1/schema`, {
            headers: { authorization: `Bearer ${weaviate.apiKey}` },
          })
        ).json()) as { classes: { class: string }[] };
        for (const c of cfg.classes)
          assert.ok(
            schema.classes.some((x) => x.class === c),
            `class ${c} missing`,
          );
        for (const topic of cfg.topics) {
          const seen = await clusterTopic(cluster, topic);
          assert.ok(seen, `topic ${topic} missing`);
          assert.deepEqual(
            seen.brokers.length,
            cluster.kafka.brokers.length,
            "a broker is missing from the cluster",
          );
        }
        for (const [pod, acl] of Object.entries(aclOnEveryNode(cluster, cfg.aclUser)))
          assert.ok(acl, `ACL user ${cfg.aclUser} missing on ${pod}`);
        assert.ok(namespaceClaims().length > 0, "no volume claim in the namespace");
      },
    );

    await t.test("2. local:up again finds no change and applies nothing", () => {
      const out = local("up");
      noSecretIn(out);
      assert.match(out, /no change: the stack is as configured, nothing applied/, out.slice(-4000));
      assert.doesNotMatch(out, /pulumi up -s local/);
    });

    await t.test("3. local:down destroys the stack and keeps the data", async () => {
      const claims = namespaceClaims();
      const out = local("down");
      noSecretIn(out);
      assert.match(out, /pulumi destroy -s local \(the data is kept\)/);
      assert.ok(kube.get("namespace", cfg.namespace), "the namespace was deleted");
      assert.deepEqual(namespaceClaims().sort(), claims.sort(), "volume claims were deleted");
      assert.ok(await pgDatabaseExists(), "the database was dropped");
      for (const topic of cfg.topics)
        assert.ok(await clusterTopic(cluster, topic), `topic ${topic} was deleted`);
    });

    await t.test("4. local:down --purge removes the kept data and the run folder", async () => {
      // After step 3 the stack is empty and the data kept: purge finds exactly what a user's down leaves.
      const out = local("down", "--purge");
      noSecretIn(out);
      assert.equal(kube.get("namespace", cfg.namespace), undefined, "the namespace is still there");
      assert.equal(await pgDatabaseExists(), false, "the database is still there");
      // Each broker drops a deleted topic from its metadata a moment after the others: wait for all.
      for (const topic of cfg.topics)
        await until(`topic ${topic} gone from every broker`, async () =>
          (await clusterTopic(cluster, topic).catch((e: { type?: string }) => {
            if (e.type === "UNKNOWN_TOPIC_OR_PARTITION") return "being deleted";
            throw e;
          })) === undefined
            ? true
            : undefined,
        );
      assert.equal(fs.existsSync(path.join(dir, "local")), false, "the run folder is still there");
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
