/**
 * How a service's replicas survive a node drain (issue 8, item 8): pod anti-affinity spreads them over
 * nodes, a PodDisruptionBudget lets a drain evict only one at a time. Every component asks here, so the
 * services agree on both.
 */
import { PlatformConfig } from "../../config";

/**
 * `platform.podAntiAffinity`: `hard` in prod, `soft` (the charts' own default) in dev. Bitnami charts take
 * it as is in `<component>.podAntiAffinityPreset` (their `common.affinities.pods` helper: required or
 * preferred anti-affinity between the pods of one component, by hostname).
 */
export type AntiAffinityMode = PlatformConfig["podAntiAffinity"];

/** Topology the replicas are spread over: one replica per node. */
const SPREAD_TOPOLOGY_KEY = "kubernetes.io/hostname";

/**
 * A pod `affinity` with anti-affinity between pods carrying `labels`, for charts that take a raw
 * `affinity` (Weaviate). Soft is the weight-1 preference the Weaviate chart has by default.
 */
export function podAntiAffinity(mode: AntiAffinityMode, labels: Record<string, string>) {
  const term = {
    topologyKey: SPREAD_TOPOLOGY_KEY,
    labelSelector: {
      matchExpressions: Object.entries(labels).map(([key, value]) => ({
        key,
        operator: "In",
        values: [value],
      })),
    },
  };
  return mode === "hard"
    ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } }
    : {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }],
        },
      };
}

/**
 * A Bitnami chart's `pdb` block for `replicas` pods: created from two replicas on, letting a drain
 * evict one pod at a time. `minAvailable` is blanked: MongoDB's and Redis's charts default it to 1,
 * which would let two of three members go at once (the quorum with them), and a PDB may not set both.
 */
export function disruptionBudget(replicas: number): {
  create: boolean;
  minAvailable: string;
  maxUnavailable: number;
} {
  return { create: replicas > 1, minAvailable: "", maxUnavailable: 1 };
}
