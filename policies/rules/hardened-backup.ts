/**
 * Production (mandatory in prod's policy config): the backup CronJobs' pods hold their service's admin
 * credentials, so they meet Kubernetes' "restricted" pod security standard: non-root, the runtime's
 * default seccomp profile, every capability dropped, no privilege escalation.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { BACKUP_LABEL } from "../lib/labels";
import { CRONJOB_TYPES } from "../lib/workloads";
import { get, isObject, isUnknownValueError, str } from "../lib/values";

/** What a pod spec (from a CronJob's job template) lacks of the restricted standard. */
export function unhardened(podSpec: unknown): string[] {
  const pod = isObject(podSpec) ? podSpec : {};
  const podCtx = get(pod, "securityContext");
  const problems: string[] = [];
  const containers = [
    ...(Array.isArray(pod.initContainers) ? pod.initContainers : []),
    ...(Array.isArray(pod.containers) ? pod.containers : []),
  ];
  for (const c of containers) {
    const name = str(get(c, "name")) ?? "(unnamed)";
    const ctx = get(c, "securityContext");
    const nonRoot = get(ctx, "runAsNonRoot") ?? get(podCtx, "runAsNonRoot");
    if (nonRoot !== true) problems.push(`container "${name}" may run as root (runAsNonRoot is not true)`);
    const seccomp = str(get(ctx, "seccompProfile.type")) ?? str(get(podCtx, "seccompProfile.type"));
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      problems.push(`container "${name}" has no seccomp profile (seccompProfile.type: RuntimeDefault)`);
    }
    if (get(ctx, "allowPrivilegeEscalation") !== false) {
      problems.push(`container "${name}" may gain privileges (allowPrivilegeEscalation is not false)`);
    }
    const drop = get(ctx, "capabilities.drop");
    if (!Array.isArray(drop) || !drop.includes("ALL")) {
      problems.push(`container "${name}" keeps its capabilities (capabilities.drop lacks ALL)`);
    }
  }
  return problems;
}

export const hardenedBackupPods: ResourceValidationPolicy = {
  name: "hardened-backup-pods",
  description:
    "The backup CronJobs' pods (labelled `ai-platform.io/backup-for`) hold their service's admin " +
    "credentials and meet the restricted pod security standard: `runAsNonRoot: true`, " +
    "`seccompProfile.type: RuntimeDefault`, `allowPrivilegeEscalation: false` and `capabilities.drop: [ALL]` " +
    "on every container. The program's BackupJob sets all four. Fix: remove the transformation or hand " +
    "edit that changed the backup job's securityContext, or set the four fields on the job you added.",
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    if (!CRONJOB_TYPES.has(args.type)) return;
    try {
      const label = get(args.props, ["metadata", "labels", BACKUP_LABEL]);
      if (label === undefined) return;
      const name = str(get(args.props, "metadata.name")) ?? args.name;
      for (const p of unhardened(get(args.props, "spec.jobTemplate.spec.template.spec"))) {
        reportViolation(`backup CronJob "${name}": ${p}.`);
      }
    } catch (e) {
      // A field unknown during preview: checked by `pulumi up`.
      if (!isUnknownValueError(e)) throw e;
    }
  },
};
