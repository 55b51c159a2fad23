/** Advisory: a Helm release that is not atomic stays half-upgraded when an upgrade fails. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";

export const atomicRelease: ResourceValidationPolicy = {
  name: "atomic-release",
  description:
    "Helm releases should be atomic: a failed install or upgrade is rolled back instead of leaving a " +
    "database half-upgraded (Helm's `--atomic`). Fix: keep `helm.atomic` true in the stack config " +
    "(the default).",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r || r.type !== "kubernetes:helm.sh/v3:Release") return;
    if (r.atomic !== true)
      reportViolation(
        `${r.label} has atomic ${JSON.stringify(r.atomic ?? "unset")}; a failed upgrade is not rolled back.`,
      );
  },
};
