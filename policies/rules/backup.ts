/**
 * Mandatory (stack): every service deployed in the cluster has a backup CronJob with a schedule and a
 * retention. A service in `external` mode registers no Helm release (its provider backs it up), so it
 * is exempt by construction.
 */
import type { PolicyConfigSchema, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { CONFIG_KEY, HelmRelease, knownRelease, SERVICE_NAMES } from "../lib/charts";
import { readConfig } from "../lib/config";
import { BACKUP_LABEL, DRILL_LABEL, RELEASE_LABEL } from "../lib/labels";
import { CRONJOB_TYPES } from "../lib/workloads";
import { get, isObject, isUnknownValueError, JsonObject, num, str } from "../lib/values";

/** Env var of the backup container that says how many days backups are kept. */
const RETENTION_ENV = "RETENTION_DAYS";

export interface BackupConfig {
  /** Shortest retention allowed, in days. */
  minRetentionDays: number;
  /** Release names backed up some other way (Velero, a managed snapshot). */
  exemptReleases: string[];
}

const backupConfigSchema: PolicyConfigSchema = {
  properties: {
    minRetentionDays: {
      type: "integer",
      minimum: 1,
      default: 1,
      description: "Shortest backup retention allowed (the RETENTION_DAYS of the backup job), in days.",
    },
    exemptReleases: {
      type: "array",
      items: { type: "string" },
      default: [],
      description: "Helm release names that are backed up by other means and need no backup CronJob.",
    },
  },
};

/** A CronJob with what the policy needs from it. */
export interface BackupJob {
  urn: string;
  name: string;
  labels: JsonObject;
  /** The fields below are `UNKNOWN` when the engine does not know them yet (preview). */
  schedule: unknown;
  suspend: unknown;
  /** RETENTION_DAYS of its containers: a literal, `"from-ref"` when read from a ConfigMap/Secret, else unset. */
  retention: unknown;
}

/** A CronJob field not known during preview: not checked until `pulumi up`. */
export const UNKNOWN = Symbol("unknown during preview");

function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (e) {
    if (isUnknownValueError(e)) return UNKNOWN;
    throw e;
  }
}

/** Five cron fields (Kubernetes also takes `@daily` and friends and a `CRON_TZ=` prefix). */
const CRON =
  /^(?:(?:CRON_TZ|TZ)=\S+\s+)?(?:@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)|(?:\S+\s+){4}\S+)$/;

function isCronSchedule(s: unknown): boolean {
  return typeof s === "string" && CRON.test(s.trim());
}

function retentionOf(spec: unknown): unknown {
  // The backup runs as an init container when an upload step follows it (backup.s3).
  const pod = get(spec, "jobTemplate.spec.template.spec");
  const containers = ["initContainers", "containers"].flatMap((k) => {
    const list = get(pod, k);
    return Array.isArray(list) ? list : [];
  });
  for (const c of containers) {
    const env = get(c, "env");
    if (!Array.isArray(env)) continue;
    const e = env.find((x: unknown) => isObject(x) && x.name === RETENTION_ENV);
    if (e) return e.value ?? (e.valueFrom ? "from-ref" : undefined);
  }
  return undefined;
}

/**
 * The backup CronJobs of the stack. `unreadable` counts CronJobs whose labels are unknown during preview:
 * they may belong to any release, so no release is reported as lacking one until `pulumi up`.
 */
function backupJobs(resources: PolicyResource[]): { jobs: BackupJob[]; unreadable: number } {
  const jobs: BackupJob[] = [];
  let unreadable = 0;
  for (const r of resources) {
    if (!CRONJOB_TYPES.has(r.type)) continue;
    const labels = known(() => get(r.props, "metadata.labels"));
    if (labels === UNKNOWN) {
      unreadable++;
      continue;
    }
    // A restore drill belongs to the release too, but backs nothing up.
    if (isObject(labels) && labels[DRILL_LABEL] !== undefined) continue;
    const name = known(() => str(get(r.props, "metadata.name")));
    jobs.push({
      urn: r.urn,
      name: (name !== UNKNOWN && name) || r.name,
      labels: isObject(labels) ? labels : {},
      schedule: known(() => get(r.props, "spec.schedule")),
      suspend: known(() => get(r.props, "spec.suspend")),
      retention: known(() => retentionOf(get(r.props, "spec"))),
    });
  }
  return { jobs, unreadable };
}

