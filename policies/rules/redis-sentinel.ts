/** Production: Redis with Sentinel and at least two replicas besides the master. */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease, redisSentinel } from "../lib/charts";
import { readConfig } from "../lib/config";
import { get, num } from "../lib/values";

export interface RedisSentinelConfig {
  /** Fewest replicas besides the master. */
  minReplicas: number;
}

const redisSentinelConfigSchema: PolicyConfigSchema = {
  properties: {
    minReplicas: {
      type: "integer",
      minimum: 1,
      default: 2,
      description:
        "Fewest Redis replicas besides the master (with Sentinel the chart runs replica.replicaCount nodes, one of them master).",
    },
  },
};

function redisSentinelProblems(r: HelmRelease, config: RedisSentinelConfig): string[] {
  if (r.service !== "redis") return [];
  const v = r.values;
  if (!redisSentinel(v)) {
    const arch = get(v, "architecture") ?? "replication";
    return [
      arch === "replication"
        ? "values.sentinel.enabled is not true: nothing fails over when the master goes"
        : `values.architecture is ${JSON.stringify(arch)}; Sentinel needs "replication"`,
    ];
  }
  // bitnami/redis 17 with Sentinel: `replica.replicaCount` nodes (default 3), one elected master.
  const nodes = num(get(v, "replica.replicaCount"), 3);
  const replicas = nodes - 1;
  if (replicas < config.minReplicas) {
    return [
      `values.replica.replicaCount is ${nodes}: one master and ${replicas} replica(s), fewer than ${config.minReplicas}`,
    ];
  }
  return [];
}

export const redisSentinelHa: ResourceValidationPolicy = {
  name: "redis-sentinel",
  description:
    "Production: Redis runs with Sentinel (`architecture: replication`, `sentinel.enabled: true`) and at " +
    "least `minReplicas` (policy config, default 2) replicas besides the master, so Sentinel has a quorum " +
    "and a replica to promote. Fix: set `redis.nodes` to 3 or more in the stack config (one master, the " +
    "rest replicas, each with a Sentinel).",
  enforcementLevel: "disabled",
  configSchema: redisSentinelConfigSchema,
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r?.service !== "redis") return;
    const config = readConfig<RedisSentinelConfig>(args, redisSentinelConfigSchema);
    for (const p of redisSentinelProblems(r, config)) reportViolation(`${r.label}: ${p}.`);
  },
};
