/** Mandatory: requests and limits on every database container, limits not below requests. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, CONFIG_KEY, databaseContainers, HelmRelease } from "../lib/charts";
import { parseQuantity } from "../lib/quantities";
import { get } from "../lib/values";

/** Problems with the resources of every database container of the release. */
function resourceProblems(r: HelmRelease): string[] {
  const out: string[] = [];
  for (const c of databaseContainers(r)) {
    for (const kind of ["cpu", "memory"] as const) {
      const reqRaw = get(c.resources, ["requests", kind]);
      const limRaw = get(c.resources, ["limits", kind]);
      const req = parseQuantity(reqRaw);
      const lim = parseQuantity(limRaw);
      if (reqRaw === undefined) out.push(`${c.path}.requests.${kind} is not set (${c.role})`);
      else if (req === undefined)
        out.push(`${c.path}.requests.${kind} "${String(reqRaw)}" is not a quantity (${c.role})`);
      if (limRaw === undefined) out.push(`${c.path}.limits.${kind} is not set (${c.role})`);
      else if (lim === undefined)
        out.push(`${c.path}.limits.${kind} "${String(limRaw)}" is not a quantity (${c.role})`);
      if (req !== undefined && lim !== undefined && lim < req) {
        out.push(
          `${c.path}.limits.${kind} ${String(limRaw)} is below requests.${kind} ${String(reqRaw)} (${c.role})`,
        );
      }
    }
  }
  return out;
}

export const databaseResources: ResourceValidationPolicy = {
  name: "database-resources",
  description:
    "Every database container (server, replicas, arbiter, Sentinel) declares CPU and memory requests and " +
    "limits, and no limit is below its request: without them the scheduler overcommits the node and the " +
    "database is the first process the kernel kills. Fix: set `<service>.resources.requests` and " +
    "`<service>.resources.limits` (cpu and memory) in the stack config with limits >= requests.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r?.service) return;
    for (const p of resourceProblems(r)) {
      reportViolation(`${r.label}: values.${p} (stack config ${CONFIG_KEY[r.service]}.resources).`);
    }
  },
};
