/** Pure diffing helpers for the initialisers' `diff`: no network, exact, secrets compared by value. */

/** Stable JSON: object keys sorted, so key order in config never shows as a change. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The input keys whose values differ between old and new (ignoring `__provider`, `forward` and the given
 * keys). `forward` (shared/port-forward.ts) says how the server is reached from where `pulumi up` runs
 * (another laptop, another kubeconfig path), not what it should hold: it is never a change.
 */
export function changedKeys(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  ignore: string[] = [],
): string[] {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
  return [...keys]
    .filter((k) => k !== "__provider" && k !== "forward" && !ignore.includes(k))
    .filter((k) => stableJson(olds[k]) !== stableJson(news[k]))
    .sort();
}

/**
 * The `diff` every initialiser returns: a change when an input differs (outputs such as `log` ignored),
 * or when `extraChange` says so (drift found by refresh, a comparison of its own); never a replacement,
 * because every initialiser converges its server in place.
 */
export function inPlaceDiff(
  olds: object,
  news: object,
  ignore: string[],
  extraChange = false,
): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
  const changes = changedKeys(olds as Record<string, unknown>, news as Record<string, unknown>, ignore);
  return { changes: changes.length > 0 || extraChange, replaces: [], deleteBeforeReplace: false };
}

/**
 * The names an update no longer declares (what `olds` held and `news` does not): the candidates for
 * removal, which each initialiser keeps or removes by its own data-safety rule.
 */
export function removedNames(
  olds: readonly { name: string }[] | undefined,
  news: readonly { name: string }[],
): string[] {
  const kept = new Set(news.map((n) => n.name));
  return (olds ?? []).map((o) => o.name).filter((n) => !kept.has(n));
}
