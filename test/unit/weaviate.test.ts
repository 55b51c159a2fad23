import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { weaviateSchema } from "../../config";
import { weaviateConfigProblems } from "../../components/weaviate";
import { weaviateAlertRules } from "../../components/weaviate/alerts";
import {
  defaultVectorizer,
  enabledModules,
  goMemLimit,
  moduleImage,
  weaviateImage,
  weaviatePruneCommand,
  weaviateStartScript,
  weaviateValues,
} from "../../components/weaviate/values";
import { backupScript } from "../../components/shared/backup";
import { assertKnownKeys, isSecretInput, leakedPasswords, MOCK_SECRET } from "../support/assert-helpers";
import {
  byType,
  ProgramRun,
  RegisteredResource,
  releaseValues,
  runError,
  runOk,
  stackConfig,
} from "../support/program";
import { WEAVIATE_KEYS, WEAVIATE_MAP_KEYS } from "./chart-keys";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped here */

const ADMIN_KEY = `${MOCK_SECRET}weaviateadminapikey`;
const APP_KEY = `${MOCK_SECRET}weaviateappapikey`;

function named(run: ProgramRun, type: string, name: string): RegisteredResource | undefined {
  return byType(run, type).find((r) => (r.inputs.metadata as { name?: string } | undefined)?.name === name);
}

function weaviateOverride(stack: string, extra: Record<string, unknown>): Record<string, unknown> {
  const base = (stackConfig(stack)["ai-platform-data:weaviate"] ?? {}) as Record<string, unknown>;
  return { "ai-platform-data:weaviate": { ...base, ...extra } };
}

