/**
 * Mandatory: no privileged container, in any release (the charts' own privileged init containers count:
 * Weaviate's `configure-sysctl` is on by default) or workload. A privileged container is root on the node.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";
import { privilegedInRelease, privilegedInWorkload } from "../lib/workloads";

export const noPrivilegedContainers: ResourceValidationPolicy = {
  name: "no-privileged-containers",
  description:
    "No container runs privileged: not through `privileged: true` in chart values or a pod spec, nor " +
    "through a chart feature that renders a privileged container (the Weaviate chart's sysctl init " +
    "container, on by default; bitnami/redis `sysctl.enabled`). A privileged container can take over its " +
    "node. Fix: switch the feature off (`initContainers.sysctlInitContainer.enabled: false`, " +
    "`sysctl.enabled: false`) and set kernel settings such as vm.max_map_count on the nodes; never set " +
    "`securityContext.privileged`.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r) {
      for (const p of privilegedInRelease(r)) reportViolation(`${r.label} ${p}.`);
    } else if (args.type.startsWith("kubernetes:")) {
      for (const p of privilegedInWorkload(args.props)) reportViolation(`${p}.`);
    }
  },
};
