/**
 * The backup CronJob and its PersistentVolumeClaim, one pair per service. The job runs a script kept
 * in `components/backup/<service>.sh` with no argument (its backup mode; each script also has the
 * `drill` mode of the restore drill, components/shared/drill.ts, and the Redis, Weaviate and Kafka ones
 * the `restore` mode the README runs); the integration tests run that same file against real servers. With `backup.s3` the backup runs as the pod's init container and
 * `components/backup/offsite.sh sync` after it: the job succeeds only once every backup on the claim has
 * a copy in the bucket checked by size and SHA-256.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { BackupConfig, OffsiteConfig } from "../../config";
import { imageValues } from "./charts";
import { existingSecret } from "./existing-secret";
import { BACKUP_LABEL, serviceLabels } from "./labels";

/** Directory of the backup scripts, shared with the tests. */
export const BACKUP_SCRIPTS_DIR = path.join(__dirname, "..", "backup");

/** Where the job's pod (and the drill's, without backup.s3) mounts the claim. */
export const BACKUP_MOUNT = "/backup";

const scripts = new Map<string, string>();
/** The text of a service's backup script (read once per run: every job and drill of a stack asks). */
export function backupScript(service: string): string {
  let text = scripts.get(service);
  if (text === undefined) {
    text = fs.readFileSync(path.join(BACKUP_SCRIPTS_DIR, `${service}.sh`), "utf8");
    scripts.set(service, text);
  }
  return text;
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

/** Off-site copies of every service's backups (`backup.s3`). */
export interface OffsiteTarget {
  /** Bucket, prefix, endpoint, region, the Secret's name and the upload step's image. */
  config: OffsiteConfig;
  /** The Secret with the keys, read and checked; the jobs wait for it. */
  secret: pulumi.Resource;
}

/** Keys of the `backup.s3.existingSecret` Secret: the names AWS tools and the Weaviate chart read. */
export const OFFSITE_SECRET_KEYS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const;

const OFFSITE_IMAGE = { registry: "docker.io", repository: "curlimages/curl" };
/** curl 8.10.1: `--aws-sigv4` (7.75 or later); busybox's sh, sed, sha256sum, md5sum, base64 and date. */
export const OFFSITE_IMAGE_TAG = "8.10.1";

/** A service's folder in the bucket: `<prefix>/<service>` (`<service>` with no prefix). */
export function offsitePrefix(config: Pick<OffsiteConfig, "prefix">, service: string): string {
  return config.prefix ? `${config.prefix}/${service}` : service;
}

/** The environment of offsite.sh for a service's folder; the keys by `secretKeyRef` only. */
export function offsiteEnv(config: OffsiteConfig, service: string): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "S3_ENDPOINT", value: config.endpoint.replace(/\/$/, "") },
    { name: "S3_BUCKET", value: config.bucket },
    { name: "S3_PREFIX", value: offsitePrefix(config, service) },
    { name: "S3_REGION", value: config.region },
    ...OFFSITE_SECRET_KEYS.map((k) => secretEnv(k, config.existingSecret, k)),
  ];
}

/**
 * The off-site target of `backup.s3`, its Secret read and checked for both keys (a missing one stops the
 * run before any job is made); undefined without `backup.s3`.
 */
export function offsiteTarget(
  config: OffsiteConfig | undefined,
  namespace: string,
  opts: pulumi.CustomResourceOptions,
): OffsiteTarget | undefined {
  if (!config) return undefined;
  const secret = existingSecret(
    "backup-s3-credentials",
    {
      namespace,
      name: config.existingSecret,
      configKey: "backup.s3.existingSecret",
      keys: [...OFFSITE_SECRET_KEYS],
    },
    opts,
  );
  return { config, secret: secret.resource };
}

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
  /** Where the job copies its backups off the cluster (`backup.s3`); unset: they stay on the claim. */
  offsite?: OffsiteTarget;
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
    const image = imageReference(args.image, args.defaultTag);
    const offsite = args.offsite;
    const backupContainer: k8s.types.input.core.v1.Container = {
      name: "backup",
      image,
      command: ["/bin/sh", "-c", backupScript(args.service)],
      env: [
        { name: "BACKUP_DIR", value: BACKUP_MOUNT },
        { name: "RETENTION_DAYS", value: String(args.backup.retentionDays) },
        ...args.env,
      ],
      securityContext: BACKUP_CONTAINER_SECURITY,
      volumeMounts: [{ name: "backup", mountPath: BACKUP_MOUNT }],
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    };
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
                  // A failed run keeps its pod (and each container's end) for the alerts to see, instead of
                  // containers restarted in place; the Job retries with new pods.
                  restartPolicy: "Never",
                  securityContext: BACKUP_POD_SECURITY,
                  affinity: scheduledBeside(args.besidePods),
                  // With off-site copies the backup is an init container: the upload starts only once it
                  // has succeeded, and the Job fails unless both do.
                  ...(offsite
                    ? {
                        initContainers: [backupContainer],
                        // The upload, then the bucket's copies older than the retention pruned.
                        containers: [
                          offsiteStep(
                            "offsite",
                            offsite,
                            args.service,
                            ["sync", BACKUP_MOUNT, String(args.backup.retentionDays)],
                            { name: "backup", mountPath: BACKUP_MOUNT },
                          ),
                        ],
                      }
                    : { containers: [backupContainer] }),
                  volumes: [{ name: "backup", persistentVolumeClaim: { claimName } }],
                },
              },
            },
          },
        },
      },
      { parent: this, dependsOn: [this.pvc, ...(offsite ? [offsite.secret] : [])] },
    );
    this.registerOutputs({ pvc: this.pvc, cronJob: this.cronJob });
  }
}

/**
 * A container that runs `offsite.sh <args>` against the service's folder of the bucket, the keys from
 * the user's Secret: the backup job's upload (`sync`) and the drill's fetch (`latest`). Its failure
 * (unreachable, refused, checksum) is the pod's termination message.
 */
export function offsiteStep(
  name: string,
  offsite: OffsiteTarget,
  service: string,
  args: string[],
  mount: k8s.types.input.core.v1.VolumeMount,
): k8s.types.input.core.v1.Container {
  return {
    name,
    image: imageReference(imageValues(offsite.config.image, OFFSITE_IMAGE), OFFSITE_IMAGE_TAG),
    command: ["/bin/sh", "-c", backupScript("offsite"), "offsite", ...args],
    env: offsiteEnv(offsite.config, service),
    securityContext: BACKUP_CONTAINER_SECURITY,
    volumeMounts: [mount],
    resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
  };
}

/** An image's full reference, `defaultTag` when it sets no tag. */
export function imageReference(
  image: { registry: string; repository: string; tag?: string },
  defaultTag: string,
): string {
  return `${image.registry}/${image.repository}:${image.tag ?? defaultTag}`;
}

/**
 * A pod's affinity to the pods with `labels` (same node), for a job that mounts a ReadWriteOnce claim
 * they mount too; undefined without labels.
 */
export function scheduledBeside(
  labels: Record<string, string> | undefined,
): k8s.types.input.core.v1.Affinity | undefined {
  if (!labels) return undefined;
  return {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" },
      ],
    },
  };
}

/** An env var read from a Secret key. */
export function secretEnv(
  name: string,
  secretName: pulumi.Input<string>,
  key: string,
): k8s.types.input.core.v1.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}