describe("Weaviate component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");
  const openai = runOk("dev", {
    ...weaviateOverride("dev", { modules: { "generative-openai": { enabled: true } } }),
    "ai-platform-data:openaiApiKey": "sk-test-openai",
  });

  it("pins weaviate 16.8.0 from the weaviate-helm repository", () => {
    const rel = byType(prod, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === "weaviate")!;
    assert.equal(rel.inputs.chart, "weaviate");
    assert.equal(rel.inputs.version, "16.8.0");
    assert.deepEqual(rel.inputs.repositoryOpts, { repo: "https://weaviate.github.io/weaviate-helm" });
    assert.equal(rel.inputs.atomic, true);
  });

  it("sets only keys the pinned chart reads", () => {
    for (const run of [prod, dev, openai]) {
      assertKnownKeys(releaseValues(run, "weaviate"), WEAVIATE_KEYS, WEAVIATE_MAP_KEYS);
    }
  });

  it("carries the prod sizes, ports and modules of the design", () => {
    const v = releaseValues(prod, "weaviate") as any;
    assert.deepEqual(v.image, { registry: "docker.io", repo: "semitechnologies/weaviate", tag: "1.22.5" });
    assert.equal(v.replicas, 1);
    assert.deepEqual(v.storage, { size: "20Gi", storageClassName: "ssd" });
    assert.deepEqual(v.resources, {
      requests: { cpu: "2", memory: "4Gi" },
      limits: { cpu: "4", memory: "8Gi" },
    });
    assert.equal(v.env.GOMEMLIMIT, "6553MiB");
    assert.equal(v.service.type, "ClusterIP");
    assert.deepEqual(v.service.ports, [{ name: "http", protocol: "TCP", port: 8088 }]);
    assert.equal(v.grpcService.enabled, true);
    assert.equal(v.grpcService.type, "ClusterIP");
    assert.deepEqual(v.grpcService.ports, [{ name: "grpc", protocol: "TCP", port: 50051 }]);
    assert.equal(v.modules["text2vec-transformers"].enabled, true);
    assert.equal(v.modules["img2vec-neural"].enabled, true);
    assert.equal(v.modules["generative-openai"].enabled, false);
    assert.equal(v.modules.default_vectorizer_module, "text2vec-transformers");
    assert.equal(v.backups.filesystem.enabled, true);
    assert.equal(v.backups.filesystem.envconfig.BACKUP_FILESYSTEM_PATH, "/var/lib/weaviate/backups");
    assert.equal(v.env.PROMETHEUS_MONITORING_ENABLED, true);
    assert.equal(v.serviceMonitor.enabled, false);
    // Retention of the backups on Weaviate's volume runs in the Weaviate container, then Weaviate is exec'd.
    assert.deepEqual(v.command, ["/bin/sh", "-c"]);
    assert.match(v.args[0], /-mtime \+14\b/);
    assert.match(
      v.args[0],
      /^exec \/bin\/weaviate --host 0\.0\.0\.0 --port 8080 --scheme http --config-file \/weaviate-config\/conf\.yaml/m,
    );
  });

  it("keeps dev small, vectorizers off and the default vectorizer none", () => {
    const v = releaseValues(dev, "weaviate") as any;
    assert.equal(v.storage.size, "2Gi");
    assert.equal(v.storage.storageClassName, "");
    assert.equal(v.env.GOMEMLIMIT, "819MiB");
    assert.equal(v.modules["text2vec-transformers"].enabled, false);
    assert.equal(v.modules.default_vectorizer_module, "none");
    assert.match(v.args[0], /-mtime \+7\b/);
  });

  it("turns API keys on and anonymous access off, keys only in the Secret", () => {
    const v = releaseValues(prod, "weaviate") as any;
    assert.equal(v.authentication.anonymous_access.enabled, false);
    assert.deepEqual(v.authentication.apikey, { enabled: true });
    assert.equal(v.env.AUTHENTICATION_APIKEY_ENABLED, true);
    assert.deepEqual(v.envSecrets, {
      AUTHENTICATION_APIKEY_ALLOWED_KEYS: "weaviate-credentials",
      AUTHENTICATION_APIKEY_USERS: "weaviate-credentials",
    });
    assert.deepEqual(v.authorization.admin_list, { enabled: true, users: ["admin", "app"] });
    const secret = named(prod, "kubernetes:core/v1:Secret", "weaviate-credentials")!;
    const data = secret.inputs.stringData as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), [
      "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
      "AUTHENTICATION_APIKEY_USERS",
      "admin-api-key",
      "app-api-key",
    ]);
    assert.equal(data.AUTHENTICATION_APIKEY_ALLOWED_KEYS, `${ADMIN_KEY},${APP_KEY}`);
    assert.equal(data.AUTHENTICATION_APIKEY_USERS, "admin,app");
    assert.equal(data["admin-api-key"], ADMIN_KEY);
    for (const k of Object.keys(data))
      assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
  });

  it("puts no generated key outside Secret data", () => {
    for (const run of [prod, dev, openai]) {
      assert.deepEqual(
        leakedPasswords(run).filter((h) => /weaviate/i.test(h)),
        [],
      );
    }
  });

  it("passes the OpenAI key through envSecrets, never through values", () => {
    const v = releaseValues(openai, "weaviate") as any;
    assert.equal(v.modules["generative-openai"].enabled, true);
    assert.equal(v.modules["generative-openai"].apiKey, undefined);
    assert.equal(v.envSecrets.OPENAI_APIKEY, "weaviate-credentials");
    assert.doesNotMatch(JSON.stringify(v), /sk-test-openai/);
    const secret = named(openai, "kubernetes:core/v1:Secret", "weaviate-credentials")!;
    assert.equal((secret.inputs.stringData as Record<string, string>).OPENAI_APIKEY, "sk-test-openai");
    assert.ok(isSecretInput(secret, "stringData.OPENAI_APIKEY"));
    assert.equal((releaseValues(dev, "weaviate") as any).envSecrets.OPENAI_APIKEY, undefined);
  });

  it("backs up through the backup API on the configured schedule, admin key by secretKeyRef", () => {
    const job = named(prod, "kubernetes:batch/v1:CronJob", "weaviate-backup")!;
    const spec = job.inputs.spec as any;
    assert.equal(spec.schedule, "0 3 * * *");
    const c = spec.jobTemplate.spec.template.spec.containers[0];
    assert.equal(c.image, "docker.io/curlimages/curl:8.10.1");
    assert.match(c.command[2], /\/v1\/backups\/filesystem/);
    const env = (n: string) => c.env.find((e: { name: string }) => e.name === n);
    assert.equal(env("WEAVIATE_URL").value, "http://weaviate:8088");
    assert.deepEqual(env("WEAVIATE_API_KEY").valueFrom, {
      secretKeyRef: { name: "weaviate-credentials", key: "admin-api-key" },
    });
    assert.equal(env("RETENTION_DAYS").value, "14");
  });

  it("guards the Weaviate pods (selected by app=weaviate) on their pod ports", () => {
    const np = named(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-clients")!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector, { matchLabels: { app: "weaviate" } });
    const ports = spec.ingress[0].ports.map(
      (p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`,
    );
    assert.deepEqual(ports.sort(), ["2112/TCP", "50051/TCP", "7000/TCP", "7000/UDP", "7001/TCP", "8080/TCP"]);
    const from = JSON.stringify(spec.ingress[0].from);
    assert.match(from, /"ai-platform.io\/backup-for":"weaviate"/);
    assert.match(from, /"app":"weaviate"/);
  });

  it("lets only Weaviate reach the inference pods it deploys", () => {
    const np = named(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-inference")!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector.matchExpressions[0].values, [
      "transformers-inference",
      "img2vec-neural",
    ]);
    assert.deepEqual(spec.ingress[0].from, [{ podSelector: { matchLabels: { app: "weaviate" } } }]);
    assert.equal(
      named(dev, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-inference"),
      undefined,
    );
  });

  it("scrapes with a labelled PodMonitor and alerts in prod only", () => {
    const pm = named(prod, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "weaviate")!;
    assert.equal((pm.inputs.metadata as any).labels.release, "prometheus");
    assert.deepEqual((pm.inputs.spec as any).selector, { matchLabels: { app: "weaviate" } });
    assert.equal((pm.inputs.spec as any).podMetricsEndpoints[0].port, "metrics");
    assert.equal(named(dev, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "weaviate"), undefined);
    const rule = named(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "weaviate-alerts")!;
    const alerts = (rule.inputs.spec as any).groups[0].rules.map((r: { alert: string }) => r.alert);
    assert.deepEqual(alerts, [
      "WeaviateDown",
      "WeaviateServerErrors",
      "WeaviateSlowQueries",
      "WeaviateMemoryNearLimit",
      "weaviateVolumeAlmostFull",
    ]);
    assert.equal(
      named(dev, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "weaviate-alerts"),
      undefined,
    );
  });

  it("gives applications the app key, the in-cluster URL and the gRPC host", () => {
    const creds = named(prod, "kubernetes:core/v1:Secret", "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["weaviate-url"], "http://weaviate.ai-platform-data.svc.cluster.local:8088");
    assert.equal(data["weaviate-grpc-host"], "weaviate-grpc.ai-platform-data.svc.cluster.local:50051");
    assert.equal(data["weaviate-apikey"], APP_KEY);
    assert.ok(isSecretInput(creds, "stringData.weaviate-apikey"));
    assert.equal(
      (prod.outputs.endpoints.value as any).weaviate,
      "weaviate.ai-platform-data.svc.cluster.local:8088",
    );
    assert.equal(prod.outputs.connectionStrings.secret, true);
  });

  it("deploys nothing in external mode and hands out the configured key", () => {
    const run = runOk("dev", {
      "ai-platform-data:weaviate": {
        mode: "external",
        endpoint: { scheme: "https", host: "vectors.example.com", port: 443 },
      },
      "ai-platform-data:weaviateApiKey": "external-weaviate-key",
    });
    assert.equal(
      byType(run, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === "weaviate"),
      undefined,
    );
    assert.equal(named(run, "kubernetes:core/v1:Secret", "weaviate-credentials"), undefined);
    assert.equal(named(run, "kubernetes:batch/v1:CronJob", "weaviate-backup"), undefined);
    assert.equal(named(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-clients"), undefined);
    const data = named(run, "kubernetes:core/v1:Secret", "db-credentials")!.inputs.stringData as Record<
      string,
      string
    >;
    assert.equal(data["weaviate-url"], "https://vectors.example.com:443");
    assert.equal(data["weaviate-apikey"], "external-weaviate-key");
    assert.equal((run.outputs.endpoints.value as any).weaviate, "vectors.example.com:443");
  });

  it("refuses a filesystem backup Weaviate would reject, before deploying anything", () => {
    const message = runError("dev", weaviateOverride("dev", { replicas: 3 }));
    assert.match(
      message,
      /weaviate\.backup\.enabled: Weaviate refuses filesystem backups on a cluster of 3 nodes/,
    );
    runOk("dev", weaviateOverride("dev", { replicas: 3, backup: { enabled: false } }));
  });
});

describe("Weaviate derivations", () => {
  const config = weaviateSchema.parse({});

  it("sets GOMEMLIMIT to 80% of the memory limit, at least 64 MiB", () => {
    for (const [limit, expected] of [
      ["1Gi", "819MiB"],
      ["8Gi", "6553MiB"],
      ["100Mi", "80MiB"],
      ["64Mi", "64MiB"],
      ["1G", "762MiB"],
    ]) {
      assert.equal(goMemLimit(limit), expected, limit);
    }
  });

  it("alerts on memory at 90% of the limit", () => {
    // 90% of 2Gi (2147483648 bytes) and of 1Gi, in bytes, rounded down.
    for (const [limit, threshold] of [
      ["2Gi", 1932735283],
      ["1Gi", 966367641],
    ] as const) {
      const rules = weaviateAlertRules("ns", {
        resources: { ...config.resources, limits: { cpu: "1", memory: limit } },
      });
      const mem = rules.find((r) => r.alert === "WeaviateMemoryNearLimit")!;
      assert.ok(mem.expr.endsWith(`> ${threshold}`), mem.expr);
      assert.ok(mem.expr.includes('namespace="ns"'), mem.expr);
    }
  });

  it("maps images to the chart's registry/repo/tag keys", () => {
    assert.deepEqual(weaviateImage({ registry: "mirror.local", repository: "x/weaviate" }), {
      registry: "mirror.local",
      repo: "x/weaviate",
      tag: "1.22.5",
    });
    assert.deepEqual(weaviateImage({ tag: "1.22.13" }).tag, "1.22.13");
    assert.deepEqual(moduleImage(undefined), {});
    assert.deepEqual(moduleImage({ repository: "m/t2v", tag: "v1" }), { repo: "m/t2v", tag: "v1" });
  });

  it("picks the default vectorizer and lists the enabled modules", () => {
    const mods = (over: Partial<Record<string, boolean>>) =>
      weaviateSchema.parse({
        modules: Object.fromEntries(Object.entries(over).map(([k, v]) => [k, { enabled: v }])),
      }).modules;
    assert.equal(defaultVectorizer(mods({ "img2vec-neural": true })), "none");
    assert.equal(defaultVectorizer(mods({ "text2vec-transformers": true })), "text2vec-transformers");
    assert.deepEqual(enabledModules(mods({ "img2vec-neural": true })), [
      "img2vec-neural",
      "backup-filesystem",
    ]);
    assert.deepEqual(enabledModules(mods({ "backup-filesystem": false })), []);
  });

  it("wraps the command only while the backup job runs", () => {
    const off = weaviateSchema.parse({ backup: { enabled: false } });
    const v = weaviateValues(off, { storageClass: "", podAntiAffinity: "soft" }, "s", { openaiKey: false });
    assert.equal(v.command, undefined);
    assert.equal(v.args, undefined);
    assert.match(weaviateStartScript(3), /^exec \/bin\/weaviate .*--read-timeout=60s --write-timeout=60s$/m);
  });

  it("names the config a backup cannot work with", () => {
    assert.deepEqual(weaviateConfigProblems(config), []);
    const noModule = weaviateSchema.parse({ modules: { "backup-filesystem": { enabled: false } } });
    assert.match(weaviateConfigProblems(noModule)[0], /backup-filesystem module, which is off/);
    assert.deepEqual(
      weaviateConfigProblems({ ...noModule, backup: { ...noModule.backup, enabled: false } }),
      [],
    );
    assert.deepEqual(weaviateConfigProblems({ ...noModule, mode: "external" }), []);
  });

  it("prunes only the job's finished backups older than the retention", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weaviate-prune-"));
    const day = 86400;
    const now = Date.now() / 1000;
    const make = (name: string, ageDays: number | undefined) => {
      fs.mkdirSync(path.join(dir, name, "node1"), { recursive: true });
      if (ageDays !== undefined) {
        const f = path.join(dir, name, "backup_config.json");
        fs.writeFileSync(f, "{}");
        fs.utimesSync(f, now - ageDays * day, now - ageDays * day);
      }
    };
    make("ai-platform-old", 10);
    make("ai-platform-new", 2);
    make("ai-platform-unfinished", undefined);
    make("manual-old", 30);
    const out = execFileSync("sh", ["-c", weaviatePruneCommand(dir, 7)], { encoding: "utf8" });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["ai-platform-new", "ai-platform-unfinished", "manual-old"]);
    assert.match(out, /weaviate backup pruned: .*ai-platform-old/);
    // Nothing to prune: the glob does not match and the loop is quiet.
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    assert.equal(execFileSync("sh", ["-c", weaviatePruneCommand(dir, 7)], { encoding: "utf8" }), "");
    fs.rmSync(dir, { recursive: true });
  });
});

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
