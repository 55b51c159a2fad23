/**
 * Runs the program under Pulumi mocks from the real stack files, in a child process per run, and
 * returns the resources it registered and its stack outputs.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");
const PROJECT = "ai-platform-data";

export interface RegisteredResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Input paths that were Pulumi secrets (`stringData.password`, ...). */
  secretPaths: string[];
  /** Resource options the engine acts on (`retainOnDelete`, `protect`, ...), as the program set them. */
  options: {
    retainOnDelete?: boolean;
    protect?: boolean;
    deleteBeforeReplace?: boolean;
    ignoreChanges?: string[];
    additionalSecretOutputs?: string[];
  };
  /** The id of an existing resource the program reads (`Secret.get`), else absent. */
  readId?: string;
  /** The resource's URN (parent types, type, name); absent when two share a type and name. */
  urn?: string;
}

export interface ProgramRun {
  resources: RegisteredResource[];
  outputs: Record<string, { value: unknown; secret: boolean }>;
}

/** Config of a stack file, with `ai-platform-data:` keys, values as the engine hands them (JSON strings). */
export function stackConfig(stack: string): Record<string, unknown> {
  const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return { ...(doc.config ?? {}) };
}

/** Defaults declared in Pulumi.yaml, as the engine adds them for keys the stack does not set. */
export function projectDefaults(): Record<string, unknown> {
  const doc = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config)) {
    if (v.default !== undefined) out[`${PROJECT}:${k}`] = v.default;
  }
  return out;
}

/**
 * The keys the engine would list as secret (`PULUMI_CONFIG_SECRET_KEYS`): those Pulumi.yaml declares
 * `secret: true` that the config sets, as if set with `pulumi config set --secret`.
 */
function secretKeys(config: Record<string, unknown>): string {
  const doc = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { secret?: boolean }>;
  };
  const declared = Object.keys(doc.config).filter((k) => doc.config[k].secret === true);
  return JSON.stringify(declared.map((k) => `${PROJECT}:${k}`).filter((k) => (config[k] ?? "") !== ""));
}

function engineConfig(config: Record<string, unknown>): string {
  const asStrings: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) asStrings[k] = typeof v === "string" ? v : JSON.stringify(v);
  return JSON.stringify(asStrings);
}

/** Every file the program's behaviour depends on, so a cached run is reused only for identical code. */
function programFingerprint(): string {
  const h = createHash("sha256");
  const walk = (p: string): void => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
    } else {
      h.update(p).update(fs.readFileSync(p));
    }
  };
  for (const p of [
    "index.ts",
    "Pulumi.yaml",
    "package-lock.json",
    "config",
    "components",
    "init",
    "test/support",
    // Local chart folders the program reads (Chart.yaml) when a run points at them.
    "test/fixtures/charts",
  ]) {
    walk(path.join(ROOT, p));
  }
  return h.digest("hex");
}
let fingerprint: string | undefined;

/** Secrets that exist in the mocked cluster for `Secret.get`: `{"<namespace>/<name>": {key: value}}`. */
export type ClusterSecrets = Record<string, Record<string, string>>;

/**
 * Runs the program; `overrides` replace whole top-level keys (`ai-platform-data:redis`, ...);
 * `clusterSecrets` are what a read of an existing Secret finds. A run is deterministic under mocks, so
 * its result is cached in the temp dir, keyed by Node's version, the code, the config and those Secrets: the unit test
 * files ask for the dev and prod runs many times.
 */
