/**
 * Production (mandatory in prod's policy config, advisory in dev's): every backup CronJob copies its
 * backups off the cluster, so that losing the cluster does not lose every copy. The program's BackupJob
 * does with `backup.s3`: the backup runs as the pod's init container and an upload step after it
 * (`offsite.sh sync`), reading the keys from a Secret.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { BACKUP_LABEL } from "../lib/labels";
import { CRONJOB_TYPES } from "../lib/workloads";
import { get, isObject, isUnknownValueError, str } from "../lib/values";

/** Variables an upload step sets: where to, and the secret key, which must come from a Secret. */
const TARGET_ENV = ["S3_ENDPOINT", "S3_BUCKET"];
const KEY_ENV = "AWS_SECRET_ACCESS_KEY";

/**
 * Why a backup CronJob's pod spec copies nothing off the cluster, or undefined when it does: a container
 * (run after the init containers, so after the backup) that names a bucket and reads its key from a Secret.
 */
export function offsiteProblem(podSpec: unknown): string | undefined {
  const containers = get(podSpec, "containers");
  const uploads = (Array.isArray(containers) ? containers : []).filter((c) => {
    const env = get(c, "env");
    const vars = new Map(
      (Array.isArray(env) ? env : []).filter(isObject).map((e) => [str(e.name) ?? "", e] as const),
    );
    return TARGET_ENV.every((k) => vars.has(k));
  });
  if (uploads.length === 0) return "copies no backup off the cluster";
  for (const c of uploads) {
    const key = (get(c, "env") as unknown[]).filter(isObject).find((e) => e.name === KEY_ENV);
    if (!key || get(key, "valueFrom.secretKeyRef") === undefined) {
      return `has an upload step ("${str(get(c, "name")) ?? "(unnamed)"}") that does not read ${KEY_ENV} from a Secret`;
    }
  }
  if (!Array.isArray(get(podSpec, "initContainers"))) {
    return "runs its upload beside the backup, not after it (the backup must be an init container)";
  }
  return undefined;
}

export const offsiteBackups: ResourceValidationPolicy = {
  name: "offsite-backups",
  description:
    "Every backup CronJob (labelled `ai-platform.io/backup-for`) copies its backups off the cluster: " +
    "after the backup (an init container) a container uploads them to a bucket (S3_ENDPOINT, S3_BUCKET), " +
    "its key from a Secret. Fix: set `backup.s3` in the stack config (endpoint, bucket, prefix, region, " +
    'existingSecret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; README, "Off-site copies").',
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    if (!CRONJOB_TYPES.has(args.type)) return;
    try {
      if (get(args.props, ["metadata", "labels", BACKUP_LABEL]) === undefined) return;
      const name = str(get(args.props, "metadata.name")) ?? args.name;
      const problem = offsiteProblem(get(args.props, "spec.jobTemplate.spec.template.spec"));
      if (problem) {
        reportViolation(
          `backup CronJob "${name}" ${problem}; set backup.s3 in the stack config (README, "Off-site copies").`,
        );
      }
    } catch (e) {
      // A field unknown during preview: checked by `pulumi up`.
      if (!isUnknownValueError(e)) throw e;
    }
  },
};
