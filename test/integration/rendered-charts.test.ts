/**
 * What the published charts render from the program's values (dev and prod), not what the values say:
 * no container hands a secret to a program on its command line, and the exporters' start scripts, run
 * for real in a private mount namespace with the exporter binary replaced by a recorder, log in as their
 * own read-only user with the password in their environment or an argument file only.
 * Needs root (unshare, mount) and Helm from `npm run services:start`.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  containersOf,
  inPrivateMounts,
  Manifest,
  renderRelease,
  RenderedContainer,
  requireHelm,
  secretEnvKeys,
} from "../support/chart-render";
import { ProgramRun, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped */

const CHARTS = ["postgresql", "mongodb", "redis", "kafka", "weaviate"];

/** What stands for a Secret value in a run: its key, recognisable wherever it ends up. */
const marker = (key: string) => `SECRET[${key}]`;

/**
 * Command-line uses of a container's secret env vars: a flag's value (`--sasl.password=$VAR`) or the
 * password of a URI (`mongodb://user:$(echo $VAR ...)@host`). An `export`, a `printf` into a file or a
 * here-string is not a command line.
 */
function secretsOnCommandLine(c: any): string[] {
  const text = [...(c.command ?? []), ...(c.args ?? [])].join("\n");
  const found: string[] = [];
  for (const v of Object.keys(secretEnvKeys(c))) {
    const flag = new RegExp(`--[\\w.-]+[= ]"?\\$\\{?${v}\\b`);
    // On one line: the URI may quote a command substitution (`$(echo $VAR | sed ...)`).
    const uri = new RegExp(`://[^\\n]*?\\$\\{?${v}\\b[^\\n]*?@`);
    if (flag.test(text) || uri.test(text)) found.push(`${c.name}: ${v}`);
  }
  return found;
}

/** What a run of a container's start script gave the program it execs. */
interface Recorded {
  argv: string[];
  env: Record<string, string>;
  /** The files named by `@file` arguments: content and octal mode. */
  argFiles: Record<string, { content: string; mode: string }>;
}

/**
 * Runs a container's command and args with bash as the container would, in a private mount namespace
 * whose /run is a fresh tmpfs (its emptyDir mounts under /run are made there), secret env vars set to
 * {@link marker}s, and `programs` (name on PATH, or an absolute path in the script) replaced by a
 * recorder of argv, environment and `@file` arguments.
 */
