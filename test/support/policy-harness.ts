/**
 * Runs the CrossGuard policies (policies/rules) against what the program registers under mocks, the way
 * the pack hands resources over. @pulumi/policy has no test helper: the policies' `validateResource` /
 * `validateStack` are called with a fake args object and a `reportViolation` that collects. Only types are
 * imported from the pack, so the tests run without policies/node_modules.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  AnyPolicy,
  PolicyResource,
  ResourceValidationArgs,
  StackValidationArgs,
} from "../../policies/rules";
import { ProgramRun, RegisteredResource, ROOT } from "./program";

export type Stack = "dev" | "prod";
export type PolicyConfigEntry = string | ({ enforcementLevel?: string } & Record<string, unknown>);
export type PackConfig = Record<string, PolicyConfigEntry>;

const RELEASE = "kubernetes:helm.sh/v3:Release";

/** A policy config file as `pulumi preview --policy-pack-config` reads it. */
export function packConfig(stack: Stack): PackConfig {
  return JSON.parse(fs.readFileSync(path.join(ROOT, "policies", "config", `${stack}.json`), "utf8"));
}

/** What `args.getConfig()` returns in the pack: the policy's entry without `enforcementLevel`. */
export function configFor(config: PackConfig, policy: AnyPolicy): Record<string, unknown> {
  const entry = config[policy.name];
  if (entry === undefined || typeof entry === "string") return {};
  const props: Record<string, unknown> = { ...entry };
  delete props.enforcementLevel;
  return props;
}

/** The enforcement level the pack applies: the config's, else the policy's own. */
export function enforcementOf(config: PackConfig, policy: AnyPolicy): string {
  const entry = config[policy.name];
  const fromConfig = typeof entry === "string" ? entry : entry?.enforcementLevel;
  return fromConfig ?? policy.enforcementLevel ?? "advisory";
}

export function urnOf(r: RegisteredResource): string {
  return `urn:pulumi:test::ai-platform-data::${r.type}::${r.name}`;
}

const notApplicable = (reason?: string): never => {
  throw new Error(`notApplicable: ${reason}`);
};

/** What the pack hands a rule about one resource, in both validateResource and validateStack. */
function policyResource(r: RegisteredResource) {
  return {
    type: r.type,
    props: r.inputs,
    urn: urnOf(r),
    name: r.name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    isType: () => false,
    asType: () => undefined,
  };
}

function resourceArgs(r: RegisteredResource, config: Record<string, unknown>): ResourceValidationArgs {
  return {
    ...policyResource(r),
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
}

function stackArgs(resources: RegisteredResource[], config: Record<string, unknown>): StackValidationArgs {
  const policyResources: PolicyResource[] = resources.map((r) => ({
    ...policyResource(r),
    dependencies: [],
    propertyDependencies: {},
  }));
  return {
    resources: policyResources,
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable,
  };
}

export interface Violation {
  policy: string;
  urn?: string;
  message: string;
}

/** Runs one policy over the resources with the given config entry, collecting its violations. */
export async function violations(
  policy: AnyPolicy,
  resources: RegisteredResource[],
  config: Record<string, unknown> = {},
): Promise<Violation[]> {
  const out: Violation[] = [];
  if ("validateStack" in policy) {
    await policy.validateStack(stackArgs(resources, config), (message, urn) =>
      out.push({ policy: policy.name, urn, message }),
    );
    return out;
  }
  const validations = [policy.validateResource ?? []].flat();
  for (const r of resources) {
    for (const validate of validations) {
      await validate(resourceArgs(r, config), (message) =>
        out.push({ policy: policy.name, urn: urnOf(r), message }),
      );
    }
  }
  return out;
}

/** Violations of a policy over a run, with the stack's own pack config. */
export function check(policy: AnyPolicy, run: ProgramRun, stack: Stack): Promise<Violation[]> {
  return violations(policy, run.resources, configFor(packConfig(stack), policy));
}

/** Violations with an explicit config entry (as a `--policy-pack-config` file would give it). */
export function checkWith(
  policy: AnyPolicy,
  run: ProgramRun,
  config: Record<string, unknown>,
): Promise<Violation[]> {
  return violations(policy, run.resources, config);
}

export function messages(vs: Violation[]): string {
  return vs.map((v) => `${v.policy}: ${v.message}`).join("\n");
}

/** A deep copy of a run, so one test's change does not leak into another. */
export function copy(run: ProgramRun): ProgramRun {
  return structuredClone(run);
}

export function release(run: ProgramRun, name: string): RegisteredResource {
  const r = run.resources.find((x) => x.type === RELEASE && x.inputs.name === name);
  assert.ok(r, `the program registers no Helm release "${name}"`);
  return r;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped JSON
export type Json = any;

export function valuesOf(run: ProgramRun, name: string): Json {
  return release(run, name).inputs.values;
}

export function resource(run: ProgramRun, type: string, name: string): RegisteredResource {
  const r = run.resources.find((x) => x.type === type && x.name === name);
  assert.ok(r, `the program registers no ${type} "${name}"`);
  return r;
}

export function without(run: ProgramRun, type: string, name: string): ProgramRun {
  const out = copy(run);
  out.resources = out.resources.filter((r) => !(r.type === type && r.name === name));
  return out;
}

/** Stand-in for @pulumi/policy's internal error when a policy reads a value unknown during preview. */
export class UnknownValueError extends Error {}

/** `obj` as the pack sees it in preview when the keys named in `unknown` are outputs not known yet. */
export function withUnknowns<T extends object>(obj: T, unknown: string[]): T {
  return new Proxy(obj, {
    get(target, key, receiver) {
      if (typeof key === "string" && unknown.includes(key)) throw new UnknownValueError(`${key} unknown`);
      return Reflect.get(target, key, receiver);
    },
  });
}
