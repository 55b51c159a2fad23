/**
 * PostgreSQL 16 (bitnami/postgresql), its credentials Secret, exporter sidecar and PodMonitor, backup CronJob,
 * NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/postgresql/values.yaml` at chart 15.5.38.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parseBytes, PlatformSecrets, PostgresConfig } from "../config";
import { secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS } from "./shared/charts";
import { ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { postgresAlertRules } from "./postgres/alerts";
import { generatedPassword } from "./shared/credentials";
import { EXPORTER_PORT_NAME, exporterSidecar } from "./shared/exporter";
import { deployService, serviceCredentials } from "./shared/service";
import { pgvectorDrillImage, pgvectorPodValues, POSTGRESQL_IMAGE_TAG } from "./shared/pgvector";

/** postgresql.conf defaults from the design (seed §2.3); stack config `postgres.settings` overrides them. */
const POSTGRES_DEFAULT_SETTINGS: Record<string, string | number> = {
  max_connections: 200,
  work_mem: "64MB",
  maintenance_work_mem: "256MB",
  log_statement: "ddl",
  log_min_duration_statement: 1000,
  random_page_cost: 1.1,
};

/**
 * Settings the initialiser sets with `ALTER SYSTEM` once the server is up, never in the chart's conf.d:
 * the image's first boot copies conf.d in before it runs `CREATE ROLE ... PASSWORD '<app password>'`
 * (bitnami libpostgresql.sh), and `log_statement: ddl` would log that statement, password and all.
 */
export const POSTGRES_DEFERRED_SETTINGS = ["log_statement"];

/** The settings of {@link postgresSettings} split: conf.d's (the chart's) and the initialiser's. */
export function postgresSettingsByPlace(config: Pick<PostgresConfig, "settings" | "resources">): {
  confD: Record<string, string>;
  deferred: Record<string, string>;
} {
  const all = Object.entries(postgresSettings(config));
  const isDeferred = ([k]: [string, string]) => POSTGRES_DEFERRED_SETTINGS.includes(k);
  return {
    confD: Object.fromEntries(all.filter((e) => !isDeferred(e))),
    deferred: Object.fromEntries(all.filter(isDeferred)),
  };
}

/**
 * Keys of the Secret: the chart's three (`auth.secretKeys` defaults of the chart), the exporter's
 * password (only the program's exporter container reads it) and the backup job's.
 */
export const POSTGRES_SECRET_KEYS = {
  admin: "postgres-password",
  user: "password",
  replication: "replication-password",
  metrics: "metrics-password",
  backup: "backup-password",
} as const;

/** The exporter's login: `pg_monitor` only (statistics and settings, no table data, no DDL). */
export const POSTGRES_METRICS_USER = "postgres_exporter";

/** The backup job's login: `pg_read_all_data` only (what pg_dump reads; it writes and creates nothing). */
export const POSTGRES_BACKUP_USER = "postgres_backup";

/** postgres-exporter's tag in bitnami/postgresql 15.5.38 (`metrics.image.tag`). */
const POSTGRES_EXPORTER_IMAGE_TAG = "0.15.0-debian-12-r43";

/**
 * Keys a Secret the user keeps (`postgres.credentials.existingSecret`) must hold: the admin's, the app
 * role's and the exporter's passwords (chart, initialiser, exporter), the replication password when
 * there are read replicas, the backup job's when backups are on.
 */
export function postgresExistingSecretKeys(
  config: Pick<PostgresConfig, "readReplicas"> & { backup: Pick<PostgresConfig["backup"], "enabled"> },
): string[] {
  const k = POSTGRES_SECRET_KEYS;
  const keys: string[] = [k.admin, k.user, k.metrics];
  if (config.readReplicas > 0) keys.push(k.replication);
  if (config.backup.enabled) keys.push(k.backup);
  return keys;
}

const PORT = 5432;
const METRICS_PORT = 9187;