/** The CronJobs that back up `r`: by release label when a job has one, else by the service label. */
function jobsFor(r: HelmRelease, jobs: BackupJob[]): BackupJob[] {
  const names = new Set([r.releaseName, ...(r.service ? SERVICE_NAMES[r.service] : [])]);
  return jobs.filter((j) => {
    const release = str(j.labels[RELEASE_LABEL]);
    if (release) return release === r.releaseName;
    const service = str(j.labels[BACKUP_LABEL]);
    return service !== undefined && names.has(service);
  });
}

/** Problems with the backups of every release in the stack, each with the URN to report it on. */
function backupProblems(
  resources: PolicyResource[],
  config: BackupConfig,
): Array<{ urn: string; message: string }> {
  const { jobs, unreadable } = backupJobs(resources);
  const out: Array<{ urn: string; message: string }> = [];
  for (const res of resources) {
    const r = knownRelease(res);
    if (!r || config.exemptReleases.includes(r.releaseName)) continue;
    const fix = r.service ? `stack config ${CONFIG_KEY[r.service]}.backup` : "the release's backup CronJob";
    const mine = jobsFor(r, jobs);
    if (mine.length === 0 && unreadable > 0) continue;
    if (mine.length === 0) {
      out.push({
        urn: res.urn,
        message:
          `${r.label} has no backup CronJob (none labelled ` +
          `${BACKUP_LABEL}=${r.service ? CONFIG_KEY[r.service] : r.releaseName} or ${RELEASE_LABEL}=${r.releaseName}); ` +
          (r.service
            ? `enable ${fix}`
            : `add one, or list "${r.releaseName}" in policy config exemptReleases if it holds no data`),
      });
      continue;
    }
    for (const j of mine) {
      const where = `backup CronJob "${j.name}" of ${r.label}`;
      if (j.schedule !== UNKNOWN && !isCronSchedule(j.schedule)) {
        out.push({
          urn: j.urn,
          message: `${where} has no valid schedule (${JSON.stringify(j.schedule)}); set ${fix}.schedule`,
        });
      }
      if (j.suspend === true || j.suspend === "true") {
        out.push({ urn: j.urn, message: `${where} is suspended (spec.suspend: true)` });
      }
      if (j.retention === "from-ref" || j.retention === UNKNOWN) continue;
      const days = num(j.retention);
      if (days === undefined) {
        out.push({ urn: j.urn, message: `${where} sets no ${RETENTION_ENV}; set ${fix}.retentionDays` });
      } else if (days < config.minRetentionDays) {
        out.push({
          urn: j.urn,
          message: `${where} keeps backups ${days} days, below the minimum ${config.minRetentionDays}; raise ${fix}.retentionDays`,
        });
      }
    }
  }
  return out;
}

export const backupCronJob: StackValidationPolicy = {
  name: "backup-cronjob",
  description:
    "Every service deployed in the cluster by a Helm release has a backup CronJob (labelled " +
    "`ai-platform.io/backup-for: <service>`) with a valid schedule, not suspended, whose backup container " +
    "sets RETENTION_DAYS of at least `minRetentionDays` (policy config). Services in `external` mode are " +
    "exempt: their provider backs them up. Fix: keep `<service>.backup.enabled` true in the stack config " +
    "with a cron `schedule` and `retentionDays`; a release backed up by other means can be listed in " +
    "`exemptReleases`.",
  enforcementLevel: "mandatory",
  configSchema: backupConfigSchema,
  validateStack: (args, reportViolation) => {
    const config = readConfig<BackupConfig>(args, backupConfigSchema);
    for (const p of backupProblems(args.resources, config)) reportViolation(`${p.message}.`, p.urn);
  },
};
