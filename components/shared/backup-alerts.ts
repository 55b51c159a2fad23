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

/** The newest failed Job (or pod, for `failedPods`) of `cronJob` started after its last success. */
function failedSinceSuccess(ns: string, cronJob: string, failed: string, started: string): string {
  const success = `max(kube_cronjob_status_last_successful_time{namespace="${ns}",cronjob="${cronJob}"}) or vector(0)`;
  return `max(${started} * on (${failed.startsWith("kube_pod") ? "pod" : "job_name"}) group_left() (${failed} == 1)) > (${success})`;
}

/** The backup alerts of one service. */
export function backupAlertRules(args: BackupAlertArgs): AlertRule[] {
  const ns = args.namespace;
  const backupJob = `${args.releaseName}-backup`;
  const jobs = (cronJob: string) => `namespace="${ns}",job_name=~"${cronJob}-[0-9]+"`;
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
    {
      alert: "BackupFailed",
      expr: failedSinceSuccess(
        ns,
        backupJob,
        `kube_job_failed{${jobs(backupJob)},condition="true"}`,
        `kube_job_status_start_time{${jobs(backupJob)}}`,
      ),
      for: "5m",
      severity: "critical",
      summary: `The last ${args.service} backup failed (kubectl -n ${ns} logs job/<job> --all-containers)`,
    },
  ];
  if (args.offsite) {
    const pods = `namespace="${ns}",pod=~"${backupJob}-[0-9]+-[a-z0-9]+"`;
    rules.push({
      alert: "BackupUploadFailed",
      expr: failedSinceSuccess(
        ns,
        backupJob,
        `kube_pod_container_status_terminated_reason{${pods},container="offsite",reason="Error"}`,
        `kube_pod_start_time{${pods}}`,
      ),
      for: "5m",
      severity: "critical",
      summary: `The last ${args.service} backup has no checked copy in the bucket (the pod's termination message says why)`,
    });
  }
  if (args.backup.drill.enabled) {
    const drillJob = `${args.releaseName}-restore-drill`;
    rules.push({
      alert: "RestoreDrillFailed",
      expr: failedSinceSuccess(
        ns,
        drillJob,
        `kube_job_failed{${jobs(drillJob)},condition="true"}`,
        `kube_job_status_start_time{${jobs(drillJob)}}`,
      ),
      for: "5m",
      severity: "critical",
      summary: `The last ${args.service} restore drill failed: the newest backup may not restore (the pod's termination message says why)`,
    });
  }
  return rules;
}
