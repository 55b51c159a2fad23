/**
 * Mandatory: every chart pinned to one exact version, and no local chart folder unless the pack's config
 * allows it. A mirror (another OCI registry or Helm repository) with the pinned version passes.
 */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";
import { readConfig } from "../lib/config";
import { get, str } from "../lib/values";

/** An exact SemVer 2 version (Helm also accepts a leading `v`); ranges, wildcards and blanks are not. */
const EXACT_VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

export interface ChartVersionConfig {
  /** Allow charts installed from a local folder or archive (test stand-ins, chart development). */
  allowLocalCharts: boolean;
}

const chartVersionConfigSchema: PolicyConfigSchema = {
  properties: {
    allowLocalCharts: {
      type: "boolean",
      default: false,
      description:
        "Allow charts from a local folder or .tgz (the project's stand-in charts in tests, a chart under " +
        "development); Helm ignores the version of a local chart, so nothing pins what it installs.",
    },
  },
};

/** Why `version` does not pin one chart version, or `undefined` when it does. */
function versionProblem(version: unknown): string | undefined {
  if (version === undefined || version === null || version === "") {
    return "has no chart version, so Helm installs whatever is newest when it runs";
  }
  if (typeof version !== "string" || !EXACT_VERSION.test(version.trim())) {
    return `has chart version "${String(version)}", a range or not a version; Helm resolves it to the newest match`;
  }
  return undefined;
}

/**
 * True when the release installs a chart from the local file system: a path (`/abs`, `./rel`, `../rel`)
 * or an archive, without a repository. The program writes local charts in these forms only; Helm would
 * also take a bare relative path that exists (`charts/x`), which cannot be told from a repository alias
 * (`bitnami/redis`) here.
 */
function isLocalChart(chart: string, repo: unknown): boolean {
  if (typeof repo === "string" && repo !== "") return false;
  if (chart.startsWith("oci://")) return false;
  return /^(\/|\.\/|\.\.\/|\.$|\.\.$)/.test(chart) || /\.tgz$/.test(chart);
}

export const chartVersionPinned: ResourceValidationPolicy = {
  name: "chart-version-pinned",
  description:
    "Every Helm chart is pinned to one exact version (`15.5.38`), never a range (`^15`, `~15.5`, `>=15`, " +
    "`15.x`) or left out: the values in this repository were checked against one chart version, and a " +
    "newer chart can move keys or change the database's major version. A chart from a local folder is " +
    "refused unless the pack's config sets `allowLocalCharts`: Helm ignores the version there, so what is " +
    "installed is whatever the folder holds. A mirror of the pinned chart (`<service>.chart.source`, an " +
    "OCI registry or Helm repository) with the pinned version passes. Fix: set the exact `version` " +
    "(components/shared/charts.ts, or `<service>.chart.version`), and install from a registry or " +
    "repository, not a folder (`<service>.chart.source`).",
  enforcementLevel: "mandatory",
  configSchema: chartVersionConfigSchema,
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r) return;
    const config = readConfig<ChartVersionConfig>(args, chartVersionConfigSchema);
    const problem = versionProblem(r.version);
    if (problem) reportViolation(`${r.label} (${r.chart}) ${problem}.`);
    const repo = str(get(args.props, "repositoryOpts.repo"));
    if (!config.allowLocalCharts && isLocalChart(r.chart, repo)) {
      reportViolation(
        `${r.label} installs the local chart ${r.chart}; Helm ignores the version of a local chart, so nothing ` +
          "pins what is installed. Install it from a registry or repository, or allow local charts in the " +
          "policy config (allowLocalCharts) for tests and chart development.",
      );
    }
  },
};
