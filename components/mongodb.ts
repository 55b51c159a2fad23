/**
 * MongoDB 6.0 replica set (bitnami/mongodb), its credentials Secret, backup CronJob, NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/mongodb/values.yaml` and templates at chart 13.18.5
 * (commit 5b4515c8); exporter metric names against percona/mongodb_exporter v0.39.0, the version of the
 * chart's `bitnami/mongodb-exporter:0.39.0` image.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MongodbConfig, parseBytes, PlatformSecrets } from "../config";
import { mongodbAlertRules } from "./mongodb/alerts";
import { imageReference, secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS } from "./shared/charts";
import { ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword } from "./shared/credentials";
import { deployService, serviceCredentials } from "./shared/service";
import { disruptionBudget } from "./shared/scheduling";

/**
 * Keys of the Secret the chart reads through `auth.existingSecret` (chart templates
 * `replicaset/statefulset.yaml` and `secrets.yaml`; the key names are fixed, the chart has no `secretKeys`).
 */
export const MONGODB_SECRET_KEYS = {
  /** Password of `auth.rootUser`. */
  root: "mongodb-root-password",
  /** Passwords of `auth.usernames`, comma-joined in the same order. */
  users: "mongodb-passwords",
  /** Password of `metrics.username`; read only when that is set. */
  metrics: "mongodb-metrics-password",
  /** Shared key the members authenticate each other with (keyFile). */
  replicaSetKey: "mongodb-replica-set-key",
} as const;

/**
 * The exporter's own user. Without `metrics.username` the chart hands the exporter the root password;
 * with it, the image creates this user on first start with `clusterMonitor` and `read` on `local` only
 * (bitnami/containers `bitnami/mongodb/6.0/debian-11/.../libmongodb.sh`, `mongodb_create_users`).
 */
export const MONGODB_METRICS_USER = "prometheus_exporter";

/**
 * Keys a Secret the user keeps (`mongodb.credentials.existingSecret`) must hold: every key of
 * {@link MONGODB_SECRET_KEYS} (the chart reads all four: the release is always a replica set with a
 * metrics user); `mongodb-passwords` is the app user's password alone (one entry of `auth.usernames`).
 */
export const MONGODB_EXISTING_SECRET_KEYS: string[] = Object.values(MONGODB_SECRET_KEYS);

/**
 * The exporter's start script, in place of the chart's: that one builds `--mongodb.uri` with the metrics
 * user's password in it, so the password is in mongodb_exporter's command line (/proc/<pid>/cmdline).
 * mongodb_exporter (0.39) also takes the user and password from MONGODB_USER and MONGODB_PASSWORD and
 * puts them into a URI that has none. The flags are the chart's for `compatibleMode` (the alert rules use
 * those names) and the diagnosticdata and replicasetstatus collectors (the replica-set status).
 */
export function mongodbExporterScript(): string {
  return [
    'export MONGODB_USER="$MONGODB_METRICS_USERNAME" MONGODB_PASSWORD="$MONGODB_METRICS_PASSWORD"',
    "unset MONGODB_METRICS_PASSWORD",
    [
      "exec /bin/mongodb_exporter",
      "--collector.diagnosticdata --collector.replicasetstatus --compatible-mode",
      "--mongodb.direct-connect --mongodb.global-conn-pool",
      `--web.listen-address=:${METRICS_PORT}`,
      `--mongodb.uri=mongodb://localhost:${PORT}/admin`,
    ].join(" "),
  ].join("\n");
}

/** Why a kept Secret's values cannot work with the chart, or undefined (names keys, never values). */
export function mongodbExistingSecretCheck(values: Record<string, string>): string | undefined {
  if (values[MONGODB_SECRET_KEYS.users].includes(",")) {
    return `key "${MONGODB_SECRET_KEYS.users}" holds a comma-separated list; the chart splits it on commas and gives one password to each of auth.usernames, here only mongodb.appUser: store that user's password alone (no comma)`;
  }
  return undefined;
}

