/**
 * Two per-service settings of `helm` mode that point outside this program: where the Helm chart comes
 * from (`<service>.chart`) and a Secret the user keeps with the service's credentials
 * (`<service>.credentials`). The schemas check what can be checked from the config alone, plus, for a
 * local chart folder, that it exists and holds a Chart.yaml; the chart's name and version are checked
 * against the pinned chart by `components/shared/charts.ts` (`chartSourceProblems`).
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

/** The kind of place a chart comes from, told by the form of `source`. */
export type ChartSourceKind = "oci" | "repository" | "local";

const OCI = /^oci:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)+$/;
const HTTP = /^https?:\/\//;
const LOCAL = /^(\.{1,2}\/|\/)/;

/** An exact chart version (SemVer 2, Helm accepts a leading `v`); never a range. */
const EXACT_VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** Which kind of source `source` is, or undefined when it is none of them. */
export function chartSourceKind(source: string): ChartSourceKind | undefined {
  if (source.startsWith("oci://")) return "oci";
  if (HTTP.test(source)) return "repository";
  if (LOCAL.test(source)) return "local";
  return undefined;
}

/** A local chart folder as the program and the Kubernetes provider resolve it: from the project folder. */
export function localChartPath(source: string): string {
  return path.resolve(process.cwd(), source);
}

function sourceProblem(source: string): string | undefined {
  const shown = JSON.stringify(source);
  switch (chartSourceKind(source)) {
    case "oci":
      return OCI.test(source)
        ? undefined
        : `${shown} is not an OCI chart reference; write oci://<registry>[:port]/<path>/<chart> (lower-case path, no tag: the version goes in chart.version)`;
    case "repository":
      try {
        new URL(source);
        return undefined;
      } catch {
        return `${shown} is not a URL; write the Helm repository's address, such as https://charts.example.com/stable`;
      }
    case "local": {
      const dir = localChartPath(source);
      let isDir = false;
      try {
        isDir = fs.statSync(dir).isDirectory();
      } catch {
        // Missing: reported below.
      }
      if (!isDir) {
        return `${shown} is not a folder (looked for ${dir}); a local chart is the folder that holds Chart.yaml, relative to the project folder or absolute`;
      }
      if (!fs.existsSync(path.join(dir, "Chart.yaml"))) {
        return `${shown} has no Chart.yaml; point it at the chart's own folder (the one holding Chart.yaml)`;
      }
      return undefined;
    }
    default:
      return `${shown} is not a chart source; use an OCI reference (oci://registry.example.com/charts/<chart>), a Helm repository URL (https://charts.example.com) or a local chart folder (./path or /absolute/path)`;
  }
}

/**
 * Where a service's chart comes from, for a mirror behind a firewall or a local copy. Unset: the pinned
 * chart from its public location (components/shared/charts.ts).
 */
export const chartSourceSchema = z
  .object({
    /**
     * `oci://<registry>/<path>/<chart>` (an OCI registry; the last segment is the chart's name),
     * `https://...` (a classic Helm repository, with `name`), or a local chart folder (`./path`, `../path`
     * or `/absolute/path`; relative to the project folder).
     */
    source: z.string().superRefine((v, ctx) => {
      const problem = sourceProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    /** The chart's name in a Helm repository; default: the pinned chart's name. Repository sources only. */
    name: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
        "is not a chart name (lower-case letters, digits, '-', '_', '.')",
      )
      .optional(),
    /**
     * Exact chart version; default: the pinned version, which the values were checked against. A local
     * folder's Chart.yaml must carry this version.
     */
    version: z
      .string()
      .regex(EXACT_VERSION, "is not an exact chart version such as 15.5.38 (no range)")
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const kind = chartSourceKind(c.source);
    if (c.name !== undefined && kind !== "repository" && kind !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message:
          kind === "oci"
            ? `${JSON.stringify(c.name)} is not used with an oci:// source, whose last path segment is the chart's name; remove chart.name`
            : `${JSON.stringify(c.name)} is not used with a local folder, whose Chart.yaml names the chart; remove chart.name`,
      });
    }
  });
export type ChartSourceConfig = z.infer<typeof chartSourceSchema>;

/** A Secret's name: a DNS subdomain (RFC 1123). */
const secretName = z
  .string()
  .max(253, "is longer than 253 characters, the limit of a Kubernetes object name")
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "is not a Kubernetes Secret name (lower-case letters, digits, '-' and '.')",
  );

/**
 * Credentials the user keeps (External Secrets, Vault, by hand) instead of generated ones. The program
 * reads the Secret, points the chart at it (`existingSecret`) and creates no password and no Secret of
 * its own for the service. The keys each service's Secret must hold are listed in the README
 * ("Credentials you manage").
 */
export const credentialsSchema = z
  .object({
    /** Name of a Secret in the stack's namespace; it must exist before `pulumi preview`. */
    existingSecret: secretName,
  })
  .strict();
export type CredentialsConfig = z.infer<typeof credentialsSchema>;
