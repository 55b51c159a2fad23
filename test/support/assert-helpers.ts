/** Assertions shared by the unit tests. */
import * as assert from "node:assert/strict";
import { leafPaths, ProgramRun } from "./program";

/** Fails when values set a key path that is not in the chart's checked list. `labels`-like maps are leaves. */
export function assertKnownKeys(
  values: Record<string, unknown>,
  known: string[],
  mapKeys: string[] = [],
): void {
  const normalised = leafPaths(values).map((p) => {
    const m = mapKeys.find((k) => p === k || p.startsWith(`${k}.`));
    return m ?? p;
  });
  const unknown = [...new Set(normalised)].filter((p) => !known.includes(p));
  assert.deepEqual(unknown, [], `values keys not in the pinned chart: ${unknown.join(", ")}`);
}

/** Marker of every mocked generated password (see program-child.ts). */
export const MOCK_SECRET = "MOCKSECRET";

/** Paths (resource/inputs path) where a generated password appears outside a Secret's data. */
export function leakedPasswords(run: ProgramRun): string[] {
  const hits: string[] = [];
  for (const r of run.resources) {
    if (r.type === "kubernetes:core/v1:Secret") continue;
    const walk = (v: unknown, p: string): void => {
      // An initialiser takes credentials as secret inputs (encrypted in state); anywhere else it is a leak.
      const allowed = r.type.startsWith("pulumi-nodejs:dynamic") && isSecretInput(r, p);
      if (typeof v === "string" && v.includes(MOCK_SECRET) && !allowed)
        hits.push(`${r.type} ${r.name}: ${p}`);
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}[${i}]`));
      else if (v !== null && typeof v === "object")
        Object.entries(v).forEach(([k, x]) => walk(x, p ? `${p}.${k}` : k));
    };
    walk(r.inputs, "");
  }
  return hits;
}

/** True when the input at `path` (or an object that contains it) was a Pulumi secret. */
export function isSecretInput(resource: { secretPaths: string[] }, path: string): boolean {
  return resource.secretPaths.some((p) => p === path || path.startsWith(`${p}.`) || p === "");
}
