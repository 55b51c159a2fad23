/**
 * What the pinned charts, as published, render from the program's values: `helm template` of the archive
 * scripts/services/helm.sh caches (services.json `helm`), with the release name, namespace and values the
 * program registers. Under CI=true a missing Helm fails the test; locally the test is skipped.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { parseAllDocuments } from "yaml";
import { byType, ProgramRun } from "./program";
import { missing, RUN_DIR, Services } from "./servers";

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped */

/** One rendered object. */
export type Manifest = { kind: string; metadata: { name: string }; [k: string]: any };

/** A container of a rendered workload, with the workload it is in. */
export interface RenderedContainer {
  workload: string;
  container: any;
  /** The pod's volumes, for what a container mounts. */
  volumes: any[];
}

/** Helm as services.json describes it, or undefined (skipped) / an error (CI) when it is not there. */
export function requireHelm(t: TestContext): Services["helm"] | undefined {
  const file = `${RUN_DIR}/services.json`;
  let reason: string | undefined;
  let helm: Services["helm"] | undefined;
  if (!fs.existsSync(file)) reason = `${file} is missing: run 'npm run services:start'`;
  else {
    helm = (JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Services>).helm;
    if (!helm?.bin || !fs.existsSync(helm.bin))
      reason = "helm is not installed: run 'npm run services:start'";
    else if (!helm.charts || !fs.existsSync(path.join(helm.charts, "SHA256SUMS")))
      reason = "the published charts are not cached: run 'npm run services:start'";
  }
  if (reason) return missing(t, "helm", reason);
  return helm;
}

/** The program's release whose chart reference ends in `/<chart>` (or is `<chart>`), as registered. */
function releaseOf(run: ProgramRun, chart: string) {
  const rel = byType(run, "kubernetes:helm.sh/v3:Release").find((r) => {
    const c = String(r.inputs.chart);
    return c === chart || c.endsWith(`/${chart}`);
  });
  if (!rel) throw new Error(`the program registers no release of ${chart}`);
  return rel.inputs as { name: string; namespace: string; version: string; values: Record<string, unknown> };
}

/** `helm template` of the published `chart` at the release's version, with the release's values. */
export function renderRelease(helm: Services["helm"], run: ProgramRun, chart: string): Manifest[] {
  const rel = releaseOf(run, chart);
  const archive = path.join(helm.charts, `${chart}-${rel.version}.tgz`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-render-"));
  try {
    const values = path.join(dir, "values.json");
    fs.writeFileSync(values, JSON.stringify(rel.values));
    const out = execFileSync(
      helm.bin,
      [
        "template",
        rel.name,
        archive,
        "--namespace",
        rel.namespace,
        "--values",
        values,
        // What the clusters this program targets serve (the charts render ServiceMonitors only then).
        "--kube-version",
        "1.31.0",
        "--api-versions",
        "monitoring.coreos.com/v1",
      ],
      {
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
        env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir },
      },
    );
    return parseAllDocuments(out)
      .map((d) => d.toJS() as Manifest | null)
      .filter((m): m is Manifest => m !== null && typeof m === "object" && "kind" in m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every container and init container of every workload (Deployment, StatefulSet, CronJob, Job, Pod). */
export function containersOf(manifests: Manifest[]): RenderedContainer[] {
  const out: RenderedContainer[] = [];
  for (const m of manifests) {
    const pod =
      m.kind === "CronJob"
        ? m.spec?.jobTemplate?.spec?.template?.spec
        : m.kind === "Pod"
          ? m.spec
          : m.spec?.template?.spec;
    if (!pod || !["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"].includes(m.kind))
      continue;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      out.push({ workload: `${m.kind}/${m.metadata.name}`, container: c, volumes: pod.volumes ?? [] });
    }
  }
  return out;
}

/** The Secret keys a container's env reads, by env var name. */
export function secretEnvKeys(container: any): Record<string, { name: string; key: string }> {
  const out: Record<string, { name: string; key: string }> = {};
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) out[e.name] = { name: ref.name, key: ref.key };
  }
  return out;
}

/**
 * `unshare` arguments that run `setup` (bash, which ends with `exec "$@"`) in a private mount namespace,
 * then `args`: how the tests give a rendered container the paths its pod would have.
 */
export function inPrivateMounts(setup: string, args: string[]): string[] {
  return ["--mount", "--propagation", "private", "--", "bash", "-ec", setup, "_", ...args];
}

/**
 * The published charts of `helm.charts` (the archives services.sh cached, sums checked) unpacked into
 * `dir`, one folder per chart (`postgresql/`, `redis/`, ...): what `<service>.chart.source` takes.
 */
export function unpackPublishedCharts(helm: Services["helm"], dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(helm.charts).filter((n) => n.endsWith(".tgz")))
    execFileSync("tar", ["-xzf", path.join(helm.charts, f), "-C", dir]);
  return dir;
}
