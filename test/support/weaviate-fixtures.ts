/**
 * What the Weaviate backup tests share: REST calls with an API key, `components/backup/weaviate.sh restore`
 * run against an endpoint, nearVector queries, the files of a class in a backup, and a fresh Weaviate
 * (the services' binary, an empty data directory) for restoring into.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { ROOT } from "./program";
import { closedPort } from "./servers";

/** A Weaviate's URL and API key. */
export interface Endpoint {
  url: string;
  apiKey: string;
}

/** The CronJob's script, whose `restore` mode the README runs. */
const SCRIPT = path.join(BACKUP_SCRIPTS_DIR, "weaviate.sh");

/** One REST call; the status and the parsed body. */
export async function rest(ep: Endpoint, method: string, p: string, body?: unknown) {
  const res = await fetch(`${ep.url}${p}`, {
    method,
    headers: { Authorization: `Bearer ${ep.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** `weaviate.sh restore` against `ep`, polling every second. */
export function restoreScript(ep: Endpoint, args: string[], extra: Record<string, string> = {}) {
  return spawnSync("sh", [SCRIPT, "restore", ...args], {
    env: {
      PATH: process.env.PATH!,
      WEAVIATE_URL: ep.url,
      WEAVIATE_API_KEY: ep.apiKey,
      RESTORE_POLL_SECONDS: "1",
      RESTORE_TIMEOUT_SECONDS: "120",
      ...extra,
    },
    encoding: "utf8",
    timeout: 180_000,
  });
}

/** The ids of the objects nearest to `vector` in class `cls`, nearest first (HNSW index, GraphQL). */
export async function near(ep: Endpoint, vector: number[], cls: string, limit = 1): Promise<string[]> {
  const q = `{ Get { ${cls}(nearVector: {vector: ${JSON.stringify(vector)}}, limit: ${limit}) { _additional { id } } } }`;
  const r = await rest(ep, "POST", "/v1/graphql", { query: q });
  assert.equal(r.status, 200);
  assert.equal(r.json.errors, undefined, JSON.stringify(r.json.errors));
  return (r.json.data.Get[cls] as { _additional: { id: string } }[]).map((h) => h._additional.id);
}

/** Waits until the clock is in a later second than now. */
export async function nextSecond() {
  await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
}

/** The files of a class's shards in a backup (backup.json of each node directory). */
export function backupFiles(backupPath: string, id: string, cls: string): string[] {
  const root = path.join(backupPath, id);
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const meta = JSON.parse(fs.readFileSync(path.join(root, d.name, "backup.json"), "utf8")) as {
        classes: { name: string; shards: { files: string[] }[] }[];
      };
      return meta.classes.filter((c) => c.name === cls).flatMap((c) => c.shards.flatMap((sh) => sh.files));
    });
}

/** The services' weaviate-server binary (scripts/services/weaviate.sh); fails under CI=true when missing. */
export function weaviateBinary(t: TestContext): string | undefined {
  const weaviateSh = fs.readFileSync(path.join(ROOT, "scripts", "services", "weaviate.sh"), "utf8");
  const version = weaviateSh.match(/^WEAVIATE_VERSION=(\S+)/m)![1];
  const cache = process.env.AIPD_CACHE ?? path.join(os.homedir(), ".cache", "ai-platform-data");
  const bin = path.join(cache, `weaviate-${version}`, "bin", "weaviate-server");
  if (fs.existsSync(bin)) return bin;
  const reason = `no ${bin}: run 'npm run services:start'`;
  if (process.env.CI === "true") throw new Error(reason);
  t.skip(reason);
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "0.0.0.0", () => srv.close(() => resolve(true)));
  });
}

/** Two free consecutive ports (Weaviate's data port must be its gossip port + 1). */
async function freePair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await closedPort();
    if (p < 65535 && (await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error("no two free consecutive ports");
}

/**
 * A fresh Weaviate: the services' binary, an empty data directory, the services' backup path and
 * node name, its own ports and key; stopped after `fn`.
 */
export async function withFreshWeaviate<T>(
  bin: string,
  dir: string,
  backupPath: string,
  node: string,
  fn: (ep: Endpoint) => Promise<T>,
  extraEnv: Record<string, string> = {},
): Promise<T> {
  const port = await closedPort();
  const gossip = await freePair();
  const grpc = await closedPort();
  const ep = { url: `http://127.0.0.1:${port}`, apiKey: randomBytes(16).toString("hex") };
  const data = path.join(dir, "fresh-weaviate");
  fs.mkdirSync(data);
  const log = fs.openSync(path.join(dir, "fresh-weaviate.log"), "w");
  const child: ChildProcess = spawn(
    bin,
    ["--host", "127.0.0.1", "--port", String(port), "--scheme", "http"],
    {
      env: {
        PATH: process.env.PATH!,
        PERSISTENCE_DATA_PATH: data,
        DEFAULT_VECTORIZER_MODULE: "none",
        ENABLE_MODULES: "backup-filesystem",
        BACKUP_FILESYSTEM_PATH: backupPath,
        AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: "false",
        AUTHENTICATION_APIKEY_ENABLED: "true",
        AUTHENTICATION_APIKEY_ALLOWED_KEYS: ep.apiKey,
        AUTHENTICATION_APIKEY_USERS: "admin",
        CLUSTER_HOSTNAME: node,
        CLUSTER_GOSSIP_BIND_PORT: String(gossip),
        CLUSTER_DATA_BIND_PORT: String(gossip + 1),
        GRPC_PORT: String(grpc),
        QUERY_DEFAULTS_LIMIT: "25",
        DISK_USE_READONLY_PERCENTAGE: "99",
        PROMETHEUS_MONITORING_ENABLED: "false",
        LOG_LEVEL: "info",
        ...extraEnv,
      },
      stdio: ["ignore", log, log],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    for (let i = 0; ; i++) {
      const ready = await fetch(`${ep.url}/v1/.well-known/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (child.exitCode !== null || i > 300) {
        throw new Error(
          `fresh weaviate did not start:\n${fs.readFileSync(path.join(dir, "fresh-weaviate.log"), "utf8")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return await fn(ep);
  } finally {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    }
    fs.closeSync(log);
  }
}
