/**
 * The pinned Helm charts and the Helm release every component deploys through.
 * Versions and image repositories come from REFERENCE §1 and §3 (Chart.yaml history of bitnami/charts
 * and weaviate/weaviate-helm; the August 2025 move of Bitnami's versioned images to `bitnamilegacy`).
 */
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartSourceConfig, chartSourceKind, ImageConfig, localChartPath } from "../../config";

/** Where a chart lives and the exact version the values in this repository were checked against. */
export interface PinnedChart {
  /** Chart reference: an `oci://` URL for Bitnami, a chart name for a classic repository. */
  chart: string;
  /** Exact chart version; never a range. */
  version: string;
  /** Classic Helm repository URL, when the chart is not pulled by OCI. */
  repo?: string;
  /** The application version the chart ships, for humans and policies. */
  appVersion: string;
}

export const CHARTS = {
  postgresql: {
    chart: "oci://registry-1.docker.io/bitnamicharts/postgresql",
    version: "15.5.38",
    appVersion: "16.4.0",
  },
  mongodb: {
    chart: "oci://registry-1.docker.io/bitnamicharts/mongodb",
    version: "13.18.5",
    appVersion: "6.0.10",
  },
  redis: {
    chart: "oci://registry-1.docker.io/bitnamicharts/redis",
    version: "17.17.1",
    appVersion: "7.0.12",
  },
  kafka: { chart: "oci://registry-1.docker.io/bitnamicharts/kafka", version: "26.11.4", appVersion: "3.6.1" },
  weaviate: {
    chart: "weaviate",
    repo: "https://weaviate.github.io/weaviate-helm",
    version: "16.8.0",
    appVersion: "1.22.5",
  },
} as const satisfies Record<string, PinnedChart>;

/** The pinned chart's own name: the last segment of its OCI reference, or its name in the repository. */
export function pinnedChartName(pinned: PinnedChart): string {
  return pinned.chart.split("/").pop() ?? pinned.chart;
}

/** What a Helm release installs. */
export interface ChartRef {
  /** An `oci://` reference, a chart name in `repo`, or a local folder (resolved from the project folder). */
  chart: string;
  /** Exact version. */
  version: string;
  /** Classic Helm repository URL. */
  repo?: string;
}

/**
 * The chart a release installs: the pinned one from its public location, or the same chart from the
 * source the stack configures (`<service>.chart`: a mirror, or a local folder). The version stays the
 * pinned one unless the stack sets another.
 */
function chartRef(pinned: PinnedChart, source?: ChartSourceConfig): ChartRef {
  if (!source) return { chart: pinned.chart, version: pinned.version, repo: pinned.repo };
  const version = source.version ?? pinned.version;
  if (chartSourceKind(source.source) === "repository") {
    return { chart: source.name ?? pinnedChartName(pinned), version, repo: source.source };
  }
  // An OCI reference, or a local folder: passed as written (relative paths stay portable in state; the
  // provider resolves them from the project folder, as the program does).
  return { chart: source.source, version };
}

/**
 * `name` and `version` of a chart's Chart.yaml: top-level plain or quoted scalars, the form Helm and
 * `helm create` write. Undefined when the line is missing or not in that form.
 */
export function chartYamlMetadata(text: string): { name?: string; version?: string } {
  const out: { name?: string; version?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^(name|version):[ \t]*(?:"([^"]*)"|'([^']*)'|([^\s#"'][^#]*?))[ \t]*(?:#.*)?$/.exec(line);
    if (m) out[m[1] as "name" | "version"] = m[2] ?? m[3] ?? m[4];
  }
  return out;
}

/**
 * Why a configured local chart cannot stand in for the pinned one, one line each (empty when it can, and
 * for other sources: a mirror's chart is checked by Helm when it pulls the exact version). The folder
 * itself (exists, holds Chart.yaml) is checked by the config schema. Helm ignores the release's version
 * for a local folder, so the folder must carry it: that keeps the version pin (and the values checked
 * against it) meaningful, and keeps the provider's recorded version equal to the input.
 */
