/** Production: MongoDB as a replica set of at least three data-bearing members; an arbiter is not one. */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease, mongoReplicaSet } from "../lib/charts";
import { readConfig } from "../lib/config";
import { bool, get, num } from "../lib/values";

export interface MongoReplicaSetConfig {
  /** Fewest data-bearing members allowed. */
  minDataMembers: number;
}

const mongoReplicaSetConfigSchema: PolicyConfigSchema = {
  properties: {
    minDataMembers: {
      type: "integer",
      minimum: 1,
      default: 3,
      description: "Fewest data-bearing replica-set members (arbiters and hidden members do not count).",
    },
  },
};

/** Data-bearing members that can become primary: `replicaCount` in a replica set, one when standalone. */
function mongoDataMembers(values: Record<string, unknown>): number {
  return mongoReplicaSet(values) ? num(get(values, "replicaCount"), 2) : 1;
}

function mongoReplicaSetProblems(r: HelmRelease, config: MongoReplicaSetConfig): string[] {
  if (r.service !== "mongodb") return [];
  const v = r.values;
  const members = mongoDataMembers(v);
  const arbiter = mongoReplicaSet(v) && bool(get(v, "arbiter.enabled"), true);
  const out: string[] = [];
  if (!mongoReplicaSet(v)) {
    out.push(
      `values.architecture is ${JSON.stringify(get(v, "architecture") ?? "standalone")}, not "replicaset": one member holds all the data`,
    );
  } else if (members < config.minDataMembers) {
    const note = arbiter ? " (the arbiter holds no data and is not counted)" : "";
    out.push(
      `values.replicaCount is ${members}, fewer than ${config.minDataMembers} data-bearing members${note}`,
    );
  }
  return out;
}

export const mongodbReplicaSet: ResourceValidationPolicy = {
  name: "mongodb-replica-set",
  description:
    "Production: MongoDB runs as a replica set (`architecture: replicaset`) of at least `minDataMembers` " +
    "(policy config, default 3) data-bearing members, so a majority survives the loss of one; an arbiter " +
    "votes but holds no data and does not count. Fix: set `mongodb.replicas` to 3 or more in the stack " +
    "config (and keep `mongodb.arbiter` false).",
  // Off unless the stack's policy config switches it on (config/prod.json does).
  enforcementLevel: "disabled",
  configSchema: mongoReplicaSetConfigSchema,
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r?.service !== "mongodb") return;
    const config = readConfig<MongoReplicaSetConfig>(args, mongoReplicaSetConfigSchema);
    for (const p of mongoReplicaSetProblems(r, config)) reportViolation(`${r.label}: ${p}.`);
  },
};
