/**
 * The pieces every service's config schema is built from: images, resources, backup, mode and endpoint
 * fields (config/schema.ts assembles them; defaults stay beside each field).
 */
import { z } from "zod";
import { binaryQuantity, cpuQuantity, cronSchedule, k8sName, memoryQuantity } from "./quantities";
import { chartSourceSchema, credentialsSchema } from "./service-sources";

/** A container image reference; each part overrides the chart's own default when set. */
export const imageSchema = z
  .object({
    /** Registry host, for example `docker.io` or a private mirror. */
    registry: z.string().min(1).optional(),
    /** Repository inside the registry, for example `bitnamilegacy/postgresql`. */
    repository: z.string().min(1).optional(),
    /** Tag; leave unset to keep the tag the pinned chart was tested with. */
    tag: z.string().min(1).optional(),
  })
  .strict();
export type ImageConfig = z.infer<typeof imageSchema>;

/**
 * A service's `images` object: one {@link imageSchema} per key, each defaulting to `{}` (the chart's own
 * image), unknown keys refused, and the whole object optional.
 */
export function imagesSchema<K extends string>(...keys: K[]) {
  const image = imageSchema.default({});
  const shape = Object.fromEntries(keys.map((k) => [k, image])) as { [P in K]: typeof image };
  const images = z.object(shape).strict();
  // Every key has a default, so `{}` is a valid input; TypeScript cannot see that for a generic K.
  return images.prefault({} as z.input<typeof images>);
}

const resourceAmounts = z
  .object({
    /** CPU, Kubernetes quantity (`500m`, `2`). */
    cpu: cpuQuantity,
    /** Memory, binary Kubernetes quantity (`512Mi`, `4Gi`). */
    memory: memoryQuantity,
  })
  .strict();

/** Requests and limits for a database container. */
export const resourcesSchema = z
  .object({
    requests: resourceAmounts,
    limits: resourceAmounts,
  })
  .strict();
export type ResourcesConfig = z.infer<typeof resourcesSchema>;

/** Backup CronJob settings shared by every service. */
export const backupSchema = z
  .object({
    /** Whether the component creates its backup CronJob and PVC. */
    enabled: z.boolean().default(true),
    /** Cron schedule in the cluster's time zone. */
    schedule: cronSchedule.default("0 2 * * *"),
    /** Days a backup is kept before the job deletes it. */
    retentionDays: z.number().int().min(1).max(3650).default(7),
    /** Size of the backup PersistentVolumeClaim. */
    storageSize: binaryQuantity.default("10Gi"),
    /**
     * The restore drill: a CronJob that restores the newest backup (from `backup.s3` when set, else the
     * claim) into a scratch instance in its pod and reports what came back (README, "Restore drills").
     */
    drill: z
      .object({
        /** Whether the component creates the drill CronJob (with the backup job only). */
        enabled: z.boolean().default(true),
        /** Cron schedule in the cluster's time zone; after the nightly backup by default. */
        schedule: cronSchedule.default("0 6 * * *"),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type BackupConfig = z.infer<typeof backupSchema>;

/**
 * Where every backup job copies its backups off the cluster: one S3 bucket (AWS S3 or any S3-compatible
 * store), each service under `<prefix>/<service>`. Requests are path-style (`<endpoint>/<bucket>/<key>`),
 * which AWS S3 and every S3-compatible store accept.
 */
export const offsiteSchema = z
  .object({
    /** The S3 API's URL, scheme and host (and port): `https://s3.eu-west-1.amazonaws.com`, `http://minio.backup:9000`. */
    endpoint: z
      .string()
      .regex(
        /^https?:\/\/[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?\/?$/,
        "must be http:// or https:// then a host and an optional port, no path (https://s3.eu-west-1.amazonaws.com)",
      ),
    /** The bucket, which must exist (the jobs never create one). */
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "is not an S3 bucket name (3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit)",
      ),
    /** Folder in the bucket (no leading or trailing `/`); each service writes under `<prefix>/<service>`. */
    prefix: z
      .string()
      .regex(
        /^([A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*)?$/,
        "must be folder names of letters, digits, '.', '_' and '-' joined by '/', with no leading or trailing '/'",
      )
      .default(""),
    /** The bucket's region (signs the requests). */
    region: z
      .string()
      .regex(/^[a-z0-9-]{1,32}$/, "is not a region name (us-east-1, eu-west-1, ...)")
      .default("us-east-1"),
    /**
     * Secret in the stack's namespace with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`: a
     * login that may put, get, list and delete objects under the prefix.
     */
    existingSecret: k8sName,
    /** Image of the upload step (needs sh and curl 7.75 or later); unset parts keep `curlimages/curl`. */
    image: imageSchema.prefault({}),
  })
  .strict();
export type OffsiteConfig = z.infer<typeof offsiteSchema>;

/** How the program reaches a service's server, and whether it deploys it. */
const modeSchema = z.enum(["helm", "external"]);

/** A service's sizing defaults: the data volume and the database container's requests and limits. */
export interface ServiceSizing {
  /** Default size of each data volume. */
  storage: string;
  /** Default requests (CPU and memory). */
  requests: { cpu: string; memory: string };
  /** Default limits (CPU and memory). */
  limits: { cpu: string; memory: string };
}

/** Fields every service has, with that service's sizing defaults. */
export function serviceBase(sizing: ServiceSizing) {
  return {
    /** Deploy and initialise this service at all. */
    enabled: z.boolean().default(true),
    /**
     * `helm` deploys the chart in the cluster; `external` deploys nothing and initialises a server you run
     * elsewhere (a managed database), reached through `endpoint` with credentials from secret config.
     */
    mode: modeSchema.default("helm"),
    /** Seconds the initialiser keeps retrying to reach the server before it fails. */
    initTimeoutSeconds: z.number().int().min(1).max(3600).default(600),
    /**
     * How the initialiser reaches the release from where `pulumi up` runs (`helm` mode without `endpoint`):
     * `auto` uses the in-cluster names when they resolve there and port-forwards through the Kubernetes API
     * otherwise, `in-cluster` always the names, `port-forward` always port-forwards (README "Reaching the
     * servers").
     */
    connect: z.enum(["auto", "in-cluster", "port-forward"]).default("auto"),
    /** Size of each data volume. */
    storageSize: binaryQuantity.default(sizing.storage),
    /** Requests and limits of the database container. */
    resources: resourcesSchema.default({ requests: sizing.requests, limits: sizing.limits }),
    /** The backup CronJob. */
    backup: backupSchema.prefault({}),
    /** Where the Helm chart comes from (`helm` mode): a mirror or a local folder; unset: the pinned chart. */
    chart: chartSourceSchema.optional(),
    /** A Secret you keep with the service's credentials (`helm` mode); unset: generated passwords. */
    credentials: credentialsSchema.optional(),
  };
}

export const hostPort = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
  })
  .strict();
export type HostPort = z.infer<typeof hostPort>;

export const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case SQL identifier (letters, digits, underscore)");

/**
 * A name the charts write into shell scripts, config files and mongosh JavaScript (Sentinel's master
 * set, MongoDB's database and users): letters, digits, `_` and `-` only, so no value can end a quoted
 * string there.
 */
export const plainName = z
  .string()
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/,
    "must be 1-64 letters, digits, '_' or '-' (not starting with '-')",
  );

/** A login name the charts write into their scripts: as {@link plainName}, and `.` and `@` too. */
export const loginName = z
  .string()
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/,
    "must be 1-64 letters, digits, '_', '-', '.' or '@' (not starting with '-', '.' or '@')",
  );
