/**
 * Weaviate's backup script (the CronJob's command) against a stand-in backup API on loopback.
 */
import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { backupScript } from "../../components/shared/backup";

describe("Weaviate backup script against a stand-in API", () => {
  const hasCurl = (() => {
    try {
      execFileSync("curl", ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  /** A minimal backup API: POST starts, GET answers STARTED once then `final`. */
  async function withApi(
    final: string,
    fn: (url: string, seen: { auth: string[]; bodies: string[] }) => Promise<void>,
  ): Promise<void> {
    const seen = { auth: [] as string[], bodies: [] as string[] };
    let polls = 0;
    const server = http.createServer((req, res) => {
      seen.auth.push(String(req.headers.authorization));
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.setHeader("Content-Type", "application/json");
        if (req.headers.authorization !== "Bearer k3y") {
          res.statusCode = 401;
          res.end('{"code":401,"message":"invalid api key"}');
          return;
        }
        if (req.method === "POST" && req.url === "/v1/backups/filesystem") {
          seen.bodies.push(body);
          const id = (JSON.parse(body) as { id: string }).id;
          res.end(
            JSON.stringify({
              id,
              backend: "filesystem",
              path: `/var/lib/weaviate/backups/${id}`,
              status: "STARTED",
            }),
          );
          return;
        }
        const m = /^\/v1\/backups\/filesystem\/([a-z0-9_-]+)$/.exec(req.url ?? "");
        if (req.method === "GET" && m) {
          const status = polls++ === 0 ? "STARTED" : final;
          res.end(
            JSON.stringify({
              id: m[1],
              backend: "filesystem",
              path: `/var/lib/weaviate/backups/${m[1]}`,
              status,
              ...(status === "FAILED" ? { error: "disk full" } : {}),
            }),
          );
          return;
        }
        res.statusCode = 404;
        res.end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    try {
      await fn(`http://127.0.0.1:${port}`, seen);
    } finally {
      server.close();
    }
  }

  const run = (env: Record<string, string>) =>
    promisify(execFile)("sh", ["-c", backupScript("weaviate")], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        RETENTION_DAYS: "7",
        BACKUP_POLL_SECONDS: "1",
        ...env,
      },
    });

  it("starts a backup, waits for SUCCESS, records it and prunes old records", async (t) => {
    if (!hasCurl) return t.skip("curl is not installed");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weaviate-backup-"));
    const stale = path.join(dir, "weaviate-ai-platform-20000101-000000.json");
    fs.writeFileSync(stale, "{}");
    fs.utimesSync(stale, new Date(2000, 0, 1), new Date(2000, 0, 1));
    await withApi("SUCCESS", async (url, seen) => {
      const { stdout } = await run({ WEAVIATE_URL: url, WEAVIATE_API_KEY: "k3y", BACKUP_DIR: dir });
      assert.match(
        stdout,
        /^backup written: weaviate ai-platform-\d{8}-\d{6} at \/var\/lib\/weaviate\/backups\/ai-platform-/,
      );
      assert.match(seen.bodies[0], /^\{"id":"ai-platform-\d{8}-\d{6}"\}$/);
      assert.ok(seen.auth.every((a) => a === "Bearer k3y"));
    });
    const files = fs.readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0], /^weaviate-ai-platform-\d{8}-\d{6}\.json$/);
    assert.match(fs.readFileSync(path.join(dir, files[0]), "utf8"), /"status":"SUCCESS"/);
    fs.rmSync(dir, { recursive: true });
  });

  it("fails on FAILED and on a wrong key, writing no record", async (t) => {
    if (!hasCurl) return t.skip("curl is not installed");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weaviate-backup-"));
    await withApi("FAILED", async (url) => {
      await assert.rejects(
        run({ WEAVIATE_URL: url, WEAVIATE_API_KEY: "k3y", BACKUP_DIR: dir }),
        /failed: disk full/,
      );
      await assert.rejects(
        run({ WEAVIATE_URL: url, WEAVIATE_API_KEY: "wrong", BACKUP_DIR: dir }),
        /HTTP 401/,
      );
    });
    assert.deepEqual(fs.readdirSync(dir), []);
    fs.rmSync(dir, { recursive: true });
  });
});