const PORT = 27017;
const METRICS_PORT = 9216;
/** Tag of the chart's default mongodb image, used by the backup job when the override leaves it unset. */
const MONGODB_DEFAULT_TAG = "6.0.10-debian-11-r8";
/** The exporter sidecar has no config of its own; explicit so it never runs unbounded. */
const EXPORTER_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { cpu: "250m", memory: "256Mi" },
};

/** Arguments of {@link MongoDB}. */
export interface MongoDBArgs {
  /** Validated `mongodb` stack config. */
  config: MongodbConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config; `mongodbPassword` is the root password in `external` mode. */
  secrets: PlatformSecrets;
}

/** How the initialiser and applications reach MongoDB. */
export interface MongoConnection {
  /** Seed list, `host:port` each. */
  hosts: pulumi.Output<string[]>;
  /** Replica set name; unset for a standalone server (external mode only). */
  replicaSet?: string;
  /** Connect to the one seed host only, without replica-set discovery (a forwarded port). */
  directConnection?: boolean;
  /** Connect with TLS. */
  tls?: boolean;
  /** The application database; the app user is defined in it (its `authSource`). */
  database: string;
  /** Root user, defined in `admin`. */
  adminUser: string;
  /** Secret. */
  adminPassword: pulumi.Output<string>;
  appUser: string;
  /** Secret. */
  appPassword: pulumi.Output<string>;
}

export class MongoDB extends pulumi.ComponentResource {
  /** Helm release name, also the base of the StatefulSet and Service names. */
  public readonly releaseName = "mongodb";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** Name of the Secret holding the passwords (absent in `external` mode). */
  public readonly secretName?: string;
  /** In-cluster seed list (`host:port,host:port,...`) of the data-bearing members. */
  public readonly endpoint: pulumi.Output<string>;
  /** Connection details for the initialiser (endpoint override applied). */
  public readonly connection: MongoConnection;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData;

