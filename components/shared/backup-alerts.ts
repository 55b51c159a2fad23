/**
 * The alerts on a service's backups (issue 23): on kube-state-metrics (v2.4 or later), which every
 * Prometheus Operator install runs, so the jobs need no exporter of their own.
 *
 * - BackupMissing: no successful backup within twice the schedule's longest gap (also a CronJob that
 *   never succeeded once it is that old).
 * - BackupFailed / RestoreDrillFailed: the newest failed Job of the backup or drill CronJob started
 *   after its last success. Failed Jobs stay (failedJobsHistoryLimit), so "a failed Job exists" would
 *   fire for days after the next success; their start time against the last success does not.
 * - BackupUploadFailed (with `backup.s3`): the same, for pods whose `offsite` container ended in error:
 *   the backup was written but has no checked copy in the bucket.
 *
 * Jobs a CronJob makes are named `<cronjob>-<minutes since the epoch>`, their pods `<job>-<suffix>`.
 */
import { BackupConfig, cronMaxGapSeconds } from "../../config";
import { AlertRule } from "./monitoring";

/** Arguments of {@link backupAlertRules}. */
export interface BackupAlertArgs {
  /** Service name, in the summaries. */
  service: string;
  /** Release name: the CronJobs are `<release>-backup` and `<release>-restore-drill`. */
  releaseName: string;
  /** Namespace of the CronJobs. */
  namespace: string;
  /** Schedule and drill settings. */
  backup: BackupConfig;
  /** Whether the backup job uploads to `backup.s3`. */
  offsite: boolean;
}

/**
 * An alert on the newest failure of `cronJob`: the `failed` series (1 for a failed Job, or a pod's
 * ended container, keyed by `key`) whose `started` time is after the CronJob's last success.
 */
function failedSinceSuccess(
  alert: string,
  ns: string,
  cronJob: string,
  key: "job_name" | "pod",
  failed: string,
  started: string,
  summary: string,
): AlertRule {
  const success = `max(kube_cronjob_status_last_successful_time{namespace="${ns}",cronjob="${cronJob}"}) or vector(0)`;
  return {
    alert,
    expr: `max(${started} * on (${key}) group_left() (${failed} == 1)) > (${success})`,
    for: "5m",
    severity: "critical",
    summary,
  };
}

/** {@link failedSinceSuccess} over the Jobs `cronJob` makes. */
function jobFailed(alert: string, ns: string, cronJob: string, summary: string): AlertRule {
  const jobs = `namespace="${ns}",job_name=~"${cronJob}-[0-9]+"`;
  return failedSinceSuccess(
    alert,
    ns,
    cronJob,
    "job_name",
    `kube_job_failed{${jobs},condition="true"}`,
    `kube_job_status_start_time{${jobs}}`,
    summary,
  );
}

/** The backup alerts of one service. */
export function backupAlertRules(args: BackupAlertArgs): AlertRule[] {
  const ns = args.namespace;
  const backupJob = `${args.releaseName}-backup`;
  const late = 2 * cronMaxGapSeconds(args.backup.schedule);
  const cron = `namespace="${ns}",cronjob="${backupJob}"`;
  const rules: AlertRule[] = [
    {
      alert: "BackupMissing",
      expr:
        `time() - max(kube_cronjob_status_last_successful_time{${cron}}) > ${late}` +
        ` or (time() - max(kube_cronjob_created{${cron}}) > ${late} unless max(kube_cronjob_status_last_successful_time{${cron}}))`,
      for: "5m",
      severity: "critical",
      summary: `No ${args.service} backup has succeeded for twice its schedule (${late / 3600} h)`,
    },
    jobFailed(
      "BackupFailed",
      ns,
      backupJob,
      `The last ${args.service} backup failed (kubectl -n ${ns} logs job/<job> --all-containers)`,
    ),
  ];
  if (args.offsite) {
    const pods = `namespace="${ns}",pod=~"${backupJob}-[0-9]+-[a-z0-9]+"`;
    rules.push(
      failedSinceSuccess(
        "BackupUploadFailed",
        ns,
        backupJob,
        "pod",
        `kube_pod_container_status_terminated_reason{${pods},container="offsite",reason="Error"}`,
        `kube_pod_start_time{${pods}}`,
        `The last ${args.service} backup has no checked copy in the bucket (the pod's termination message says why)`,
      ),
    );
  }
  if (args.backup.drill.enabled) {
    rules.push(
      jobFailed(
        "RestoreDrillFailed",
        ns,
        `${args.releaseName}-restore-drill`,
        `The last ${args.service} restore drill failed: the newest backup may not restore (the pod's termination message says why)`,
      ),
    );
  }
  return rules;
}