/** Labels of every pod of the release (primary and read replicas), as the chart sets them. */
function postgresPodLabels(releaseName: string): Record<string, string> {
  return { "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": releaseName };
}

/**
 * The postgresql.conf settings for a memory limit: the design's defaults, `shared_buffers` at 25% and
 * `effective_cache_size` at 75% of the limit (the seed's ratios for 4Gi), then the user's settings.
 */
export function postgresSettings(
  config: Pick<PostgresConfig, "settings" | "resources">,
): Record<string, string> {
  const limitMb = Math.floor((parseBytes(config.resources.limits.memory) ?? 0) / 2 ** 20);
  const derived: Record<string, string | number> = {
    shared_buffers: `${Math.max(16, Math.floor(limitMb / 4))}MB`,
    effective_cache_size: `${Math.max(32, Math.floor((limitMb * 3) / 4))}MB`,
  };
  const merged = { ...POSTGRES_DEFAULT_SETTINGS, ...derived, ...config.settings };
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)]));
}

/** Renders settings as postgresql.conf lines, quoting values the way PostgreSQL expects. */
export function renderPostgresConf(settings: Record<string, string>): string {
  return (
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${/^-?[0-9.]+$/.test(v) ? v : `'${v.replace(/'/g, "''")}'`}`)
      .join("\n") + "\n"
  );
}

/** Arguments of {@link PostgreSQL}. */
export interface PostgreSQLArgs {
  /** Validated `postgres` stack config. */
  config: PostgresConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config; `postgresPassword` is the admin password in `external` mode. */
  secrets: PlatformSecrets;
}

/** How the initialiser and applications reach PostgreSQL. */
export interface PostgresConnection {
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
  database: string;
  adminUser: string;
  /** Secret. */
  adminPassword: pulumi.Output<string>;
  appUser: string;
  /** Secret. */
  appPassword: pulumi.Output<string>;
  /** The exporter's and backup job's logins, which the initialiser keeps (helm mode only). */
  serviceRoles?: { name: string; grant: "pg_monitor" | "pg_read_all_data" }[];
  /** Their passwords by name. Secret. */
  serviceRolePasswords?: pulumi.Output<Record<string, string>>;
  /** Settings the initialiser sets after the first boot (helm mode; see POSTGRES_DEFERRED_SETTINGS). */
  serverSettings?: Record<string, string>;
}

export class PostgreSQL extends pulumi.ComponentResource {
  /** Helm release name, also the Service name. */
  public readonly releaseName = "postgresql";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** Name of the Secret holding the passwords (absent in `external` mode). */
  public readonly secretName?: string;
  /** In-cluster endpoint (`host:port`) of the primary. */
  public readonly endpoint: pulumi.Output<string>;
  /** Connection details for the initialiser (endpoint override applied). */
  public readonly connection: PostgresConnection;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData;

  constructor(name: string, args: PostgreSQLArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:PostgreSQL", name, {}, opts);
    const { config, platform } = args;
    const ns = platform.namespace;

    if (config.mode === "external") {
      // A managed server: nothing to deploy, the same initialisation through the configured endpoint.
      const ep = config.endpoint!;
      this.endpoint = pulumi.output(`${ep.host}:${ep.port}`);
      const adminPassword = pulumi.secret(args.secrets.postgresPassword!);
      this.connection = {
        host: pulumi.output(ep.host),
        port: pulumi.output(ep.port),
        database: config.database,
        adminUser: config.adminUser,
        adminPassword,
        appUser: config.appUser,
        appPassword: pulumi.secret(generatedPassword(`${name}-app-password`, { parent: this })),
      };
      this.ready = [];
      this.clientSecretData = postgresClientData(this.connection);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const creds = serviceCredentials(name, this, platform, {
      service: "postgres",
      releaseName: this.releaseName,
      existingSecretName: config.credentials?.existingSecret,
      keys: postgresExistingSecretKeys(config),
      generate: () => ({
        [POSTGRES_SECRET_KEYS.admin]: generatedPassword(`${name}-admin-password`, { parent: this }),
        [POSTGRES_SECRET_KEYS.user]: generatedPassword(`${name}-app-password`, { parent: this }),
        [POSTGRES_SECRET_KEYS.replication]: generatedPassword(`${name}-replication-password`, {
          parent: this,
        }),
        [POSTGRES_SECRET_KEYS.metrics]: generatedPassword(`${name}-metrics-password`, { parent: this }),
        ...(config.backup.enabled
          ? { [POSTGRES_SECRET_KEYS.backup]: generatedPassword(`${name}-backup-password`, { parent: this }) }
          : {}),
      }),
    });
    const secretName = creds.secretName;
    this.secretName = secretName;
    const adminPassword = creds.values[POSTGRES_SECRET_KEYS.admin];
    const appPassword = creds.values[POSTGRES_SECRET_KEYS.user];

    // The chart names the primary's Service `<release>-primary` once there are read replicas
    // (`postgresql.v1.primary.fullname`, architecture replication); `<release>` otherwise.
    const primaryService = config.readReplicas > 0 ? `${this.releaseName}-primary` : this.releaseName;
    this.release = deployService(name, this, platform, {
      service: "postgres",
      releaseName: this.releaseName,
      chart: CHARTS.postgresql,
      chartSource: config.chart,
      values: postgresValues(config, platform, secretName, this.releaseName),
      secret: creds.resource,
      network: { ports: [PORT], metricsPorts: [METRICS_PORT] },
      backup: config.backup.enabled
        ? {
            config: config.backup,
            // The server image carries pg_dump of the same major version.
            image: bitnamiImage(config.images.postgresql, "postgresql"),
            defaultTag: POSTGRESQL_IMAGE_TAG,
            env: [
              { name: "PGHOST", value: primaryService },
              { name: "PGPORT", value: String(PORT) },
              // Its own login, read-only (pg_read_all_data); a restore needs the admin (README).
              { name: "PGUSER", value: POSTGRES_BACKUP_USER },
              { name: "PGDATABASE", value: config.database },
              secretEnv("PGPASSWORD", secretName, POSTGRES_SECRET_KEYS.backup),
            ],
            drill: {
              ...pgvectorDrillImage(config),
              env: [{ name: "PGDATABASE", value: config.database }],
              pattern: `postgres-${config.database}-*.dump`,
            },
          }
        : undefined,
      alerts: () => postgresAlertRules(ns),
      podMonitor: { podLabels: postgresPodLabels(this.releaseName), port: EXPORTER_PORT_NAME },
    });

    const host = serviceHost(primaryService, ns);
    this.endpoint = pulumi.output(`${host}:${PORT}`);
    this.connection = {
      host: pulumi.output(config.endpoint?.host ?? host),
      port: pulumi.output(config.endpoint?.port ?? PORT),
      database: config.database,
      adminUser: "postgres",
      adminPassword: pulumi.secret(adminPassword),
      appUser: config.appUser,
      appPassword: pulumi.secret(appPassword),
      serviceRoles: [
        { name: POSTGRES_METRICS_USER, grant: "pg_monitor" },
        ...(config.backup.enabled
          ? [{ name: POSTGRES_BACKUP_USER, grant: "pg_read_all_data" as const }]
          : []),
      ],
      serviceRolePasswords: pulumi.secret(
        pulumi.all(
          Object.fromEntries([
            [POSTGRES_METRICS_USER, creds.values[POSTGRES_SECRET_KEYS.metrics]],
            ...(config.backup.enabled
              ? [[POSTGRES_BACKUP_USER, creds.values[POSTGRES_SECRET_KEYS.backup]]]
              : []),
          ]) as Record<string, pulumi.Output<string>>,
        ),
      ),
      serverSettings: postgresSettingsByPlace(config).deferred,
    };
    this.ready = [this.release, creds.resource];
    this.clientSecretData = postgresClientData({
      ...this.connection,
      host: pulumi.output(host),
      port: pulumi.output(PORT),
    });
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
}

/** Application-facing keys: the app role, never the admin. */
function postgresClientData(c: PostgresConnection): ClientSecretData {
  return {
    "postgres-host": c.host,
    "postgres-port": c.port.apply(String),
    "postgres-database": c.database,
    "postgres-username": c.appUser,
    "postgres-password": c.appPassword,
    // Percent-encoded: a kept password (existingSecret) may hold `@`, `/`, `:` or `%`.
    "postgres-url": pulumi.secret(
      pulumi
        .all([c.appPassword, c.host, c.port])
        .apply(
          ([password, host, port]) =>
            `postgresql://${encodeURIComponent(c.appUser)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(c.database)}`,
        ),
    ),
  };
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
function postgresValues(
  config: PostgresConfig,
  platform: Pick<PlatformContext, "storageClass" | "monitoring" | "podAntiAffinity">,
  secretName: string,
  releaseName: string,
): Record<string, unknown> {
  const resources = config.resources;
  const persistence = { enabled: true, size: config.storageSize, storageClass: platform.storageClass };
  // The same init containers and mounts on the primary and the read replicas: a replica replays WAL
  // into vector indexes and answers queries that call the extension's functions.
  const pgvector = pgvectorPodValues(config) ?? {};
  // The chart's own exporter would hold the admin's password (module comment of ./shared/exporter).
  const sidecars = [
    exporterSidecar({
      image: bitnamiImage(config.images.metrics, "postgres-exporter"),
      defaultTag: POSTGRES_EXPORTER_IMAGE_TAG,
      port: METRICS_PORT,
      env: [
        { name: "DATA_SOURCE_URI", value: `127.0.0.1:${PORT}/postgres?sslmode=disable` },
        { name: "DATA_SOURCE_USER", value: POSTGRES_METRICS_USER },
        secretEnv("DATA_SOURCE_PASS", secretName, POSTGRES_SECRET_KEYS.metrics),
      ],
    }),
  ];
  const values: Record<string, unknown> = {
    fullnameOverride: releaseName,
    image: bitnamiImage(config.images.postgresql, "postgresql"),
    auth: {
      enablePostgresUser: true,
      username: config.appUser,
      database: config.database,
      existingSecret: secretName,
      secretKeys: {
        adminPasswordKey: POSTGRES_SECRET_KEYS.admin,
        userPasswordKey: POSTGRES_SECRET_KEYS.user,
        replicationPasswordKey: POSTGRES_SECRET_KEYS.replication,
      },
    },
    architecture: config.readReplicas > 0 ? "replication" : "standalone",
    postgresqlSharedPreloadLibraries: config.sharedPreloadLibraries,
    primary: {
      initdb: { args: "--data-checksums" },
      extendedConfiguration: renderPostgresConf(postgresSettingsByPlace(config).confD),
      resources,
      persistence,
      networkPolicy: { enabled: false },
      podAntiAffinityPreset: platform.podAntiAffinity,
      sidecars,
      ...pgvector,
    },
    readReplicas: {
      replicaCount: config.readReplicas,
      resources,
      persistence,
      networkPolicy: { enabled: false },
      // Read replicas on separate nodes in prod (the preset spreads the pods of one component).
      podAntiAffinityPreset: platform.podAntiAffinity,
      sidecars,
      ...pgvector,
    },
    volumePermissions: { image: bitnamiImage(config.images.volumePermissions, "os-shell") },
    // Off: the sidecars above export instead. `metrics.image` stays the stack's image slot (the policy
    // pack checks its tag there); the chart ignores it while metrics are off.
    metrics: {
      enabled: false,
      image: bitnamiImage(config.images.metrics, "postgres-exporter"),
    },
  };
  return values;
}