  constructor(name: string, args: MongoDBArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:MongoDB", name, {}, opts);
    const { config, platform } = args;
    const ns = platform.namespace;

    if (config.mode === "external") {
      // A managed server: nothing to deploy, the same initialisation through the configured seed list.
      const ep = config.endpoint!;
      this.endpoint = pulumi.output(ep.hosts.join(","));
      this.connection = {
        hosts: pulumi.output(ep.hosts),
        replicaSet: ep.replicaSet,
        directConnection: ep.directConnection,
        tls: ep.tls,
        database: config.database,
        adminUser: config.adminUser,
        adminPassword: pulumi.secret(args.secrets.mongodbPassword!),
        appUser: config.appUser,
        appPassword: pulumi.secret(generatedPassword(`${name}-app-password`, { parent: this })),
      };
      this.ready = [];
      this.clientSecretData = mongodbClientData(this.connection);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const creds = serviceCredentials(name, this, platform, {
      service: "mongodb",
      releaseName: this.releaseName,
      existingSecretName: config.credentials?.existingSecret,
      keys: MONGODB_EXISTING_SECRET_KEYS,
      check: mongodbExistingSecretCheck,
      generate: () => ({
        [MONGODB_SECRET_KEYS.root]: generatedPassword(`${name}-root-password`, { parent: this }),
        // One entry per `auth.usernames` entry (only the app user); the chart splits on commas.
        [MONGODB_SECRET_KEYS.users]: generatedPassword(`${name}-app-password`, { parent: this }),
        [MONGODB_SECRET_KEYS.metrics]: generatedPassword(`${name}-metrics-password`, { parent: this }),
        [MONGODB_SECRET_KEYS.replicaSetKey]: generatedPassword(`${name}-replica-set-key`, { parent: this }),
      }),
    });
    const secretName = creds.secretName;
    this.secretName = secretName;
    const rootPassword = creds.values[MONGODB_SECRET_KEYS.root];
    const appPassword = creds.values[MONGODB_SECRET_KEYS.users];
    const hosts = mongodbHosts(this.releaseName, ns, config.replicas);

    this.release = deployService(name, this, platform, {
      service: "mongodb",
      releaseName: this.releaseName,
      chart: CHARTS.mongodb,
      chartSource: config.chart,
      values: mongodbValues(config, platform, secretName, this.releaseName),
      secret: creds.resource,
      // This chart version has no NetworkPolicy of its own (no template under bitnami/mongodb/templates).
      // Clients, members and the arbiter all use 27017; Prometheus scrapes the exporter sidecar.
      network: { ports: [PORT], metricsPorts: [METRICS_PORT] },
      backup: config.backup.enabled
        ? {
            config: config.backup,
            // The server image carries mongodump: the chart's own `backup.cronjob` runs it from this image
            // (bitnami/mongodb/templates/backup/cronjob.yaml).
            image: bitnamiImage(config.images.mongodb, "mongodb"),
            defaultTag: MONGODB_DEFAULT_TAG,
            env: [
              { name: "MONGODB_HOSTS", value: hosts.join(",") },
              { name: "MONGODB_REPLICA_SET", value: config.replicaSetName },
              { name: "MONGODB_AUTH_DB", value: "admin" },
              // A full dump with --oplog reads every database and local.oplog.rs: the root user's job.
              { name: "MONGODB_USER", value: config.adminUser },
              secretEnv("MONGODB_PASSWORD", secretName, MONGODB_SECRET_KEYS.root),
            ],
            // The server image runs the scratch mongod and mongorestore.
            drill: {
              image: imageReference(bitnamiImage(config.images.mongodb, "mongodb"), MONGODB_DEFAULT_TAG),
              env: [],
              pattern: "mongodb-*.archive.gz",
            },
          }
        : undefined,
      alerts: () => mongodbAlertRules(ns, config.resources.limits.memory),
    });

    this.endpoint = pulumi.output(hosts.join(","));
    const override = config.endpoint;
    this.connection = {
      hosts: pulumi.output(override?.hosts ?? hosts),
      // Through a forwarded port the members' in-cluster names do not resolve: the override decides.
      replicaSet: override ? override.replicaSet : config.replicaSetName,
      directConnection: override?.directConnection,
      tls: override?.tls,
      database: config.database,
      adminUser: config.adminUser,
      adminPassword: pulumi.secret(rootPassword),
      appUser: config.appUser,
      appPassword: pulumi.secret(appPassword),
    };
    this.ready = [this.release, creds.resource];
    this.clientSecretData = mongodbClientData({
      ...this.connection,
      hosts: pulumi.output(hosts),
      replicaSet: config.replicaSetName,
      directConnection: undefined,
      tls: undefined,
    });
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
}

/**
 * Why the configured users cannot be deployed by the chart, or undefined: the exporter's user is created
 * in `admin`, beside the root user. (A name the chart would split on `,` or `;`, or that would end a
 * quoted string in its scripts, is refused by the config schema: config/common-schema.ts loginName.)
 */
export function mongodbUserProblem(
  config: Pick<MongodbConfig, "adminUser" | "appUser" | "database">,
): string | undefined {
  if (config.adminUser === MONGODB_METRICS_USER) {
    return `ai-platform-data:mongodb.adminUser: "${config.adminUser}" is the name of the exporter's own user; choose another name`;
  }
  if (config.appUser === MONGODB_METRICS_USER && config.database === "admin") {
    return `ai-platform-data:mongodb.appUser: "${config.appUser}" is the name of the exporter's own user in the admin database; choose another name`;
  }
  return undefined;
}

/** In-cluster `host:port` of each data-bearing member: the StatefulSet pods behind the headless Service. */
export function mongodbHosts(releaseName: string, namespace: string, replicas: number): string[] {
  const headless = serviceHost(`${releaseName}-headless`, namespace);
  return Array.from({ length: replicas }, (_, i) => `${releaseName}-${i}.${headless}:${PORT}`);
}

/** The parts of a `mongodb://` connection string. */
export interface MongoUriParts {
  /** Seed list, `host:port` each. */
  hosts: string[];
  username: string;
  password: string;
  /** Default database of the connection. */
  database: string;
  /** Database the user is defined in. */
  authSource: string;
  replicaSet?: string;
  directConnection?: boolean;
  tls?: boolean;
}

/** A standard connection string; user, password and names are percent-encoded as the URI spec requires. */
export function mongodbUri(p: MongoUriParts): string {
  const enc = encodeURIComponent;
  const options = [`authSource=${enc(p.authSource)}`];
  if (p.replicaSet) options.push(`replicaSet=${enc(p.replicaSet)}`);
  if (p.directConnection !== undefined) options.push(`directConnection=${p.directConnection}`);
  if (p.tls !== undefined) options.push(`tls=${p.tls}`);
  return `mongodb://${enc(p.username)}:${enc(p.password)}@${p.hosts.join(",")}/${enc(p.database)}?${options.join("&")}`;
}

/**
 * `--wiredTigerCacheSizeGB` for a container memory limit: MongoDB's own default, 50% of (RAM - 1 GiB) and
 * at least 0.25 GiB, computed from the limit. mongod 6.0 reads the cgroup v1 limit but not cgroup v2's and
 * then sizes the cache from the node's memory, which gets the pod OOM-killed
 * (mongodb/mongodb-kubernetes-operator#936, #1351).
 */
export function wiredTigerCacheSizeGB(memoryLimit: string): number {
  const gib = (parseBytes(memoryLimit) ?? 0) / 2 ** 30;
  return Math.max(0.25, Math.floor(((gib - 1) / 2) * 100) / 100);
}

/** Application-facing keys: the app user, never root. */
function mongodbClientData(c: MongoConnection): ClientSecretData {
  return {
    "mongodb-uri": pulumi.secret(
      pulumi.all([c.hosts, c.appPassword]).apply(([hosts, password]) =>
        mongodbUri({
          hosts,
          username: c.appUser,
          password,
          database: c.database,
          authSource: c.database,
          replicaSet: c.replicaSet,
          directConnection: c.directConnection,
          tls: c.tls,
        }),
      ),
    ),
    "mongodb-username": c.appUser,
    "mongodb-password": c.appPassword,
    "mongodb-database": c.database,
  };
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
function mongodbValues(
  config: MongodbConfig,
  platform: Pick<PlatformContext, "storageClass" | "monitoring" | "podAntiAffinity">,
  secretName: string,
  releaseName: string,
): Record<string, unknown> {
  const resources = config.resources;
  return {
    fullnameOverride: releaseName,
    // Always a replica set, one member in dev: change streams, transactions and `mongodump --oplog`
    // need one, and adding members later needs no migration.
    architecture: "replicaset",
    replicaCount: config.replicas,
    replicaSetName: config.replicaSetName,
    image: bitnamiImage(config.images.mongodb, "mongodb"),
    auth: {
      enabled: true,
      rootUser: config.adminUser,
      // Created on first start with readWrite on the database at the same index.
      usernames: [config.appUser],
      databases: [config.database],
      // Every password and the replica-set key come from here (`MONGODB_SECRET_KEYS`).
      existingSecret: secretName,
    },
    extraFlags: [`--wiredTigerCacheSizeGB=${wiredTigerCacheSizeGB(resources.limits.memory)}`],
    resources,
    persistence: { enabled: true, size: config.storageSize, storageClass: platform.storageClass },
    // Members on separate nodes (hard in prod) and evicted one at a time, so a drain keeps the majority.
    podAntiAffinityPreset: platform.podAntiAffinity,
    pdb: disruptionBudget(config.replicas),
    arbiter: { enabled: config.arbiter, resources },
    // The component owns the backup (BackupJob); the chart's own mongodump CronJob stays off.
    backup: { enabled: false },
    volumePermissions: { image: bitnamiImage(config.images.volumePermissions, "os-shell") },
    // Neither is rendered (TLS and external access stay off), but both default to docker.io/bitnami.
    tls: { image: bitnamiImage(undefined, "nginx") },
    externalAccess: { autoDiscovery: { image: bitnamiImage(undefined, "kubectl") } },
    metrics: {
      enabled: true,
      image: bitnamiImage(config.images.metrics, "mongodb-exporter"),
      username: MONGODB_METRICS_USER,
      // The chart's command is `/bin/bash -ec`; this is its script (see mongodbExporterScript).
      args: [mongodbExporterScript()],
      resources: EXPORTER_RESOURCES,
      serviceMonitor: { enabled: platform.monitoring.serviceMonitor, labels: platform.monitoring.labels },
    },
  };
}
