/** Mandatory: every chart pinned to one exact version. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";

/** An exact SemVer 2 version (Helm also accepts a leading `v`); ranges, wildcards and blanks are not. */
const EXACT_VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** Why `version` does not pin one chart version, or `undefined` when it does. */
export function versionProblem(version: unknown): string | undefined {
  if (version === undefined || version === null || version === "") {
    return "has no chart version, so Helm installs whatever is newest when it runs";
  }
  if (typeof version !== "string" || !EXACT_VERSION.test(version.trim())) {
    return `has chart version "${String(version)}", a range or not a version; Helm resolves it to the newest match`;
  }
  return undefined;
}

export const chartVersionPinned: ResourceValidationPolicy = {
  name: "chart-version-pinned",
  description:
    "Every Helm chart is pinned to one exact version (`15.5.38`), never a range (`^15`, `~15.5`, `>=15`, " +
    "`15.x`) or left out: the values in this repository were checked against one chart version, and a " +
    "newer chart can move keys or change the database's major version. Fix: set the exact `version` of " +
    "the chart in components/shared/charts.ts (CHARTS).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r) return;
    const problem = versionProblem(r.version);
    if (problem) reportViolation(`${r.label} (${r.chart}) ${problem}.`);
  },
};
