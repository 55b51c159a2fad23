/**
 * The pinned Helm charts and the Helm release every component deploys through.
 * Versions and image repositories come from REFERENCE §1 and §3 (Chart.yaml history of bitnami/charts
 * and weaviate/weaviate-helm; the August 2025 move of Bitnami's versioned images to `bitnamilegacy`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ImageConfig } from "../../config";

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

/** Bitnami's versioned Debian images now live here (bitnami/charts #35164, #36268). */
export const BITNAMI_LEGACY = "bitnamilegacy";

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
}

/**
 * A Helm release of a pinned chart. `helm.v3.Release` (not `v4.Chart`) because the Bitnami charts rely
 * on hooks and Helm's own upgrade logic; Pulumi stores its inputs as secrets, and no credential is in the
 * values anyway (every chart reads an existing Secret).
 */
export function pinnedRelease(
  name: string,
  releaseName: string,
  pinned: PinnedChart,
  values: pulumi.Input<Record<string, unknown>>,
  settings: ReleaseSettings,
  opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
  return new k8s.helm.v3.Release(
    name,
    {
      name: releaseName,
      chart: pinned.chart,
      version: pinned.version,
      repositoryOpts: pinned.repo ? { repo: pinned.repo } : undefined,
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
