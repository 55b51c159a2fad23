/**
 * Production (stack; mandatory in prod's policy config, advisory in dev's): every backup CronJob has a
 * restore drill beside it, a CronJob of the same release labelled `ai-platform.io/drill-for`, not
 * suspended: a backup nobody restores is a hope, not a backup.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { BACKUP_LABEL, DRILL_LABEL, RELEASE_LABEL } from "../lib/labels";
import { CRONJOB_TYPES } from "../lib/workloads";
import { get, isObject, isUnknownValueError, str } from "../lib/values";

interface LabelledJob {
  urn: string;
  name: string;
  release?: string;
  backupFor?: string;
  drillFor?: string;
  suspended: boolean;
}

/** The CronJobs whose labels are known (during preview some may not be: those are skipped). */
function cronJobs(resources: PolicyResource[]): { jobs: LabelledJob[]; unreadable: number } {
  const jobs: LabelledJob[] = [];
  let unreadable = 0;
  for (const r of resources) {
    if (!CRONJOB_TYPES.has(r.type)) continue;
    try {
      const labels = get(r.props, "metadata.labels");
      const l = isObject(labels) ? labels : {};
      const suspend = get(r.props, "spec.suspend");
      jobs.push({
        urn: r.urn,
        name: str(get(r.props, "metadata.name")) ?? r.name,
        release: str(l[RELEASE_LABEL]),
        backupFor: str(l[BACKUP_LABEL]),
        drillFor: str(l[DRILL_LABEL]),
        suspended: suspend === true || suspend === "true",
      });
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
      unreadable++;
    }
  }
  return { jobs, unreadable };
}

/** Each backup CronJob without a working drill, with the URN to report it on. */
export function drillProblems(resources: PolicyResource[]): Array<{ urn: string; message: string }> {
  const { jobs, unreadable } = cronJobs(resources);
  const out: Array<{ urn: string; message: string }> = [];
  for (const backup of jobs.filter((j) => j.backupFor !== undefined)) {
    const drills = jobs.filter((j) => j.drillFor === backup.backupFor && j.release === backup.release);
    const fix = `set ${backup.backupFor}.backup.drill.enabled to true in the stack config (README, "Restore drills")`;
    if (drills.length === 0) {
      // A drill whose labels are unknown during preview may be it: checked by `pulumi up`.
      if (unreadable > 0) continue;
      out.push({ urn: backup.urn, message: `backup CronJob "${backup.name}" has no restore drill; ${fix}` });
    } else if (drills.every((d) => d.suspended)) {
      out.push({
        urn: drills[0].urn,
        message: `restore drill "${drills[0].name}" of backup CronJob "${backup.name}" is suspended (spec.suspend: true)`,
      });
    }
  }
  return out;
}

export const restoreDrills: StackValidationPolicy = {
  name: "restore-drills",
  description:
    "Every backup CronJob (labelled `ai-platform.io/backup-for`) has a restore drill of the same release " +
    "(a CronJob labelled `ai-platform.io/drill-for`), not suspended, which restores the newest backup " +
    "into a scratch instance on a schedule. Fix: keep `<service>.backup.drill.enabled` true in the " +
    'stack config (README, "Restore drills").',
  enforcementLevel: "disabled",
  validateStack: (args, reportViolation) => {
    for (const p of drillProblems(args.resources)) reportViolation(`${p.message}.`, p.urn);
  },
};
