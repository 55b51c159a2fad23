/**
 * Production: the stack survives a node drain. Every service with more than one replica spreads them
 * one per node (hard pod anti-affinity), and the quorum-based ones (MongoDB replica set, Redis with
 * Sentinel, Kafka's KRaft quorum) have a PodDisruptionBudget that lets a drain evict members one at a
 * time without ever taking the majority.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { antiAffinity, disruptionBudget, replicatedComponents } from "../lib/availability";
import { asRelease, CONFIG_KEY, HelmRelease } from "../lib/charts";

/** Components of the release whose replicas may share a node. */
function antiAffinityProblems(r: HelmRelease): string[] {
  const out: string[] = [];
  for (const c of replicatedComponents(r)) {
    const { mode, source } = antiAffinity(r.values, c);
    if (mode !== "hard") {
      out.push(
        `${c.replicas} ${c.role} pods with ${mode} pod anti-affinity (${source}): a node can hold two`,
      );
    }
  }
  return out;
}

/** Components of the release a drain could take down together, or never drain at all. */
function disruptionBudgetProblems(r: HelmRelease): string[] {
  const out: string[] = [];
  for (const c of replicatedComponents(r)) {
    const pdb = disruptionBudget(r.values, c);
    if (!pdb) continue;
    const where = `${c.replicas} ${c.role} pods`;
    if (!pdb.create) {
      out.push(`${where} have no PodDisruptionBudget (${c.pdb!.path}.create is not true)`);
      continue;
    }
    if (pdb.both) {
      out.push(
        `${where}: ${c.pdb!.path} sets both minAvailable and maxUnavailable, which the API server refuses`,
      );
      continue;
    }
    const majority = Math.floor(c.replicas / 2) + 1;
    if (pdb.evictable === undefined) {
      out.push(`${where}: ${c.pdb!.path} sets neither minAvailable nor maxUnavailable`);
    } else if (pdb.evictable < 1) {
      out.push(`${where}: the PodDisruptionBudget allows no eviction, so a node drain never finishes`);
    } else if (c.replicas - pdb.evictable < majority) {
      out.push(
        `${where}: the PodDisruptionBudget lets a drain evict ${pdb.evictable} at once, leaving fewer than the majority (${majority})`,
      );
    }
  }
  return out;
}

export const podAntiAffinity: ResourceValidationPolicy = {
  name: "pod-anti-affinity",
  description:
    "Production: every database component with more than one replica uses hard (required) pod " +
    "anti-affinity by hostname, so one node failure or drain takes at most one replica. Fix: set " +
    "`podAntiAffinity: hard` in the stack config (it sets the charts' `podAntiAffinityPreset` and " +
    "Weaviate's `affinity`), and give the cluster at least as many nodes as the largest replica count.",
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r?.service) return;
    for (const p of antiAffinityProblems(r)) {
      reportViolation(`${r.label}: ${p} (stack config podAntiAffinity).`);
    }
  },
};

export const podDisruptionBudgets: ResourceValidationPolicy = {
  name: "pod-disruption-budgets",
  description:
    "Production: MongoDB, Redis and Kafka with more than one replica have a PodDisruptionBudget that lets " +
    "a node drain evict at least one member and never takes the majority. Fix: keep `<service>.replicas` " +
    "(`mongodb.replicas`, `redis.nodes`, `kafka.nodes`) above 1 with the components' budget (`pdb.create: " +
    "true`, `maxUnavailable: 1`); do not set both `minAvailable` and `maxUnavailable` in chart values.",
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r?.service) return;
    for (const p of disruptionBudgetProblems(r)) {
      reportViolation(`${r.label}: ${p} (stack config ${CONFIG_KEY[r.service]}).`);
    }
  },
};
