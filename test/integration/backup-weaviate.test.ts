/**
 * Weaviate backup round trip against the real Weaviate 1.22 (API-key auth, backup-filesystem) of
 * scripts/services.sh. The backup is the CronJob of components/weaviate.ts as the program declares it
 * (its command and its environment, read from a run of the dev stack under Pulumi mocks), run with
 * `/bin/sh -c` like the container does, the loopback Weaviate in place of the in-cluster one. Weaviate
 * writes the backup into its own BACKUP_FILESYSTEM_PATH; the job keeps a status record.
 * Restore, the README's way, with `components/backup/weaviate.sh restore`: into a fresh Weaviate (a second
 * weaviate-server of the services cache, empty data directory, the same backup path and node name), and
 * into the instance that made the backup after the class was deleted.
 * The drill runs with busybox's tools and curl alone, as in the job's curl image (when busybox is there).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { backupContainer, drillContainers, jobEnv, runDrill } from "../support/backup-job";
import { busyboxPath } from "../support/s3";
import { requireServer, Services } from "../support/servers";
import {
  backupFiles,
  Endpoint,
  near,
  nextSecond,
  rest,
  restoreScript,
  weaviateBinary,
  withFreshWeaviate,
} from "../support/weaviate-fixtures";

type Svc = Services["weaviate"];

const run = randomBytes(3).toString("hex").toUpperCase();
const className = `BakIt${run}`;
let cleanup: { svc: Svc; classes: string[]; backupIds: string[] } | undefined;

const vectors = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0.6, 0.8, 0, 0],
  [0, 0, 0.28, 0.96],
];
const objects = vectors.map((vector, i) => ({
  class: className,
  id: randomUUID(),
  properties: {
    title: `document ${i} ✓`,
    count: i * 10,
    tags: [`t${i}`, "all"],
    published: `2024-05-0${i + 1}T10:00:00Z`,
  },
  vector,
}));

/** The class and its objects (properties, vectors, timestamps) as `ep` holds them. */
async function snapshot(ep: Endpoint) {
  const schema = await rest(ep, "GET", `/v1/schema/${className}`);
  assert.equal(schema.status, 200, JSON.stringify(schema.json));
  const list = await rest(ep, "GET", `/v1/objects?class=${className}&include=vector&limit=100`);
  assert.equal(list.status, 200, JSON.stringify(list.json));
  const objs = (list.json.objects as Record<string, unknown>[])
    .map((o) => ({
      id: o.id,
      properties: o.properties,
      vector: o.vector,
      creationTimeUnix: o.creationTimeUnix,
      lastUpdateTimeUnix: o.lastUpdateTimeUnix,
    }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  return { schema: schema.json, objects: objs };
}

/** The id of the object nearest to `vector`. */
async function nearest(ep: Endpoint, vector: number[]): Promise<string> {
  const ids = await near(ep, vector, className);
  assert.equal(ids.length, 1, `nearVector ${JSON.stringify(vector)} found nothing`);
  return ids[0];
}

after(async () => {
  if (!cleanup) return;
  const { svc, classes, backupIds } = cleanup;
  const ep = { url: `${svc.scheme}://${svc.host}:${svc.port}`, apiKey: svc.apiKey };
  for (const cls of classes) await rest(ep, "DELETE", `/v1/schema/${cls}`);
  for (const id of backupIds) fs.rmSync(path.join(svc.backupPath, id), { recursive: true, force: true });
});

describe("Weaviate backup round trip (components/backup/weaviate.sh, README restore with weaviate.sh restore)", () => {
  it("backs up with the CronJob's command, restores into a fresh Weaviate and after the class was lost", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const bin = weaviateBinary(t);
    if (!bin) return;
    const job = backupContainer("weaviate");
    const ep = { url: `${svc.scheme}://${svc.host}:${svc.port}`, apiKey: svc.apiKey };
    cleanup ??= { svc, classes: [], backupIds: [] };
    cleanup.classes.push(className);
    const created = await rest(ep, "POST", "/v1/schema", {
      class: className,
      vectorizer: "none",
      vectorIndexConfig: { distance: "cosine" },
      properties: [
        { name: "title", dataType: ["text"] },
        { name: "count", dataType: ["int"] },
        { name: "tags", dataType: ["text[]"] },
        { name: "published", dataType: ["date"] },
      ],
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const batch = await rest(ep, "POST", "/v1/batch/objects", { objects });
    assert.equal(batch.status, 200, JSON.stringify(batch.json));
    assert.ok(
      (batch.json as { result: { errors?: unknown } }[]).every((o) => !o.result.errors),
      JSON.stringify(batch.json),
    );
    const original = await snapshot(ep);
    assert.equal(original.objects.length, objects.length);
    // Weaviate 1.22 leaves the vector index out of a backup taken in the second its commit log started
    // (see the last test): a CronJob does not run a second after a class is made; this test must not.
    await nextSecond();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-weaviate-backup-"));
    try {
      const records = path.join(dir, "backup");
      fs.mkdirSync(records);
      const old = path.join(records, "weaviate-ai-platform-20000101-000000.json");
      const monthAgo = new Date(Date.now() - 30 * 86400_000);
      fs.writeFileSync(old, "{}");
      fs.utimesSync(old, monthAgo, monthAgo);
      // The CronJob's environment (components/weaviate.ts) with this machine's Weaviate; polling every
      // second instead of five.
      const env = jobEnv(
        job,
        { WEAVIATE_URL: ep.url, WEAVIATE_API_KEY: svc.apiKey, BACKUP_DIR: records },
        { BACKUP_POLL_SECONDS: "1" },
      );
      const r = spawnSync(job.command[0], job.command.slice(1), { env, encoding: "utf8", timeout: 180_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(svc.apiKey), "no API key in the output");
      const m = r.stdout.match(
        /^backup written: weaviate (ai-platform-\d{8}-\d{6}) at (.+) \(record (.+)\)$/m,
      );
      assert.ok(m, r.stdout);
      const id = m[1];
      cleanup.backupIds.push(id);
      assert.equal(m[2], path.join(svc.backupPath, id));
      assert.equal(m[3], path.join(records, `weaviate-${id}.json`));
      assert.deepEqual(JSON.parse(fs.readFileSync(m[3], "utf8")), {
        backend: "filesystem",
        id,
        path: path.join(svc.backupPath, id),
        status: "SUCCESS",
      });
      assert.deepEqual(fs.readdirSync(records), [`weaviate-${id}.json`], "the old record was pruned");
      // The backup itself, on Weaviate's volume: one directory per node.
      const nodes = fs
        .readdirSync(path.join(svc.backupPath, id), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
      assert.equal(nodes.length, 1, nodes.join(", "));
      assert.ok(
        backupFiles(svc.backupPath, id, className).some((f) => f.includes(".hnsw.commitlog.d/")),
        "the class and its vector index are in the backup",
      );

      // The restore drill as the CronJob declares it, with the applications' read-only key: the newest
      // record's backup is SUCCESS for Weaviate and its files are on the claim beside the records (here a
      // folder holding both, as the claim does).
      const { drill } = drillContainers("weaviate");
      const claim = path.join(dir, "claim");
      fs.cpSync(records, claim, { recursive: true });
      fs.cpSync(path.join(svc.backupPath, id), path.join(claim, id), { recursive: true });
      const local = { WEAVIATE_URL: ep.url, WEAVIATE_API_KEY: svc.appApiKey, DRILL_DIR: claim };
      // With the curl image's tools: busybox's sh, find, du, sed and curl.
      const bb = busyboxPath(path.join(dir, "busybox-bin"));
      assert.ok(bb || process.env.CI !== "true", "busybox is not installed (scripts/services.sh install)");
      const passed = runDrill(drill, local, { onlyPath: bb });
      assert.equal(passed.status, 0, `${passed.out}${passed.err}`);
      assert.match(
        passed.out,
        new RegExp(
          `^drill passed: weaviate backup ${id} \\(filesystem, .+\\): SUCCESS, \\d+ files on 1 node\\(s\\), \\d+ KiB$`,
          "m",
        ),
      );
      assert.ok(!`${passed.out}${passed.err}`.includes(svc.appApiKey));
      // A newer record of a backup Weaviate does not know fails it.
      const unknown = `ai-platform-29991231-000000`;
      fs.writeFileSync(
        path.join(claim, `weaviate-${unknown}.json`),
        JSON.stringify({ id: unknown, status: "SUCCESS" }),
      );
      const failed = runDrill(drill, local);
      assert.equal(failed.status, 1, failed.out);
      assert.match(
        failed.err,
        new RegExp(`^drill failed: weaviate: backup ${unknown} on filesystem: HTTP 404`, "m"),
      );

      // README, a fresh instance: an empty Weaviate reading the same backup path, `weaviate.sh restore`.
      await withFreshWeaviate(bin, dir, svc.backupPath, nodes[0], async (fresh) => {
        assert.deepEqual((await rest(fresh, "GET", "/v1/schema")).json, { classes: [] });
        const res = restoreScript(fresh, [id, className]);
        assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
        assert.equal(
          res.stdout,
          `weaviate restore of ${id} started: ${className}\nweaviate restore of ${id} done: ${className}\n`,
        );
        assert.ok(!`${res.stdout}${res.stderr}`.includes(fresh.apiKey));
        assert.deepEqual(
          ((await rest(fresh, "GET", "/v1/schema")).json.classes as { class: string }[]).map((c) => c.class),
          [className],
        );
        assert.deepEqual(await snapshot(fresh), original);
        for (const o of objects) assert.equal(await nearest(fresh, o.vector), o.id);
      });

      // README, the same instance: Weaviate restores only a missing class...
      const refused = restoreScript(ep, [id, className]);
      assert.equal(refused.status, 1);
      assert.match(
        refused.stderr,
        new RegExp(`^weaviate restore of ${id} failed: restore class ${className}: already exists$`, "m"),
      );
      assert.match(refused.stderr, /delete the class first, or restore into a fresh instance/);
      // ...so once it is lost (deleted), it comes back.
      assert.equal((await rest(ep, "DELETE", `/v1/schema/${className}`)).status, 200);
      assert.equal((await rest(ep, "GET", `/v1/schema/${className}`)).status, 404);
      const res = restoreScript(ep, [id, className]);
      assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
      assert.ok(!`${res.stdout}${res.stderr}`.includes(svc.apiKey));
      assert.deepEqual(await snapshot(ep), original);
      for (const o of objects) assert.equal(await nearest(ep, o.vector), o.id);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly, without the key in its output, on a wrong key or an unknown backup", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const job = backupContainer("weaviate");
    const url = `${svc.scheme}://${svc.host}:${svc.port}`;
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-weaviate-backup-"));
    try {
      const env = jobEnv(job, { WEAVIATE_URL: url, WEAVIATE_API_KEY: wrong, BACKUP_DIR: dir });
      const r = spawnSync(job.command[0], job.command.slice(1), { env, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^weaviate backup ai-platform-\d{8}-\d{6} not started: HTTP 401 /);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong));
      assert.deepEqual(fs.readdirSync(dir), []);

      const denied = restoreScript({ url, apiKey: wrong }, [`ai-platform-it-${run.toLowerCase()}`]);
      assert.equal(denied.status, 1);
      assert.match(denied.stderr, /^weaviate restore of ai-platform-it-\w+ not started: HTTP 401 /);
      assert.ok(!`${denied.stdout}${denied.stderr}`.includes(wrong));
      const unknown = restoreScript({ url, apiKey: svc.apiKey }, [`ai-platform-it-${run.toLowerCase()}`]);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /not started: HTTP \d+ .*does not exist/);
      const invalid = restoreScript({ url, apiKey: svc.apiKey }, ["Bad-Id"]);
      assert.equal(invalid.status, 2);
      assert.match(invalid.stderr, /invalid backup id 'Bad-Id'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it("Weaviate 1.22 limitation: a backup in the second the vector index's log began leaves the index out", async (t) => {
    // Fixed upstream by weaviate/weaviate PR #12584 (2026): HNSW commit logs are named after the Unix
    // second they start in. A backup switches to a new log and takes every log but the active one; when
    // the switch falls in the second the current log began, the "new" log is that same file, which stays
    // active and is left out. Status SUCCESS, objects restored, vector search finds nothing. This test
    // fails, and says so, once the pinned Weaviate names its logs uniquely.
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const ep = { url: `${svc.scheme}://${svc.host}:${svc.port}`, apiKey: svc.apiKey };
    cleanup ??= { svc, classes: [], backupIds: [] };
    let reproduced = false;
    for (let attempt = 0; attempt < 10 && !reproduced; attempt++) {
      const cls = `${className}Same${attempt}`;
      const id = `ai-platform-it-${run.toLowerCase()}-same${attempt}`;
      cleanup.classes.push(cls);
      cleanup.backupIds.push(id);
      await nextSecond();
      assert.equal((await rest(ep, "POST", "/v1/schema", { class: cls, vectorizer: "none" })).status, 200);
      const obj = { class: cls, id: randomUUID(), properties: {}, vector: [1, 0, 0, 0] };
      assert.equal((await rest(ep, "POST", "/v1/batch/objects", { objects: [obj] })).status, 200);
      assert.equal((await rest(ep, "POST", "/v1/backups/filesystem", { id, include: [cls] })).status, 200);
      for (let i = 0; ; i++) {
        const st = await rest(ep, "GET", `/v1/backups/filesystem/${id}`);
        if (st.json.status === "SUCCESS") break;
        assert.ok(i < 300 && st.json.status !== "FAILED", JSON.stringify(st.json));
        await new Promise((r) => setTimeout(r, 100));
      }
      // The switch fell in a later second (a slow machine): the index is in the backup, try again.
      if (backupFiles(svc.backupPath, id, cls).some((f) => f.includes(".hnsw.commitlog.d/"))) continue;
      assert.equal((await rest(ep, "DELETE", `/v1/schema/${cls}`)).status, 200);
      const res = restoreScript(ep, [id, cls]);
      assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
      const list = await rest(ep, "GET", `/v1/objects?class=${cls}&limit=10`);
      assert.deepEqual(
        (list.json.objects as { id: string }[]).map((o) => o.id),
        [obj.id],
        "the object is back",
      );
      assert.deepEqual(await near(ep, obj.vector, cls), [], "but not in the vector index");
      reproduced = true;
    }
    assert.ok(
      reproduced,
      "every same-second backup held the vector index: the pinned Weaviate seems fixed (weaviate PR #12584); drop this test and nextSecond() in the first one",
    );
  });
});