function runStartScript(rc: RenderedContainer, programs: string[]): Recorded {
  const c = rc.container;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-start-"));
  try {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const rec = path.join(dir, "rec");
    fs.mkdirSync(rec);
    const recorder = [
      "#!/bin/bash",
      'printf "%s\\0" "$@" >"$REC/argv"',
      'env -0 >"$REC/env"',
      'for a in "$@"; do [[ $a == @* ]] || continue; f=${a#@}; n=$(basename "$f");',
      '  cp "$f" "$REC/file-$n"; stat -c %a "$f" >"$REC/mode-$n"; printf "%s" "$f" >"$REC/path-$n"; done',
    ].join("\n");
    const stubs: [string, string][] = [];
    for (const p of programs) {
      const stub = path.join(bin, path.basename(p));
      fs.writeFileSync(stub, recorder, { mode: 0o755 });
      if (p.startsWith("/")) stubs.push([p, stub]);
    }
    let argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
    argv = argv.map((a) => stubs.reduce((s, [from, to]) => s.split(from).join(to), a));
    const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, REC: rec };
    for (const e of c.env ?? []) {
      env[e.name] = e.valueFrom?.secretKeyRef ? marker(e.valueFrom.secretKeyRef.key) : String(e.value ?? "");
    }
    const dirs = (c.volumeMounts ?? [])
      .filter((m: any) => rc.volumes.find((v) => v.name === m.name)?.emptyDir)
      .map((m: any) => m.mountPath as string);
    for (const d of dirs)
      assert.match(d, /^\/run\//, `${rc.workload}: this test makes emptyDir mounts under /run only`);
    execFileSync(
      "unshare",
      inPrivateMounts('mount -t tmpfs aipd /run; mkdir -p "${@:1:$1}"; shift "$(($1 + 1))"; exec "$@"', [
        String(dirs.length + 1),
        ...dirs,
        "/run",
        ...argv,
      ]),
      { env, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 },
    );
    const argFiles: Recorded["argFiles"] = {};
    for (const f of fs.readdirSync(rec).filter((n) => n.startsWith("file-"))) {
      const n = f.slice("file-".length);
      argFiles[fs.readFileSync(path.join(rec, `path-${n}`), "utf8")] = {
        content: fs.readFileSync(path.join(rec, f), "utf8"),
        mode: fs.readFileSync(path.join(rec, `mode-${n}`), "utf8").trim(),
      };
    }
    const split = (f: string) =>
      fs
        .readFileSync(path.join(rec, f), "utf8")
        .split("\0")
        .filter((s) => s !== "");
    return {
      argv: split("argv"),
      env: Object.fromEntries(
        split("env").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      ),
      argFiles,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Each exporter's own password key in the program's Secret (the only key it may read). */
const EXPORTER_KEYS: Record<string, string> = {
  postgresql: "metrics-password",
  redis: "metrics-password",
  mongodb: "mongodb-metrics-password",
  kafka: "system-user-password",
};

/**
 * What each exporter container of a rendered chart reads beyond its own key: Secret keys from its env,
 * and Secret volumes it mounts (a mounted Secret is readable in the container, whatever runs there).
 */
function exporterExcess(manifests: Manifest[], chart: string): string[] {
  const exporters = containersOf(manifests).filter((rc) =>
    ["metrics", "kafka-exporter"].includes(rc.container.name),
  );
  assert.ok(exporters.length > 0, `${chart}: no exporter container rendered`);
  return exporters.flatMap((rc) => {
    const keys = Object.values(secretEnvKeys(rc.container))
      .map((r) => r.key)
      .filter((k) => k !== EXPORTER_KEYS[chart]);
    const secretVolumes = (rc.container.volumeMounts ?? [])
      .map((m: any) => rc.volumes.find((v) => v.name === m.name))
      .filter((v: any) => v?.secret || v?.projected)
      .map((v: any) => `volume ${v.name}`);
    return [...keys, ...secretVolumes].map((x) => `${rc.workload} ${rc.container.name}: ${x}`);
  });
}

function container(manifests: Manifest[], name: string): RenderedContainer {
  const found = containersOf(manifests).filter((rc) => rc.container.name === name);
  assert.equal(found.length, 1, `one container named ${name}`);
  return found[0];
}

describe("the published charts, rendered from the program's values", () => {
  const runs: [string, ProgramRun][] = [
    ["dev", runOk("dev")],
    ["prod", runOk("prod")],
  ];

  it("put no secret on any container's command line (all five charts, dev and prod)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    for (const [stack, run] of runs) {
      for (const chart of CHARTS) {
        const found: string[] = containersOf(renderRelease(helm, run, chart)).flatMap((rc) =>
          secretsOnCommandLine(rc.container).map((s) => `${stack} ${chart} ${rc.workload} ${s}`),
        );
        assert.deepEqual(found, []);
      }
    }
  });

  it("the check above sees the charts' own exporter scripts (the program's replaced)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const [, run] = runs[1];
    const chartsOwn = structuredClone(run);
    for (const r of chartsOwn.resources) {
      const v = r.inputs.values as any;
      if (r.type !== "kubernetes:helm.sh/v3:Release") continue;
      if (v?.metrics?.kafka?.args) delete v.metrics.kafka.args;
      if (String(r.inputs.chart).endsWith("/mongodb")) delete v.metrics.args;
    }
    assert.deepEqual(
      secretsOnCommandLine(container(renderRelease(helm, chartsOwn, "kafka"), "kafka-exporter").container),
      ["kafka-exporter: SASL_USER_PASSWORD"],
    );
    assert.deepEqual(
      secretsOnCommandLine(container(renderRelease(helm, chartsOwn, "mongodb"), "metrics").container),
      ["metrics: MONGODB_METRICS_PASSWORD"],
    );
  });

  it("every exporter reads its own password and no other (env and mounted Secrets)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    for (const [stack, run] of runs) {
      for (const chart of Object.keys(EXPORTER_KEYS)) {
        assert.deepEqual(exporterExcess(renderRelease(helm, run, chart), chart), [], `${stack} ${chart}`);
      }
    }
  });

  it("the check above sees the charts' own PostgreSQL and Redis exporters holding the admin's password", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const chartsOwn = structuredClone(runs[1][1]);
    for (const r of chartsOwn.resources) {
      const v = r.inputs.values as any;
      if (r.type !== "kubernetes:helm.sh/v3:Release" || !v?.metrics) continue;
      if (/\/(postgresql|redis)$/.test(String(r.inputs.chart))) {
        v.metrics.enabled = true;
        delete v.primary?.sidecars;
        delete v.readReplicas?.sidecars;
        delete v.replica?.sidecars;
      }
    }
    assert.deepEqual(exporterExcess(renderRelease(helm, chartsOwn, "postgresql"), "postgresql"), [
      "StatefulSet/postgresql metrics: postgres-password",
    ]);
    assert.deepEqual(exporterExcess(renderRelease(helm, chartsOwn, "redis"), "redis"), [
      "StatefulSet/redis-node metrics: redis-password",
    ]);
  });

  it("kafka-exporter logs in as the read-only observer, its password in an argument file only", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    for (const [stack, run] of runs) {
      const rc = container(renderRelease(helm, run, "kafka"), "kafka-exporter");
      // The chart's key, which the program fills with the observer's password (kafka.test.ts).
      assert.deepEqual(
        Object.values(secretEnvKeys(rc.container)).map((r) => r.key),
        ["system-user-password"],
        stack,
      );
      const got = runStartScript(rc, ["kafka_exporter"]);
      const password = marker("system-user-password");
      assert.ok(
        !got.argv.some((a) => a.includes(password)),
        `${stack}: password in argv ${got.argv.join(" ")}`,
      );
      assert.ok(got.argv.includes("--sasl.username=kafka_observer"), got.argv.join(" "));
      assert.ok(got.argv.includes("--sasl.enabled"));
      assert.ok(got.argv.includes("--kafka.server=kafka:9092"));
      assert.ok(got.argv.includes("--sasl.mechanism=scram-sha512"));
      assert.deepEqual(got.argFiles, {
        "/run/kafka-exporter/args": { content: `--sasl.password=${password}\n`, mode: "600" },
      });
      assert.equal(got.env.SASL_USER_PASSWORD, undefined, "the exporter's environment keeps no password");
    }
  });

  it("the MongoDB exporter logs in as its own user, the password in its environment only", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    for (const [stack, run] of runs) {
      const rc = container(renderRelease(helm, run, "mongodb"), "metrics");
      assert.deepEqual(
        Object.values(secretEnvKeys(rc.container)).map((r) => r.key),
        ["mongodb-metrics-password"],
        `${stack}: the exporter reads no root password`,
      );
      const got = runStartScript(rc, ["/bin/mongodb_exporter"]);
      const password = marker("mongodb-metrics-password");
      assert.ok(
        !got.argv.some((a) => a.includes(password)),
        `${stack}: password in argv ${got.argv.join(" ")}`,
      );
      assert.ok(got.argv.includes("--mongodb.uri=mongodb://localhost:27017/admin"), got.argv.join(" "));
      assert.ok(got.argv.includes("--compatible-mode"));
      assert.equal(got.env.MONGODB_USER, "prometheus_exporter");
      assert.equal(got.env.MONGODB_PASSWORD, password);
      assert.equal(got.env.MONGODB_METRICS_PASSWORD, undefined);
    }
  });
  it("Weaviate's cluster API takes basic auth from the chart's own Secret, each env var once", (t) => {
    // weaviate-helm 16.8.0 renders CLUSTER_BASIC_AUTH_* from `weaviate-cluster-api-basic-auth`
    // (weaviateSecretClusterAPI.yaml: random at install, kept by `lookup` on upgrades). A second entry of
    // the same name from the program's values would be shadowed by the chart's (the last one wins).
    const helm = requireHelm(t);
    if (!helm) return;
    for (const [stack, run] of runs) {
      const manifests = renderRelease(helm, run, "weaviate");
      const c = container(manifests, "weaviate").container;
      const names = (c.env ?? []).map((e: any) => e.name as string);
      assert.deepEqual(
        names.filter((n: string, i: number) => names.indexOf(n) !== i),
        [],
        `${stack}: env names given twice`,
      );
      const env = secretEnvKeys(c);
      const secret = "weaviate-cluster-api-basic-auth";
      assert.deepEqual(
        [env.CLUSTER_BASIC_AUTH_USERNAME, env.CLUSTER_BASIC_AUTH_PASSWORD],
        [
          { name: secret, key: "username" },
          { name: secret, key: "password" },
        ],
        stack,
      );
      const object = manifests.find((m) => m.kind === "Secret" && m.metadata.name === secret);
      assert.ok(object, `${stack}: the chart renders ${secret}`);
      assert.equal(Buffer.from(object.data.password, "base64").toString().length, 32);
    }
  });
  it("Weaviate writes its backups into the backup job's claim, never onto its data volume (dev, prod without backup.s3)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const onClaim: [string, ProgramRun][] = [
      ["dev", runs[0][1]],
      ["prod without backup.s3", runOk("prod", { "ai-platform-data:backup": {} })],
    ];
    for (const [stack, run] of onClaim) {
      const rc = container(renderRelease(helm, run, "weaviate"), "weaviate");
      const dir = (rc.container.env ?? []).find((e: any) => e.name === "BACKUP_FILESYSTEM_PATH")?.value;
      assert.ok(dir, `${stack}: no BACKUP_FILESYSTEM_PATH`);
      // The mount that holds the directory: the deepest mount path it is under.
      const mount = (rc.container.volumeMounts ?? [])
        .filter((m: any) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`))
        .sort((a: any, b: any) => b.mountPath.length - a.mountPath.length)[0];
      assert.ok(mount, `${stack}: ${dir} is on no volume`);
      const volume = rc.volumes.find((v) => v.name === mount.name);
      const claim = run.resources.find((r) => r.name === "weaviate-backup-pvc");
      assert.ok(claim, `${stack}: no backup claim`);
      assert.equal(volume?.persistentVolumeClaim?.claimName, (claim.inputs.metadata as any).name, stack);
    }
  });
  it("Weaviate with backup.s3 (prod) runs backup-s3 on the bucket's folder, keys from the user's Secret, no claim", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const rc = container(renderRelease(helm, runs[1][1], "weaviate"), "weaviate");
    const env = Object.fromEntries((rc.container.env ?? []).map((e: any) => [e.name, e]));
    assert.match(env.ENABLE_MODULES?.value ?? "", /(^|,)backup-s3(,|$)/);
    assert.deepEqual(
      ["BACKUP_S3_BUCKET", "BACKUP_S3_PATH", "BACKUP_S3_ENDPOINT", "BACKUP_S3_USE_SSL", "AWS_REGION"].map(
        (k) => env[k]?.value,
      ),
      ["ai-platform-data-backups", "prod/weaviate", "s3.eu-west-1.amazonaws.com", "true", "eu-west-1"],
    );
    for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      assert.deepEqual(env[k]?.valueFrom, { secretKeyRef: { name: "backup-s3", key: k } }, k);
    }
    assert.ok(
      !rc.volumes.some((v) => v.persistentVolumeClaim?.claimName === "weaviate-backup"),
      "the backup claim is mounted",
    );
  });
  it("the PostgreSQL host the program uses is a Service the chart renders for the primary (with and without replicas)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const withReplicas = runOk("prod", serviceOverride("prod", "postgres", { readReplicas: 1 }));
    const cases: [string, ProgramRun][] = [
      ["standalone", runs[1][1]],
      ["with read replicas", withReplicas],
    ];
    for (const [what, run] of cases) {
      const schema = run.resources.find((r) => r.name === "postgres-schema")!;
      const service = String(schema.inputs.host).split(".")[0];
      const found: Manifest | undefined = renderRelease(helm, run, "postgresql").find(
        (m) => m.kind === "Service" && m.metadata.name === service,
      );
      assert.ok(found, `${what}: no Service "${service}" rendered`);
      assert.equal(found.spec.selector["app.kubernetes.io/component"], "primary", what);
    }
  });
  it("Weaviate's inference modules may run beside Weaviate: their anti-affinity is their own (prod, hard)", (t) => {
    const helm = requireHelm(t);
    if (!helm) return;
    const manifests = renderRelease(helm, runs[1][1], "weaviate");
    const selected = (kind: string, name: string): string[] => {
      const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
      assert.ok(m, `${kind}/${name} rendered`);
      const terms =
        m.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
      return (terms ?? []).flatMap((term: any) =>
        term.labelSelector.matchExpressions.map((e: any) => `${e.key}=${e.values.join("|")}`),
      );
    };
    assert.deepEqual(selected("StatefulSet", "weaviate"), ["app=weaviate"]);
    const modules = manifests.filter((m) => m.kind === "Deployment").map((m) => m.metadata.name);
    assert.ok(modules.length > 0, "prod deploys an inference module");
    for (const name of modules) assert.deepEqual(selected("Deployment", name), [`app=${name}`], name);
  });
});
