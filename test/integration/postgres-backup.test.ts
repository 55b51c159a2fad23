/**
 * The PostgreSQL backup round trip against the real server of scripts/services.sh: the CronJob's own
 * script (components/backup/postgres.sh) dumps and prunes, logged in as the backup job's role the
 * initialiser keeps (`pg_read_all_data` only: it can write nothing), and the README's restore procedure
 * (createdb + pg_restore, as the administrator) brings the data, the HNSW index and the tracking table back,
 * from the dump's off-site copy (components/backup/offsite.sh, the S3 server of scripts/services.sh).
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import {
  createSchema,
  migrationLines,
  schemaProvider,
  seedScenarios,
  sql,
} from "../support/postgres-fixtures";
import { drillContainers, runDrill } from "../support/backup-job";
import { offsiteRoundTrip } from "../support/s3";
import { requireServer } from "../support/servers";

const S = seedScenarios();
after(S.cleanup);

describe("PostgreSQL backup round trip (components/backup/postgres.sh, README restore)", () => {
  it("dumps with the CronJob's script, prunes old dumps, restores into a fresh database", async (t) => {
    const svc = await requireServer(t, "postgres");
    const s3 = await requireServer(t, "s3");
    if (!svc || !s3) return;
    const p = await schemaProvider();
    const backupRole = { user: `aipd_${S.run}_bak_backup`, password: `backup-${S.run}-pw` };
    S.roles.add(backupRole.user);
    const news = S.inputs(svc, "bak", {
      serviceRoles: [{ name: backupRole.user, grant: "pg_read_all_data" }],
      serviceRolePasswords: { [backupRole.user]: backupRole.password },
    });
    const first = await createSchema(p, news);
    const app = { user: news.appUser, password: news.appPassword! };
    await sql(svc, news.database, "INSERT INTO iam.users (username) VALUES ('bob'), ('carol')", [], app);
    await sql(
      svc,
      news.database,
      `WITH c AS (INSERT INTO vector_store.collections (name, embedding_model) VALUES ('imgs', 'clip') RETURNING id)
       INSERT INTO vector_store.embeddings (collection_id, external_id, embedding, metadata)
       SELECT c.id, 'img-' || i, (SELECT array_agg(((d * i) % 97)::real / 97) FROM generate_series(1, 768) d)::vector, jsonb_build_object('i', i)
       FROM c, generate_series(1, 20) i`,
      [],
      app,
    );
    const original = await sql(
      svc,
      news.database,
      "SELECT external_id, embedding::text AS e, metadata FROM vector_store.embeddings ORDER BY 1",
    );

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-pg-backup-"));
    const env = {
      ...process.env,
      PATH: `${svc.bin ?? "/usr/lib/postgresql/15/bin"}:${process.env.PATH}`,
      PGHOST: svc.host,
      PGPORT: String(svc.port),
      PGUSER: backupRole.user,
      PGPASSWORD: backupRole.password,
      PGDATABASE: news.database,
      BACKUP_DIR: dir,
      RETENTION_DAYS: "7",
    };
    try {
      // A dump from a month ago must be pruned; one of another database must stay.
      const old = path.join(dir, `postgres-${news.database}-20000101T000000Z.dump`);
      const foreign = path.join(dir, `postgres-otherdb-20000101T000000Z.dump`);
      for (const f of [old, foreign]) {
        fs.writeFileSync(f, "old");
        const monthAgo = new Date(Date.now() - 30 * 86400_000);
        fs.utimesSync(f, monthAgo, monthAgo);
      }
      const script = path.join(__dirname, "../../components/backup/postgres.sh");
      const out = execFileSync("sh", [script], { env, encoding: "utf8" });
      assert.match(out, /backup written: .*postgres-aipd_\w+-\d{8}T\d{6}Z\.dump \(\d+ bytes\)/);
      const files = fs.readdirSync(dir).sort();
      const dumps = files.filter((f) => f.startsWith(`postgres-${news.database}-`));
      assert.equal(dumps.length, 1, files.join(", "));
      assert.ok(!fs.existsSync(old), "the old dump was pruned");
      assert.ok(fs.existsSync(foreign), "another database's dump was left alone");
      assert.ok(!files.some((f) => f.endsWith(".partial")));
      // Every row of the database is in it: the job's user alone may read it (umask 077).
      assert.equal(fs.statSync(path.join(dir, dumps[0])).mode & 0o077, 0, "the dump is readable by others");

      // The backup role reads everything and changes nothing.
      await assert.rejects(
        sql(svc, news.database, "INSERT INTO iam.users (username) VALUES ('mallory')", [], backupRole),
        (e: { code?: string }) => e.code === "42501",
      );
      await assert.rejects(
        sql(svc, news.database, "CREATE TABLE public.backup_probe (x int)", [], backupRole),
        (e: { code?: string }) => e.code === "42501",
      );

      // Off-site (backup.s3): the dump restored below is the copy that came back from S3.
      assert.ok(offsiteRoundTrip("postgres", s3, dir).includes(dumps[0]));

      // README: createdb + pg_restore into a fresh database, as the administrator.
      const adminEnv = { ...env, PGUSER: svc.user, PGPASSWORD: svc.password };
      const restored = `${news.database}_restored`;
      S.databases.add(restored);
      const conn = ["-h", svc.host, "-p", String(svc.port), "-U", svc.user];
      execFileSync("createdb", [...conn, restored], { env: adminEnv });
      const r = spawnSync("pg_restore", [...conn, "-d", restored, path.join(dir, dumps[0])], {
        env: adminEnv,
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);

      assert.deepEqual(
        await sql(
          svc,
          restored,
          "SELECT external_id, embedding::text AS e, metadata FROM vector_store.embeddings ORDER BY 1",
        ),
        original,
      );
      assert.deepEqual(
        (await sql<{ username: string }>(svc, restored, "SELECT username FROM iam.users ORDER BY 1")).map(
          (u) => u.username,
        ),
        ["bob", "carol"],
      );
      const idx = await sql(
        svc,
        restored,
        "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'",
      );
      assert.deepEqual(idx, [{ indexname: "embeddings_embedding_hnsw_idx" }]);
      // The tracking table came back too: the initialiser sees every migration applied there.
      const again = await createSchema(p, { ...news, database: restored, appPasswordRevision: 0 });
      assert.deepEqual(migrationLines(again.outs.log), []);
      assert.deepEqual(
        again.outs.applied.map((a) => a.checksum),
        first.outs.applied.map((a) => a.checksum),
      );

      // The restore drill as the CronJob declares it: the newest dump into a scratch cluster, the rows of
      // every table counted; as the postgres user (initdb refuses root), no login to the live server.
      const drillDir = path.join(dir, "drill");
      fs.mkdirSync(path.join(drillDir, "scratch"), { recursive: true });
      fs.copyFileSync(path.join(dir, dumps[0]), path.join(drillDir, dumps[0]));
      const { drill } = drillContainers("postgres");
      const local = {
        PGDATABASE: news.database,
        DRILL_DIR: drillDir,
        SCRATCH_DIR: path.join(drillDir, "scratch"),
      };
      const asPostgres = () => {
        execFileSync("chown", ["-R", "postgres:postgres", dir]);
        return runDrill(drill, local, { path: svc.bin ?? "/usr/lib/postgresql/15/bin", user: "postgres" });
      };
      const passed = asPostgres();
      assert.equal(passed.status, 0, `${passed.out}${passed.err}`);
      assert.match(
        passed.out,
        new RegExp(
          `^drill passed: postgres ${dumps[0]} \\(\\d+ bytes\\): \\d+ tables, \\d+ rows: .*\\biam\\.users=2\\b`,
          "m",
        ),
      );
      assert.match(passed.out, /\bvector_store\.embeddings=20\b/);
      // A dump cut short, newer than the good one, fails the drill and says why.
      const cut = `postgres-${news.database}-29991231T000000Z.dump`;
      const bytes = fs.readFileSync(path.join(drillDir, dumps[0]));
      fs.writeFileSync(path.join(drillDir, cut), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const failed = asPostgres();
      assert.equal(failed.status, 1, failed.out);
      assert.match(failed.err, new RegExp(`^drill failed: postgres: pg_restore of ${cut} failed: `, "m"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
