/**
 * Reading resource properties the way the policy framework hands them over: plain JSON, except that
 * during `pulumi preview` a value the engine does not know yet (an output of another resource) throws
 * `UnknownValueError` when read. A policy that lets that error escape is reported as "can't run during
 * preview" (advisory) and checked again with the real values on `pulumi up`, which is right for a value
 * the policy needs. Walkers that scan whole subtrees skip unknown leaves instead (see {@link leaves}).
 *
 * This module and every rule import nothing from `@pulumi/policy` at run time (type imports only), so
 * the project's unit tests can load the rules without the pack's own `node_modules`.
 */

/** A JSON object as it appears in resource properties and Helm values. */
export type JsonObject = Record<string, unknown>;

/** True for `@pulumi/policy`'s `UnknownValueError` (its class is internal, so it is matched by shape). */
export function isUnknownValueError(e: unknown): boolean {
  return e instanceof Error && (e.constructor.name === "UnknownValueError" || "unknownTypeSentinel" in e);
}

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * The value at `path` under `obj` (`"primary.persistence.size"`, or an array of keys when a key holds a
 * dot, such as Kafka's `min.insync.replicas`); `undefined` when any step is missing. Unknown values throw.
 */
export function get(obj: unknown, path: string | readonly string[]): unknown {
  const keys = typeof path === "string" ? path.split(".") : path;
  let cur: unknown = obj;
  for (const key of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as JsonObject)[key];
  }
  return cur;
}

/** A Helm-style boolean (`true`, `"true"`), or `fallback` (the chart's default) when unset or unknown. */
export function bool(v: unknown, fallback: boolean): boolean {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  return fallback;
}

/** A number (or numeric string, as Helm values sometimes carry), else `fallback`. */
export function num(v: unknown, fallback: number): number;
export function num(v: unknown, fallback?: number): number | undefined;
export function num(v: unknown, fallback?: number): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return fallback;
}

/** A non-empty string, else `undefined`. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** The entries of an object or array whose values are known (reading an unknown one throws). */
function knownChildren(v: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const k of Object.keys(v)) {
    try {
      out.push([k, (v as JsonObject)[k]]);
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
    }
  }
  return out;
}

/** One leaf of a JSON tree: its key path and value. */
export interface Leaf {
  path: string[];
  value: unknown;
}

/**
 * Every leaf (scalar, or empty object/array) under `root`, depth first, with array indexes as keys.
 * Unknown values are skipped; `skip(path)` prunes a subtree (for example `envSecrets`, which holds
 * Secret names, not secrets).
 */
export function leaves(root: unknown, skip: (path: string[]) => boolean = () => false): Leaf[] {
  const out: Leaf[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (skip(path)) return;
    if (v !== null && typeof v === "object") {
      if (Object.keys(v).length === 0) out.push({ path, value: v });
      for (const [k, child] of knownChildren(v)) walk(child, [...path, k]);
      return;
    }
    out.push({ path, value: v });
  };
  walk(root, []);
  return out;
}

/** Every object (arrays excluded) under `root`, with its path; unknown values are skipped. */
export function objects(root: unknown): Array<{ path: string[]; value: JsonObject }> {
  const out: Array<{ path: string[]; value: JsonObject }> = [];
  const walk = (v: unknown, path: string[]): void => {
    if (v === null || typeof v !== "object") return;
    if (!Array.isArray(v)) out.push({ path, value: v as JsonObject });
    for (const [k, child] of knownChildren(v)) walk(child, [...path, k]);
  };
  walk(root, []);
  return out;
}

/** `a.b[0].c` for messages. */
export function formatPath(path: readonly string[]): string {
  return path.reduce((acc, k) => (/^\d+$/.test(k) ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), "");
}
