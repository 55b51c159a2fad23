/**
 * The backup CronJob and its PersistentVolumeClaim, one pair per service. The job runs a script kept
 * in `components/backup/<service>.sh` with no argument (its backup mode; the Redis, Weaviate and Kafka
 * scripts also have the `restore` mode the README runs); the integration tests run that same file
 * against real servers.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { BackupConfig } from "../../config";
import { BACKUP_LABEL, serviceLabels } from "./labels";

/** Directory of the backup scripts, shared with the tests. */
export const BACKUP_SCRIPTS_DIR = path.join(__dirname, "..", "backup");

/** The text of a service's backup script. */
export function backupScript(service: string): string {
  return fs.readFileSync(path.join(BACKUP_SCRIPTS_DIR, `${service}.sh`), "utf8");
}

/**
 * The backup pods hold the admin credentials of their service: they run as the images' non-root user,
 * under the runtime's default seccomp profile, with no capability and no way to gain privileges (the
 * Kubernetes "restricted" pod security standard). The `hardened-backup-pods` policy checks the same.
 */
export const BACKUP_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 1001,
  fsGroup: 1001,
  seccompProfile: { type: "RuntimeDefault" },
};
export const BACKUP_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
};

/** The backup PersistentVolumeClaim of a release (the Weaviate pods mount it as well). */
export function backupClaimName(releaseName: string): string {
  return `${releaseName}-backup`;
}

/** Arguments of {@link BackupJob}. */
export interface BackupJobArgs {
  /** Service name (`postgres`, ...): names the script and labels the pods. */
  service: string;
  /** Helm release the job backs up; names the objects. */
  releaseName: string;
  /** Namespace of the job and its volume. */
  namespace: pulumi.Input<string>;
  /** Schedule, retention and volume size from config. */
  backup: BackupConfig;
  /** StorageClass of the backup volume; empty uses the cluster default. */
  storageClass: string;
  /** Image with the client tools the script needs. */
  image: { registry: string; repository: string; tag?: string };
  /** Tag used when the image override leaves it unset. */
  defaultTag: string;
  /** Environment of the script: connection settings, credentials by `secretKeyRef` only. */
  env: k8s.types.input.core.v1.EnvVar[];
  /**
   * Labels of the service's pods that mount the backup claim too (Weaviate writes its backups there):
   * the job's pod is scheduled beside them, since a ReadWriteOnce claim mounts on one node only. Unset:
   * only the job mounts it.
   */
  besidePods?: Record<string, string>;
}

/** A service's backup: a PVC that outlives the release and a CronJob that writes into it. */
export class BackupJob extends pulumi.ComponentResource {
  /** The backup volume claim; kept when removed from the program (`retainOnDelete`). */
  public readonly pvc: k8s.core.v1.PersistentVolumeClaim;
  /** The CronJob that runs the backup script. */
  public readonly cronJob: k8s.batch.v1.CronJob;

  constructor(name: string, args: BackupJobArgs, opts: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:BackupJob", name, {}, opts);
    const labels = { ...serviceLabels(args.service, args.releaseName), [BACKUP_LABEL]: args.service };
    const claimName = backupClaimName(args.releaseName);
    this.pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-pvc`,
      {
        metadata: {
          name: claimName,
          namespace: args.namespace,
          labels,
          // Backups must survive `pulumi destroy` and the release: the claim is never deleted by Pulumi.
          annotations: { "ai-platform.io/retain": "true" },
        },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: args.storageClass || undefined,
          resources: { requests: { storage: args.backup.storageSize } },
        },
      },
      { parent: this, retainOnDelete: true },
    );
    const image = `${args.image.registry}/${args.image.repository}:${args.image.tag ?? args.defaultTag}`;
    this.cronJob = new k8s.batch.v1.CronJob(
      `${name}-cronjob`,
      {
        metadata: { name: claimName, namespace: args.namespace, labels },
        spec: {
          schedule: args.backup.schedule,
          concurrencyPolicy: "Forbid",
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            spec: {
              backoffLimit: 2,
              template: {
                metadata: { labels },
                spec: {
                  restartPolicy: "OnFailure",
                  securityContext: BACKUP_POD_SECURITY,
                  affinity: args.besidePods
                    ? {
                        podAffinity: {
                          requiredDuringSchedulingIgnoredDuringExecution: [
                            {
                              labelSelector: { matchLabels: args.besidePods },
                              topologyKey: "kubernetes.io/hostname",
                            },
                          ],
                        },
                      }
                    : undefined,
                  containers: [
                    {
                      name: "backup",
                      image,
                      command: ["/bin/sh", "-c", backupScript(args.service)],
                      env: [
                        { name: "BACKUP_DIR", value: "/backup" },
                        { name: "RETENTION_DAYS", value: String(args.backup.retentionDays) },
                        ...args.env,
                      ],
                      securityContext: BACKUP_CONTAINER_SECURITY,
                      volumeMounts: [{ name: "backup", mountPath: "/backup" }],
                      resources: {
                        requests: { cpu: "100m", memory: "128Mi" },
                        limits: { cpu: "1", memory: "1Gi" },
                      },
                    },
                  ],
                  volumes: [{ name: "backup", persistentVolumeClaim: { claimName } }],
                },
              },
            },
          },
        },
      },
      { parent: this, dependsOn: [this.pvc] },
    );
    this.registerOutputs({ pvc: this.pvc, cronJob: this.cronJob });
  }
}

/** An env var read from a Secret key. */
export function secretEnv(
  name: string,
  secretName: pulumi.Input<string>,
  key: string,
): k8s.types.input.core.v1.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}
