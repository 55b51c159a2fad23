/**
 * Weaviate with `backup.s3` (issue 23): the backup CronJob as the program declares it with backup.s3 (dev
 * stack under mocks) backs up through the backup-s3 module of the real Weaviate 1.22 of
 * scripts/services.sh into the S3 server (SeaweedFS), then its upload step puts the job's record beside
 * the backup. Restore, the README's way: `weaviate.sh restore` with WEAVIATE_BACKUP_BACKEND=s3 into a
 * fresh Weaviate that reads the same bucket, after the original instance is gone from the picture.
 * The bucket and path are the test server's (scripts/services/weaviate.sh), standing in for the
 * declared `<prefix>/weaviate`; that the release and the job agree on it is a unit test
 * (offsite-backup.test.ts).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { drillContainers, jobContainers, jobEnv, runDrill } from "../support/backup-job";
import { offsite, offsiteEnv, offsiteStack, runUploadStep } from "../support/s3";
import { requireServer } from "../support/servers";
import {
  near,
  nextSecond,
  rest,
  restoreScript,
  weaviateBinary,
  withFreshWeaviate,
} from "../support/weaviate-fixtures";

const run = randomBytes(3).toString("hex").toUpperCase();
const className = `BakS3${run}`;
let cleanup: (() => Promise<void>) | undefined;
after(async () => cleanup?.());

const objects = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
].map((vector, i) => ({ class: className, id: randomUUID(), properties: { title: `doc ${i}` }, vector }));

async function contents(ep: { url: string; apiKey: string }) {
  const list = await rest(ep, "GET", `/v1/objects?class=${className}&include=vector&limit=100`);
  assert.equal(list.status, 200, JSON.stringify(list.json));
  return (list.json.objects as { id: string; properties: unknown; vector: number[] }[])
    .map((o) => ({ id: o.id, properties: o.properties, vector: o.vector }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

describe("Weaviate backups in S3 (backup.s3: backup-s3 module, the job's upload step)", () => {
  it("backs up into the bucket with the CronJob's steps and restores into a fresh Weaviate from it", async (t) => {
    const svc = await requireServer(t, "weaviate");
    const s3 = await requireServer(t, "s3");
    if (!svc || !s3) return;
    const bin = weaviateBinary(t);
    if (!bin) return;
    const stack = offsiteStack();
    const { backup, offsite: upload } = jobContainers("weaviate", stack.overrides, stack.secrets);
    assert.ok(upload);
    const ep = { url: `${svc.scheme}://${svc.host}:${svc.port}`, apiKey: svc.apiKey };
    cleanup = async () => void (await rest(ep, "DELETE", `/v1/schema/${className}`));
    const created = await rest(ep, "POST", "/v1/schema", { class: className, vectorizer: "none" });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal((await rest(ep, "POST", "/v1/batch/objects", { objects })).status, 200);
    const original = await contents(ep);
    assert.equal(original.length, objects.length);
    // See backup-weaviate.test.ts: no backup in the second the vector index's log began.
    await nextSecond();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-weaviate-s3-"));
    try {
      const records = path.join(dir, "backup");
      fs.mkdirSync(records);
      const env = jobEnv(
        backup,
        { WEAVIATE_URL: ep.url, WEAVIATE_API_KEY: svc.apiKey, BACKUP_DIR: records },
        { BACKUP_POLL_SECONDS: "1" },
      );
      assert.equal(env.WEAVIATE_BACKUP_BACKEND, "s3");
      const r = spawnSync(backup.command[0], backup.command.slice(1), {
        env,
        encoding: "utf8",
        timeout: 180_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const m = r.stdout.match(
        /^backup written: weaviate (ai-platform-\d{8}-\d{6}) at (.+) \(record (.+)\)$/m,
      );
      assert.ok(m, r.stdout);
      const id = m[1];
      assert.equal(m[2], `s3://${svc.s3Bucket}/${svc.s3Path}/${id}`);
      assert.equal(JSON.parse(fs.readFileSync(m[3], "utf8")).backend, "s3");

      // The upload step: the record joins the backup under the same path.
      const up = runUploadStep(upload, s3, svc.s3Bucket, records, { S3_PREFIX: svc.s3Path });
      assert.equal(up.status, 0, up.err);
      assert.match(up.out, /offsite sync of .*: 1 new copy checked/);
      const listed = offsite(offsiteEnv(s3, svc.s3Bucket, svc.s3Path), "list");
      assert.equal(listed.status, 0, listed.err);
      const names = listed.out.split("\n").map((l) => l.split(" ")[0]);
      assert.ok(names.includes(`weaviate-${id}.json`), listed.out);
      assert.ok(
        names.some((n) => n.startsWith(`${id}/`) && n.endsWith("backup_config.json")),
        `Weaviate's own backup is in the bucket:\n${listed.out}`,
      );

      // The restore drill as the CronJob declares it with backup.s3: its fetch step brings the newest
      // record back from the bucket (checked), then the drill asks Weaviate, with the read-only key.
      const { fetch, drill } = drillContainers("weaviate", stack.overrides, stack.secrets);
      assert.ok(fetch);
      const fetched = path.join(dir, "fetched");
      const [fetchCmd, ...fetchArgs] = fetch.command;
      assert.deepEqual(fetchArgs.slice(3, 5), ["latest", "weaviate-*.json"]);
      const got = spawnSync(fetchCmd, [...fetchArgs.slice(0, -1), fetched], {
        env: jobEnv(fetch, {
          S3_ENDPOINT: s3.endpoint,
          S3_BUCKET: svc.s3Bucket,
          S3_PREFIX: svc.s3Path,
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        }),
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(got.status, 0, got.stderr);
      assert.deepEqual(fs.readdirSync(fetched), [`weaviate-${id}.json`]);
      const drilled = runDrill(drill, {
        WEAVIATE_URL: ep.url,
        WEAVIATE_API_KEY: svc.appApiKey,
        DRILL_DIR: fetched,
      });
      assert.equal(drilled.status, 0, `${drilled.out}${drilled.err}`);
      assert.equal(
        drilled.out,
        `drill passed: weaviate backup ${id} (s3, s3://${svc.s3Bucket}/${svc.s3Path}/${id}): SUCCESS\n`,
      );

      // README: a fresh Weaviate reading the same bucket and path (node name of the backup), restore.
      const s3Env = {
        ENABLE_MODULES: "backup-s3",
        BACKUP_S3_BUCKET: svc.s3Bucket,
        BACKUP_S3_PATH: svc.s3Path,
        BACKUP_S3_ENDPOINT: new URL(s3.endpoint).host,
        BACKUP_S3_USE_SSL: "false",
        AWS_REGION: s3.region,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      };
      await withFreshWeaviate(
        bin,
        dir,
        path.join(dir, "unused-filesystem-backups"),
        "node1",
        async (fresh) => {
          assert.deepEqual((await rest(fresh, "GET", "/v1/schema")).json, { classes: [] });
          const res = restoreScript(fresh, [id, className], { WEAVIATE_BACKUP_BACKEND: "s3" });
          assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
          assert.match(res.stdout, new RegExp(`weaviate restore of ${id} done: ${className}`));
          assert.deepEqual(await contents(fresh), original);
          for (const o of objects) assert.deepEqual(await near(fresh, o.vector, className), [o.id]);
        },
        s3Env,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
