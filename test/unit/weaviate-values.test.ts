/**
 * Weaviate's derived settings, pure functions of config: GOMEMLIMIT, the memory alert, images, modules,
 * the start script, config problems and the pruning of old backups.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
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
    // No job, no claim: backups taken by hand stay where the pod can keep them, the data volume.
    assert.equal(v.extraVolumes, undefined);
    assert.equal(
      (v.backups as { filesystem: { envconfig: Record<string, string> } }).filesystem.envconfig
        .BACKUP_FILESYSTEM_PATH,
      "/var/lib/weaviate/backups",
    );
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
