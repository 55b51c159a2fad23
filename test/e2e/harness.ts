/**
 * Harness of the end-to-end runs: the real Pulumi engine (scripts/engine-build.sh), a temporary copy of
 * the project with its own stack `e2e` (local file backend, passphrase secrets, PULUMI_HOME in a temp
 * dir), every command's output kept for the secret scan, and the wall time of each step.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { TestContext } from "node:test";
import { parse, stringify } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");

/** What the program needs at run time; node_modules are linked, not copied. */
const PROJECT_ENTRIES = [
  "Pulumi.yaml",
  "package.json",
  "tsconfig.json",
  "index.ts",
  "components",
  "config",
  "init",
];
const POLICY_ENTRIES = [
  "PulumiPolicy.yaml",
  "package.json",
  "tsconfig.json",
  "index.ts",
  "lib",
  "rules",
  "config",
];

/**
 * The engine's bin dir from `bash scripts/engine-build.sh` (builds or restores it). Fails under CI=true
 * when it cannot be had; locally the test is skipped with the reason.
 */
export function engineBin(t: TestContext): string | undefined {
  const started = Date.now();
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "engine-build.sh")], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = (r.stdout ?? "").trim().split("\n");
  const bin = lines[lines.length - 1];
  if (r.status !== 0 || !bin || !fs.existsSync(path.join(bin, "pulumi"))) {
    const reason = `the Pulumi engine could not be built (scripts/engine-build.sh exit ${r.status}):\n${(r.stderr ?? "").slice(-4000)}`;
    if (process.env.CI === "true") throw new Error(`engine required under CI=true: ${reason}`);
    t.skip(reason);
    return undefined;
  }
  timing("engine-build-or-restore", Date.now() - started);
  return bin;
}

const timings: Array<[string, number]> = [];

/** Records and prints a step's wall time: `e2e timing: <step> 12.3 s`. */
export function timing(step: string, ms: number): void {
  timings.push([step, ms]);
  console.log(`e2e timing: ${step} ${(ms / 1000).toFixed(1)} s`);
}

/** Every recorded step time, in order. */
export function timingSummary(): string {
  return timings.map(([s, ms]) => `  ${s.padEnd(36)} ${(ms / 1000).toFixed(1).padStart(6)} s`).join("\n");
}

/** Records a command's wall time under `stepName` (see {@link timing}) and returns it. */
export function timed(stepName: string, r: CommandResult): CommandResult {
  timing(stepName, r.ms);
  return r;
}

/** Subtests that run in order; after one fails, the rest are skipped with the failed one's name. */
export class Steps {
  /** The step that failed, if any. */
  failed?: string;

  constructor(private readonly t: TestContext) {}

  /** Runs `fn` as subtest `name` unless an earlier step failed. */
  readonly step = async (name: string, fn: () => Promise<void>): Promise<void> => {
    await this.t.test(
      name,
      { skip: this.failed ? `not run: step "${this.failed}" failed` : false },
      async () => {
        try {
          await fn();
        } catch (e) {
          this.failed = name;
          throw e;
        }
      },
    );
  };
}

export interface CommandResult {
  code: number | null;
  /** stdout + stderr. */
  out: string;
  ms: number;
}

/** `pulumi up` without a preview or progress lines (add "--diff" for the operations' details). */
export const UP = ["up", "--yes", "--skip-preview", "--suppress-progress"];
/** `pulumi preview` that fails on any change. */
export const PREVIEW_NO_CHANGES = ["preview", "--expect-no-changes", "--suppress-progress"];

/** A Pulumi workspace: temp project copy, PULUMI_HOME, file backend, stack `e2e`. */
export class Workspace {
  readonly dir: string;
  readonly project: string;
  readonly env: NodeJS.ProcessEnv;
  /** Output of every command run here, for the secret scan (the `--show-secrets` export excluded). */
  readonly transcript: string[] = [];
  readonly stack = "e2e";