export function chartSourceProblems(
  serviceKey: string,
  pinned: PinnedChart,
  source: ChartSourceConfig | undefined,
): string[] {
  if (!source || chartSourceKind(source.source) !== "local") return [];
  const key = `ai-platform-data:${serviceKey}.chart`;
  const file = path.join(localChartPath(source.source), "Chart.yaml");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return [`${key}.source: cannot read ${file}: ${(e as Error).message}`];
  }
  const meta = chartYamlMetadata(text);
  const want = { name: pinnedChartName(pinned), version: source.version ?? pinned.version };
  const shown = JSON.stringify(source.source);
  const problems: string[] = [];
  if (meta.name !== want.name) {
    problems.push(
      `${key}.source: ${shown} holds chart ${JSON.stringify(meta.name ?? "(no name line)")} (Chart.yaml name); ${serviceKey} installs chart "${want.name}"`,
    );
  }
  if (meta.version !== want.version) {
    const from = source.version ? `${serviceKey}.chart.version` : "the pinned version";
    problems.push(
      `${key}.source: ${shown} holds version ${JSON.stringify(meta.version ?? "(no version line)")} (Chart.yaml version), not ${want.version} (${from}); use a copy of ${want.name} ${want.version}${source.version ? "" : `, or set ${serviceKey}.chart.version to its version once the program's values are checked against it`}`,
    );
  }
  return problems;
}

/** Bitnami's versioned Debian images now live here (bitnami/charts #35164, #36268). */
const BITNAMI_LEGACY = "bitnamilegacy";

/**
 * Values for one chart image: the user's override where set, else the default repository, and the
 * chart's own tag unless the user pins another.
 */
export function imageValues(
  override: ImageConfig | undefined,
  defaults: { registry: string; repository: string },
): { registry: string; repository: string; tag?: string } {
  const v: { registry: string; repository: string; tag?: string } = {
    registry: override?.registry ?? defaults.registry,
    repository: override?.repository ?? defaults.repository,
  };
  if (override?.tag) v.tag = override.tag;
  return v;
}

/** A Bitnami image moved to `bitnamilegacy`, overridable per stack. */
export function bitnamiImage(override: ImageConfig | undefined, name: string) {
  return imageValues(override, { registry: "docker.io", repository: `${BITNAMI_LEGACY}/${name}` });
}

/** Settings every Helm release shares. */
export interface ReleaseSettings {
  namespace: pulumi.Input<string>;
  /** Roll back a failed install or upgrade. */
  atomic: boolean;
  timeoutSeconds: number;
  /** Where the chart comes from (`<service>.chart`); unset: the pinned chart's public location. */
  chart?: ChartSourceConfig;
}

/**
 * A Helm release of a pinned chart, from the configured source when the stack sets one. `helm.v3.Release`
 * (not `v4.Chart`) because the Bitnami charts rely on hooks and Helm's own upgrade logic; Pulumi stores
 * its inputs as secrets, and no credential is in the values anyway (every chart reads an existing Secret).
 */
export function pinnedRelease(
  name: string,
  releaseName: string,
  pinned: PinnedChart,
  values: pulumi.Input<Record<string, unknown>>,
  settings: ReleaseSettings,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
  const ref = chartRef(pinned, settings.chart);
  return new k8s.helm.v3.Release(
    name,
    {
      name: releaseName,
      chart: ref.chart,
      version: ref.version,
      repositoryOpts: ref.repo ? { repo: ref.repo } : undefined,
      namespace: settings.namespace,
      atomic: settings.atomic,
      timeout: settings.timeoutSeconds,
      // Wait for readiness: the initialisers run only once the release is up.
      skipAwait: false,
      waitForJobs: true,
      cleanupOnFail: true,
      values,
    },
    opts,
  );
}
