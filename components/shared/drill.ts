/**
 * The restore drill of a service's backups: a CronJob that takes the newest backup (from `backup.s3` when
 * set, checked by size and SHA-256 on the way; else read-only from the backup claim), restores it into a
 * scratch instance inside its own pod with the `drill` mode of `components/backup/<service>.sh`, and
 * reports what came back in one line (`drill passed: ...`) that is also the pod's termination message.
 * The drill pod holds no login to the live server, and a failed drill is a failed Job, which
 * kube-state-metrics exports for the RestoreDrillFailed alert (README, "Restore drills").
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupConfig } from "../../config";
import {
  BACKUP_CONTAINER_SECURITY,
  BACKUP_MOUNT,
  BACKUP_POD_SECURITY,
  backupClaimName,
  backupScript,
  OffsiteTarget,
  offsiteStep,
  scheduledBeside,
} from "./backup";
import { DRILL_LABEL, serviceLabels } from "./labels";

/** What a service's drill needs besides its backups. */
export interface DrillArgs {
  /** Full image reference with the tools that restore into a scratch instance. */
  image: string;
  /** Environment of the drill besides DRILL_DIR and SCRATCH_DIR (no credentials: it needs none). */
  env: k8s.types.input.core.v1.EnvVar[];
  /** Shell pattern of the backup files the drill takes, the newest first (`postgres-<db>-*.dump`). */
  pattern: string;
  /** User the drill runs as, when the image's tools need their own (initdb refuses others' data). */
  runAsUser?: number;
}

/** Arguments of {@link restoreDrill}. */
export interface RestoreDrillArgs {
  /** Service name: names the script and labels the pods. */
  service: string;
  /** Helm release whose backups are drilled; names the CronJob and the claim. */
  releaseName: string;
  /** Namespace of the CronJob. */
  namespace: pulumi.Input<string>;
  /** The service's backup config (retention unused; `drill.schedule`). */
  backup: BackupConfig;
  /** The drill's image, environment and file pattern. */
  drill: DrillArgs;
  /** Where the backups are copied off the cluster; unset: the drill reads the claim. */
  offsite?: OffsiteTarget;
  /** Labels of pods that mount the claim too (see BackupJobArgs.besidePods). */
  besidePods?: Record<string, string>;
}

const SCRATCH = "/scratch";

/** The drill CronJob `<release>-restore-drill`. */
export function restoreDrill(
  name: string,
  args: RestoreDrillArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.CronJob {
  const labels = { ...serviceLabels(args.service, args.releaseName), [DRILL_LABEL]: args.service };
  const offsite = args.offsite;
  // With off-site copies the drill takes what a lost cluster would leave: the bucket's copy.
  const fetched = `${SCRATCH}/backup`;
  const drillDir = offsite ? fetched : BACKUP_MOUNT;
  const scratchMount = { name: "scratch", mountPath: SCRATCH };
  const fetch =
    offsite &&
    offsiteStep("fetch", offsite, args.service, ["latest", args.drill.pattern, fetched], scratchMount);
  return new k8s.batch.v1.CronJob(
    name,
    {
      metadata: { name: `${args.releaseName}-restore-drill`, namespace: args.namespace, labels },
      spec: {
        schedule: args.backup.drill.schedule,
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            // A failed drill stays a failed Job (the alert's signal), not a container restarted in place.
            backoffLimit: 1,
            template: {
              metadata: { labels },
              spec: {
                restartPolicy: "Never",
                securityContext: {
                  ...BACKUP_POD_SECURITY,
                  ...(args.drill.runAsUser !== undefined
                    ? { runAsUser: args.drill.runAsUser, fsGroup: args.drill.runAsUser }
                    : {}),
                },
                affinity: offsite ? undefined : scheduledBeside(args.besidePods),
                ...(fetch ? { initContainers: [fetch] } : {}),
                containers: [
                  {
                    name: "drill",
                    image: args.drill.image,
                    command: ["/bin/sh", "-c", backupScript(args.service), args.service, "drill"],
                    env: [
                      { name: "DRILL_DIR", value: drillDir },
                      { name: "SCRATCH_DIR", value: SCRATCH },
                      ...args.drill.env,
                    ],
                    securityContext: BACKUP_CONTAINER_SECURITY,
                    volumeMounts: [
                      scratchMount,
                      ...(offsite ? [] : [{ name: "backup", mountPath: BACKUP_MOUNT, readOnly: true }]),
                    ],
                    resources: {
                      requests: { cpu: "100m", memory: "256Mi" },
                      limits: { cpu: "1", memory: "2Gi" },
                    },
                  },
                ],
                volumes: [
                  { name: "scratch", emptyDir: {} },
                  ...(offsite
                    ? []
                    : [
                        {
                          name: "backup",
                          persistentVolumeClaim: {
                            claimName: backupClaimName(args.releaseName),
                            readOnly: true,
                          },
                        },
                      ]),
                ],
              },
            },
          },
        },
      },
    },
    opts,
  );
}
