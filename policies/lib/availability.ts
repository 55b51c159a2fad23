/**
 * How each pinned chart spreads a service's replicas and limits voluntary evictions: the replica count
 * of every multi-pod component, where its anti-affinity is set (`podAntiAffinityPreset` or a raw
 * `affinity`) and its PodDisruptionBudget block, with each chart's defaults (values.yaml at the commits
 * named in lib/workloads.ts).
 */
import { HelmRelease, mongoReplicaSet, redisSentinel } from "./charts";
import { bool, get, isObject, JsonObject, num, str } from "./values";

/** A set of identical pods of one release (a StatefulSet), with its scheduling settings. */
export interface ReplicatedComponent {
  /** `mongod`, `redis node`, `controller+broker`. */
  role: string;
  replicas: number;
  /** Values path of the anti-affinity preset, when the chart has one. */
  presetPath?: string;
  /** The preset's chart default. */
  presetDefault?: string;
  /** Values path of the raw affinity, which replaces the preset when set. */
  affinityPath: string;
  /** Values path of the `pdb` block, when the chart renders one; with its defaults. */
  pdb?: { path: string; create: boolean; minAvailable: string | number; maxUnavailable: string | number };
}

/** Components with more than one replica that a drain must not take down together. */
export function replicatedComponents(r: HelmRelease): ReplicatedComponent[] {
  const v = r.values;
  const out: ReplicatedComponent[] = [];
  const add = (c: ReplicatedComponent) => {
    if (c.replicas > 1) out.push(c);
  };
  switch (r.service) {
    case "postgresql":
      if (get(v, "architecture") === "replication") {
        add({
          role: "read replica",
          replicas: num(get(v, "readReplicas.replicaCount"), 1),
          presetPath: "readReplicas.podAntiAffinityPreset",
          presetDefault: "soft",
          affinityPath: "readReplicas.affinity",
        });
      }
      break;
    case "mongodb":
      if (mongoReplicaSet(v)) {
        add({
          role: "mongod",
          replicas: num(get(v, "replicaCount"), 2),
          presetPath: "podAntiAffinityPreset",
          presetDefault: "soft",
          affinityPath: "affinity",
          pdb: { path: "pdb", create: false, minAvailable: 1, maxUnavailable: "" },
        });
      }
      break;
    case "redis":
      add({
        role: redisSentinel(v) ? "redis node (with Sentinel)" : "redis replica",
        replicas: num(get(v, "replica.replicaCount"), 3),
        presetPath: "replica.podAntiAffinityPreset",
        presetDefault: "soft",
        affinityPath: "replica.affinity",
        pdb: { path: "pdb", create: false, minAvailable: 1, maxUnavailable: "" },
      });
      break;
    case "kafka":
      for (const [key, role, replicas] of [
        ["controller", "controller+broker", bool(get(v, "kraft.enabled"), true) ? 3 : 0],
        ["broker", "broker", 0],
      ] as const) {
        add({
          role,
          replicas: num(get(v, `${key}.replicaCount`), replicas),
          presetPath: `${key}.podAntiAffinityPreset`,
          presetDefault: "soft",
          affinityPath: `${key}.affinity`,
          pdb: { path: `${key}.pdb`, create: false, minAvailable: "", maxUnavailable: 1 },
        });
      }
      break;
    case "weaviate":
      // The chart's default `affinity` is a weight-1 preference; Helm merges values over it.
      add({ role: "weaviate", replicas: num(get(v, "replicas"), 1), affinityPath: "affinity" });
      break;
    default:
  }
  return out;
}

/** How the component's pods repel each other: `hard`, `soft` or `none`, and from which key. */
export function antiAffinity(v: JsonObject, c: ReplicatedComponent): { mode: string; source: string } {
  const affinity = get(v, c.affinityPath);
  if (isObject(affinity) && Object.keys(affinity).length > 0) {
    const anti = get(affinity, "podAntiAffinity");
    const required = get(anti, "requiredDuringSchedulingIgnoredDuringExecution");
    const preferred = get(anti, "preferredDuringSchedulingIgnoredDuringExecution");
    const mode =
      Array.isArray(required) && required.length > 0 ? "hard" : Array.isArray(preferred) ? "soft" : "none";
    return { mode, source: c.affinityPath };
  }
  if (c.presetPath) {
    return { mode: str(get(v, c.presetPath)) ?? c.presetDefault ?? "none", source: c.presetPath };
  }
  // Weaviate: the chart's default affinity, a preference.
  return { mode: "soft", source: `${c.affinityPath} (chart default)` };
}

/** A PDB's `minAvailable`/`maxUnavailable` as a pod count for `replicas` pods (percentages round up). */
function budgetCount(value: unknown, replicas: number): number | undefined {
  if (typeof value === "string" && /^\d+%$/.test(value.trim())) {
    return Math.ceil((replicas * Number(value.trim().slice(0, -1))) / 100);
  }
  if (value === "" || value === null || value === undefined) return undefined;
  return num(value);
}

/** The PodDisruptionBudget a component gets: whether the chart renders it, and its limits. */
export interface BudgetSettings {
  create: boolean;
  /** Pods a drain may evict at once; `undefined` when neither field is set. */
  evictable?: number;
  /** Both fields set: the Bitnami templates render both and the API server refuses such a PDB. */
  both: boolean;
}

export function disruptionBudget(v: JsonObject, c: ReplicatedComponent): BudgetSettings | undefined {
  const pdb = c.pdb;
  if (!pdb) return undefined;
  const create = bool(get(v, `${pdb.path}.create`), pdb.create);
  const read = (k: "minAvailable" | "maxUnavailable") => {
    const set = get(v, `${pdb.path}.${k}`);
    return budgetCount(set === undefined ? pdb[k] : set, c.replicas);
  };
  // The templates render a field only when it is truthy (`{{- if .Values.pdb.minAvailable }}`).
  const max = read("maxUnavailable") || undefined;
  const min = read("minAvailable") || undefined;
  const evictable = max ?? (min !== undefined ? c.replicas - min : undefined);
  return { create, evictable, both: max !== undefined && min !== undefined };
}