export function runProgram(
  stack: string,
  overrides: Record<string, unknown> = {},
  clusterSecrets: ClusterSecrets = {},
): ProgramRun | { error: { name: string; message: string } } {
  const config = { ...projectDefaults(), ...stackConfig(stack), ...overrides };
  clusterSecrets = { ...offsiteSecret(config), ...clusterSecrets };
  fingerprint ??= programFingerprint();
  // Node's version is part of the key: `test:unit:node22` must run the program on Node 22, not read
  // what the Node 24 pass just cached.
  const key = createHash("sha256")
    .update(process.version)
    .update(fingerprint)
    .update(stack)
    .update(engineConfig(config))
    .update(JSON.stringify(clusterSecrets))
    .digest("hex");
  const cacheDir = path.join(os.tmpdir(), "ai-platform-data-mock-runs");
  const cached = path.join(cacheDir, `${key}.json`);
  if (fs.existsSync(cached)) return JSON.parse(fs.readFileSync(cached, "utf8"));
  const out = runChild({
    cwd: ROOT,
    env: {
      ...process.env,
      PULUMI_CONFIG: engineConfig(config),
      PULUMI_CONFIG_SECRET_KEYS: secretKeys(config),
      AIPD_STACK: stack,
      AIPD_MOCK_SECRETS: JSON.stringify(clusterSecrets),
    },
  });
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}`;
  fs.writeFileSync(tmp, out);
  fs.renameSync(tmp, cached);
  return JSON.parse(out);
}

/**
 * The Secret `backup.s3.existingSecret` names, as a cluster that runs the stack holds it (prod's stack
 * file sets backup.s3): mock keys, so that a run needs no Secret of the test's own.
 */
function offsiteSecret(config: Record<string, unknown>): ClusterSecrets {
  const backup = config[`${PROJECT}:backup`] as { s3?: { existingSecret?: string } } | undefined;
  const name = backup?.s3?.existingSecret;
  if (!name) return {};
  const namespace = (config[`${PROJECT}:namespace`] as string | undefined) ?? "ai-platform-data";
  return {
    [`${namespace}/${name}`]: {
      AWS_ACCESS_KEY_ID: "MOCKSECRETofsiteKeyId",
      AWS_SECRET_ACCESS_KEY: "MOCKSECRETofsiteKey",
    },
  };
}

/** Exit code of program-child.ts when the run failed with a RunError it printed as `{error}`. */
const RUN_ERROR_EXIT = 2;

/** Runs program-child.ts; its stdout, also when it exits reporting a RunError. */
function runChild(opts: { cwd: string; env: NodeJS.ProcessEnv }): string {
  try {
    return execFileSync(process.execPath, ["--import", "tsx", path.join(__dirname, "program-child.ts")], {
      ...opts,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { status?: number; stdout?: string };
    if (err.status === RUN_ERROR_EXIT && err.stdout) return err.stdout;
    throw e;
  }
}

/** Like {@link runProgram} but fails the test when the program errored. */
export function runOk(
  stack: string,
  overrides: Record<string, unknown> = {},
  clusterSecrets: ClusterSecrets = {},
): ProgramRun {
  const r = runProgram(stack, overrides, clusterSecrets);
  if ("error" in r) throw new Error(`program failed: ${r.error.message}`);
  return r;
}

/** Like {@link runProgram} but returns the error message, failing when the program succeeded. */
export function runError(
  stack: string,
  overrides: Record<string, unknown> = {},
  clusterSecrets: ClusterSecrets = {},
): string {
  const r = runProgram(stack, overrides, clusterSecrets);
  if (!("error" in r)) throw new Error("program succeeded but an error was expected");
  return r.error.message;
}

export function byType(run: ProgramRun, type: string): RegisteredResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** The values of the Helm release of a chart (matched by chart reference). */
export function releaseValues(run: ProgramRun, chartSuffix: string): Record<string, unknown> {
  const rel = byType(run, "kubernetes:helm.sh/v3:Release").find((r) =>
    String(r.inputs.chart).endsWith(chartSuffix),
  );
  if (!rel) throw new Error(`no Helm release of ${chartSuffix}`);
  return rel.inputs.values as Record<string, unknown>;
}

/** Every leaf key path of a values object, arrays as `[]`. */
export function leafPaths(obj: unknown, prefix = ""): string[] {
  if (Array.isArray(obj)) {
    if (obj.length === 0) return [prefix];
    return [...new Set(obj.flatMap((v) => leafPaths(v, `${prefix}[]`)))];
  }
  if (obj !== null && typeof obj === "object" && Object.keys(obj).length > 0) {
    return Object.entries(obj).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}