  constructor(readonly bin: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-e2e-"));
    this.project = path.join(this.dir, "project");
    const home = path.join(this.dir, "pulumi-home");
    const state = path.join(this.dir, "state");
    fs.mkdirSync(state, { recursive: true });
    // The provider plugins (resource-random-v*, resource-kubernetes-v*: scripts/engine-build.sh) in the
    // plugin-cache layout: a real directory per plugin (the engine skips a symlinked one), the binary a
    // link. Only these are offered: automatic plugin acquisition is off.
    const plugins = path.join(bin, "plugins");
    const found = fs.readdirSync(plugins);
    for (const want of ["resource-random-v", "resource-kubernetes-v"])
      if (!found.some((p) => p.startsWith(want)))
        throw new Error(`no ${want}* plugin in ${plugins}: rebuild with scripts/engine-build.sh`);
    for (const p of found) {
      fs.mkdirSync(path.join(home, "plugins", p), { recursive: true });
      for (const f of fs.readdirSync(path.join(plugins, p)))
        fs.symlinkSync(path.join(plugins, p, f), path.join(home, "plugins", p, f));
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("PULUMI_")) delete env[k];
    this.env = {
      ...env,
      // The node running this test goes first: the language host and the dynamic-provider launcher
      // run the program with the `node` they find on PATH (Node 24 in CI: scripts/node.sh).
      PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${state}`,
      PULUMI_CONFIG_PASSPHRASE: `e2e-passphrase-${path.basename(this.dir)}`,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      NO_COLOR: "1",
    };
    this.copyProject();
  }

  get stateDir(): string {
    return this.env.PULUMI_BACKEND_URL!.slice("file://".length);
  }

  private copyProject(): void {
    fs.mkdirSync(this.project);
    for (const e of PROJECT_ENTRIES)
      fs.cpSync(path.join(ROOT, e), path.join(this.project, e), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(this.project, "node_modules"));
    const pol = path.join(this.project, "policies");
    fs.mkdirSync(pol);
    for (const e of POLICY_ENTRIES)
      fs.cpSync(path.join(ROOT, "policies", e), path.join(pol, e), { recursive: true });
    const polModules = path.join(ROOT, "policies", "node_modules");
    if (!fs.existsSync(polModules))
      throw new Error(`${polModules} is missing: run 'npm ci --prefix policies'`);
    fs.symlinkSync(polModules, path.join(pol, "node_modules"));
    fs.mkdirSync(path.join(this.project, "scripts"));
    fs.cpSync(path.join(ROOT, "scripts", "preview.sh"), path.join(this.project, "scripts", "preview.sh"));
  }

  /** Runs a command in the project copy; `secretOutput` keeps its output out of the transcript. */
  run(cmd: string, args: string[], opts: { secretOutput?: boolean; input?: string } = {}): CommandResult {
    const started = Date.now();
    const r = spawnSync(cmd, args, {
      cwd: this.project,
      env: this.env,
      encoding: "utf8",
      input: opts.input,
      maxBuffer: 256 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `\n${String(r.error)}` : ""}`;
    if (!opts.secretOutput) this.transcript.push(`$ ${cmd} ${args.join(" ")}\n${out}`);
    return { code: r.status, out, ms: Date.now() - started };
  }

  /** `pulumi <args> --non-interactive --color never` on stack e2e. */
  pulumi(args: string[], opts: { secretOutput?: boolean } = {}): CommandResult {
    return this.run("pulumi", [...args, "--non-interactive", "--color", "never"], opts);
  }

  /** Like {@link pulumi}, without blocking: the test can act on the servers while the command runs. */
  pulumiAsync(args: string[]): Promise<CommandResult> {
    const started = Date.now();
    const all = [...args, "--non-interactive", "--color", "never"];
    return new Promise((resolve) => {
      const child = spawn("pulumi", all, {
        cwd: this.project,
        env: this.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill("SIGTERM"), 15 * 60 * 1000);
      const done = (code: number | null, err?: unknown) => {
        clearTimeout(timer);
        if (err) out += `\n${String(err)}`;
        this.transcript.push(`$ pulumi ${all.join(" ")}\n${out}`);
        resolve({ code, out, ms: Date.now() - started });
      };
      child.once("error", (e) => done(null, e));
      child.once("close", (code) => done(code));
    });
  }

  /** `pulumi preview` with the project's policy pack and its config policies/config/<name>.json. */
  policyPreview(name: string): CommandResult {
    return this.pulumi([
      "preview",
      "--suppress-progress",
      "--policy-pack",
      "policies",
      "--policy-pack-config",
      `policies/config/${name}.json`,
    ]);
  }

  /** Like {@link pulumi}, and fails with the command's output unless it exits 0. */
  pulumiOk(args: string[], opts: { secretOutput?: boolean } = {}): CommandResult {
    const r = this.pulumi(args, opts);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.out.slice(-8000)}`);
    return r;
  }

  /**
   * `pulumi config set --secret` for every key, each value on stdin (never in argv: nothing secret in a
   * process list or in the transcript's command lines); the wall time of all of them.
   */
  setSecrets(secrets: Record<string, string>): number {
    let ms = 0;
    for (const [k, v] of Object.entries(secrets)) {
      const r = this.run("pulumi", ["config", "set", "--secret", k, "--non-interactive"], { input: v });
      if (r.code !== 0) throw new Error(`pulumi config set --secret ${k} exited ${r.code}:\n${r.out}`);
      ms += r.ms;
    }
    return ms;
  }

  /** One resource of `pulumi stack export` (secrets not shown), by its name (the end of its URN). */
  exportedResource(
    name: string,
  ): { urn: string; outputs?: Record<string, unknown>; initErrors?: string[] } | undefined {
    const exported = JSON.parse(this.pulumiOk(["stack", "export"]).out) as {
      deployment: { resources: { urn: string; outputs?: Record<string, unknown>; initErrors?: string[] }[] };
    };
    return exported.deployment.resources.find((r) => r.urn.endsWith(`::${name}`));
  }

  stackFile(): string {
    return path.join(this.project, `Pulumi.${this.stack}.yaml`);
  }

  /** Sets `<project>:<key>` in the stack file for every key of `config`; other keys are kept. */
  writeConfig(project: string, config: Record<string, unknown>): void {
    const file = this.stackFile();
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    doc.config = doc.config ?? {};
    for (const [k, v] of Object.entries(config)) doc.config[`${project}:${k}`] = v;
    fs.writeFileSync(file, stringify(doc));
  }

  /** Every file of the local backend (state, history, backups). */
  backendFiles(): string[] {
    const out: string[] = [];
    const walk = (p: string): void => {
      for (const e of fs.readdirSync(p, { withFileTypes: true })) {
        const f = path.join(p, e.name);
        if (e.isDirectory()) walk(f);
        else if (e.isFile()) out.push(f);
      }
    };
    walk(this.stateDir);
    return out;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Counts from the `Resources:` summary of up/preview/refresh/destroy. */
export interface Summary {
  created: number;
  updated: number;
  deleted: number;
  replaced: number;
  unchanged: number;
}

export function summary(out: string): Summary {
  const at = out.lastIndexOf("Resources:");
  const tail = at >= 0 ? out.slice(at) : "";
  const count = (re: RegExp): number => {
    const m = tail.match(re);
    return m ? Number(m[1]) : 0;
  };
  return {
    created: count(/(\d+) (?:created|to create)/),
    updated: count(/(\d+) (?:updated|to update)/),
    deleted: count(/(\d+) (?:deleted|to delete)/),
    replaced: count(/(\d+) (?:replaced|to replace)/),
    unchanged: count(/(\d+) unchanged/),
  };
}

/** The lines of an output that mention `needle`, for assertion messages. */
export function linesWith(out: string, needle: string | RegExp): string[] {
  return out.split("\n").filter((l) => (typeof needle === "string" ? l.includes(needle) : needle.test(l)));
}

/**
 * Why an output's operations are not `expected`: the operations, then the `--diff` lines around each
 * resource that should not have changed (a long release diff would push them out of the output's tail).
 */
export function unexpectedChanges(
  out: string,
  got: Record<string, string>,
  expected: Record<string, string>,
): string {
  const lines = out.split("\n");
  const blocks = Object.keys(got)
    .filter((name) => got[name] !== expected[name])
    .map((name) => {
      const at = lines.findIndex((l) => l.includes(`::${name}]`));
      return at < 0
        ? `${name}: not found in the output`
        : lines.slice(Math.max(0, at - 2), at + 60).join("\n");
    });
  return [`operations: ${JSON.stringify(got)}`, ...blocks, "--- output tail:", out.slice(-2000)].join("\n");
}

/**
 * The operation on each resource, by name, from the `--diff` output of up/preview/refresh/destroy
 * ("~ pulumi-nodejs:dynamic:Resource: (update)" followed by "[urn=...::kafka-topics]"); unchanged
 * resources ("(same)") are left out, and with `changesOnly` the reads too (of the user's Secrets, ...).
 */
export function operations(out: string, opts: { changesOnly?: boolean } = {}): Record<string, string> {
  const ops: Record<string, string> = {};
  let op: string | undefined;
  for (const line of out.split("\n")) {
    // Type tokens may hold a slash (kubernetes:helm.sh/v3:Release, random:index/randomPassword:...).
    const m = line.match(/^\s*[~+\-<>=*]*\s*[\w:./$-]+: \(([\w-]+)\)\s*$/);
    if (m) {
      op = m[1];
      continue;
    }
    const u = line.match(/^\s*\[urn=urn:pulumi:[^\]]*::([^:\]]+)\]\s*$/);
    if (u && op) {
      if (op !== "same" && !(opts.changesOnly && op === "read")) ops[u[1]] = op;
      op = undefined;
    }
  }
  return ops;
}

/**
 * `pulumi preview` of a program that declares nothing, on the same engine and project set-up: the floor
 * under every step's time, printed beside the stack's own no-op preview so the ratio can be read off.
 */
export function emptyProgramPreview(bin: string): CommandResult {
  const ws = new Workspace(bin);
  try {
    fs.writeFileSync(
      path.join(ws.project, "index.ts"),
      "// Declares nothing: the engine's floor.\nexport {};\n",
    );
    ws.pulumiOk(["stack", "init", ws.stack]);
    return ws.pulumiOk(["preview", "--suppress-progress"]);
  } finally {
    ws.remove();
  }
}
