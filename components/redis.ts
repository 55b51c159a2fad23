/**
 * Redis 7.0 with Sentinel (bitnami/redis), its credentials Secret, exporter sidecar and PodMonitor, backup
 * CronJob, NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/redis/values.yaml` and templates at chart 17.17.1
 * (commit b2beb14f).
 *
 * The chart runs Sentinel only with `architecture: replication` + `sentinel.enabled: true`: one StatefulSet
 * `<fullname>-node` of `replica.replicaCount` pods, each with a redis and a sentinel container; every
 * `master.*` value is ignored then, so the nodes are sized with `replica.*`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPort, PlatformSecrets, RedisConfig } from "../config";
import { redisAlertRules } from "./redis/alerts";
import {
  REDIS_BACKUP_COMMANDS,
  REDIS_BACKUP_PASSWORD_KEY,
  REDIS_BACKUP_USER,
  REDIS_METRICS_COMMANDS,
  REDIS_METRICS_PASSWORD_KEY,
  REDIS_METRICS_PORT,
  REDIS_METRICS_USER,
  REDIS_PASSWORD_KEY,
  redisPodLabels,
  redisValues,
} from "./redis/values";
import { SENTINEL_USERS_KEY, sentinelUsersConf, sentinelUsersSecretName } from "./redis/sentinel-users";
import { imageReference, secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS } from "./shared/charts";
import { childOptions, ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword, opaqueSecret } from "./shared/credentials";
import { EXPORTER_PORT_NAME } from "./shared/exporter";
import { deployService, serviceCredentials } from "./shared/service";

export {
  REDIS_BACKUP_PASSWORD_KEY,
  REDIS_BACKUP_USER,
  REDIS_METRICS_PASSWORD_KEY,
  REDIS_METRICS_USER,
  REDIS_PASSWORD_KEY,
};

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;

/** Key of an ACL user's generated password in the credentials Secret. */
export function redisAclPasswordKey(user: string): string {
  return `acl-${user}-password`;
}

/**
 * Keys a Secret the user keeps (`redis.credentials.existingSecret`) must hold: the default user's password
 * (the chart's key; nodes and Sentinels), one password per ACL user (`acl-<user>-password`), which the
 * initialiser sets on every node, the exporter's (`metrics-password`, its ACL user `redis_exporter`) and,
 * with backups on, the backup job's (`backup-password`, ACL user `redis_backup`).
 */
export function redisExistingSecretKeys(
  config: Pick<RedisConfig, "aclUsers"> & { backup: Pick<RedisConfig["backup"], "enabled"> },
): string[] {
  return [
    REDIS_PASSWORD_KEY,
    ...config.aclUsers.map((u) => redisAclPasswordKey(u.name)),
    REDIS_METRICS_PASSWORD_KEY,
    ...(config.backup.enabled ? [REDIS_BACKUP_PASSWORD_KEY] : []),
  ];
}

/** Tag of `redis` in chart 17.17.1; the backup job runs its `redis-cli`. */
const REDIS_IMAGE_TAG = "7.0.12-debian-11-r34";

/** Arguments of {@link Redis}. */
export interface RedisArgs {
  /** Validated `redis` stack config. */
  config: RedisConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config; `redisPassword` is the default user's password in `external` mode. */
  secrets: PlatformSecrets;
}

/** An ACL user the initialiser puts on every node, with its generated password. */
export interface RedisAclUserConnection {
  name: string;
  /** Key patterns, without the `~`. */
  keys: string[];
  /** Pub/Sub channel patterns, without the `&`. */
  channels: string[];
  /** Command rules (`+@read -@dangerous`). */
  commands: string;
  /** Secret. */
  password: pulumi.Output<string>;
}

/** How the initialiser and applications reach Redis: through Sentinel, which names the current master. */
export interface RedisConnection {
  /** Sentinels to ask for the master (endpoint override applied). */
  sentinels: HostPort[];
  /** The master set the Sentinels monitor. */
  masterName: string;
  /** Password of the `default` user on every node. Secret. */
  password: pulumi.Output<string>;
  /** Password of the Sentinels; the same as `password` (the chart's `auth.sentinel: true`). Secret. */
  sentinelPassword: pulumi.Output<string>;
  /** Redis nodes: one master and `nodes - 1` replicas, each of which needs the ACL users. */
  nodes: number;
  /** ACL users with their generated passwords. */
  aclUsers: RedisAclUserConnection[];
  /** The exporter's and backup job's ACL users (helm mode only), kept like `aclUsers`. */
  serviceUsers?: RedisAclUserConnection[];
}

export class Redis extends pulumi.ComponentResource {
  /** Helm release name, also the name of the Service in front of every node (redis 6379, sentinel 26379). */
  public readonly releaseName = "redis";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** Name of the Secret holding the passwords (absent in `external` mode). */
  public readonly secretName?: string;
  /** Sentinel endpoint(s), `host:port` joined by commas; in cluster the Service's sentinel port. */
  public readonly endpoint: pulumi.Output<string>;
  /** Connection details for the initialiser (endpoint override applied). */
  public readonly connection: RedisConnection;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:Redis", name, {}, opts);
    const { config, platform } = args;
    const ns = platform.namespace;
    const aclUsers = (passwords: pulumi.Output<string>[]): RedisAclUserConnection[] =>
      config.aclUsers.map((user, i) => ({
        name: user.name,
        keys: user.keys,
        channels: user.channels,
        commands: user.commands,
        password: pulumi.secret(passwords[i]),
      }));
    const generatedAclPasswords = () =>
      config.aclUsers.map((u) => generatedPassword(`${name}-acl-${u.name}-password`, { parent: this }));

    if (config.mode === "external") {
      // Sentinels run elsewhere: nothing to deploy, the same ACL users through the configured Sentinels.
      const ep = config.endpoint!;
      const password = pulumi.secret(args.secrets.redisPassword!);
      this.endpoint = pulumi.output(joinHostPorts(ep.sentinels));
      this.connection = {
        sentinels: ep.sentinels,
        masterName: ep.masterName ?? config.sentinel.masterSet,
        password,
        // Managed Sentinels often have their own password (or none): `redisSentinelPassword` when set.
        sentinelPassword: args.secrets.redisSentinelPassword
          ? pulumi.secret(args.secrets.redisSentinelPassword)
          : password,
        nodes: config.nodes,
        aclUsers: aclUsers(generatedAclPasswords()),
      };
      this.ready = [];
      this.clientSecretData = redisClientData(this.connection);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const creds = serviceCredentials(name, this, platform, {
      service: "redis",
      releaseName: this.releaseName,
      existingSecretName: config.credentials?.existingSecret,
      keys: redisExistingSecretKeys(config),
      generate: () => {
        const acl = generatedAclPasswords();
        return {
          [REDIS_PASSWORD_KEY]: generatedPassword(`${name}-password`, { parent: this }),
          // Kept beside the chart's key so operators can read them; the chart reads only its own key.
          ...Object.fromEntries(config.aclUsers.map((u, i) => [redisAclPasswordKey(u.name), acl[i]])),
          [REDIS_METRICS_PASSWORD_KEY]: generatedPassword(`${name}-metrics-password`, { parent: this }),
          ...(config.backup.enabled
            ? { [REDIS_BACKUP_PASSWORD_KEY]: generatedPassword(`${name}-backup-password`, { parent: this }) }
            : {}),
        };
      },
    });
    const secretName = creds.secretName;
    this.secretName = secretName;
    const password = creds.values[REDIS_PASSWORD_KEY];

    const appUsers = aclUsers(config.aclUsers.map((u) => creds.values[redisAclPasswordKey(u.name)]));
    const serviceUsers = redisServiceUsers(config, creds.values);
    const allUsers = [...appUsers, ...serviceUsers];
    // Every user's discovery login, which the Sentinels get back from this Secret at each start.
    const sentinelUsers = opaqueSecret(
      `${name}-sentinel-users`,
      {
        namespace: ns,
        name: sentinelUsersSecretName(this.releaseName),
        data: {
          [SENTINEL_USERS_KEY]: pulumi
            .all(allUsers.map((u) => u.password))
            .apply((pws) => sentinelUsersConf(allUsers.map((u, i) => ({ name: u.name, password: pws[i] })))),
        },
      },
      childOptions(this, platform),
    );

    this.release = deployService(name, this, platform, {
      service: "redis",
      releaseName: this.releaseName,
      chart: CHARTS.redis,
      chartSource: config.chart,
      values: redisValues(config, platform, secretName, this.releaseName),
      secret: creds.resource,
      mountedSecrets: [sentinelUsers],
      // Clients ask a Sentinel (26379) for the master, then talk to it (6379); peers replicate on 6379
      // and Sentinels gossip on 26379; Prometheus scrapes the exporter on 9121.
      network: { ports: [REDIS_PORT, SENTINEL_PORT], metricsPorts: [REDIS_METRICS_PORT] },
      backup: config.backup.enabled
        ? {
            config: config.backup,
            // The server image carries redis-cli of the same version.
            image: bitnamiImage(config.images.redis, "redis"),
            defaultTag: REDIS_IMAGE_TAG,
            env: [
              { name: "REDIS_SENTINEL_HOST", value: this.releaseName },
              { name: "REDIS_SENTINEL_PORT", value: String(SENTINEL_PORT) },
              { name: "REDIS_MASTER_SET", value: config.sentinel.masterSet },
              // Its own ACL user (replication stream only), also its discovery login on the Sentinels
              // (init/redis.ts); redis-cli reads the password from REDISCLI_AUTH.
              { name: "REDIS_USER", value: REDIS_BACKUP_USER },
              secretEnv("REDISCLI_AUTH", secretName, REDIS_BACKUP_PASSWORD_KEY),
            ],
            // The server image runs the scratch redis-server and redis-check-rdb.
            drill: {
              image: imageReference(bitnamiImage(config.images.redis, "redis"), REDIS_IMAGE_TAG),
              env: [{ name: "REDIS_MASTER_SET", value: config.sentinel.masterSet }],
              pattern: `redis-${config.sentinel.masterSet}-*.rdb`,
            },
          }
        : undefined,
      alerts: () => redisAlertRules(ns, config.nodes),
      podMonitor: { podLabels: redisPodLabels(this.releaseName), port: EXPORTER_PORT_NAME },
    });

    const sentinels = [{ host: serviceHost(this.releaseName, ns), port: SENTINEL_PORT }];
    this.endpoint = pulumi.output(joinHostPorts(sentinels));
    this.connection = {
      sentinels: config.endpoint?.sentinels ?? sentinels,
      masterName: config.sentinel.masterSet,
      password: pulumi.secret(password),
      sentinelPassword: pulumi.secret(password),
      nodes: config.nodes,
      aclUsers: appUsers,
      serviceUsers,
    };
    this.ready = [this.release, creds.resource];
    this.clientSecretData = redisClientData({ ...this.connection, sentinels });
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
}

/** The exporter's and (with backups on) the backup job's ACL users, with their passwords. */
function redisServiceUsers(
  config: RedisConfig,
  values: Record<string, pulumi.Output<string>>,
): RedisAclUserConnection[] {
  const user = (name: string, commands: string, key: string): RedisAclUserConnection => ({
    name,
    keys: [],
    channels: [],
    commands,
    password: pulumi.secret(values[key]),
  });
  return [
    user(REDIS_METRICS_USER, REDIS_METRICS_COMMANDS, REDIS_METRICS_PASSWORD_KEY),
    ...(config.backup.enabled
      ? [user(REDIS_BACKUP_USER, REDIS_BACKUP_COMMANDS, REDIS_BACKUP_PASSWORD_KEY)]
      : []),
  ];
}

function joinHostPorts(list: HostPort[]): string {
  return list.map((s) => `${s.host}:${s.port}`).join(",");
}

/**
 * Application-facing keys: the Sentinels, the master set and the login of the first ACL user, which
 * works on every node and, for discovery only, on every Sentinel (init/redis.ts). Never the `default`
 * user's password: with no ACL user declared, applications get the addresses and no login.
 */
function redisClientData(c: RedisConnection): ClientSecretData {
  const app = c.aclUsers[0];
  return {
    "redis-sentinels": joinHostPorts(c.sentinels),
    "redis-master-name": c.masterName,
    ...(app ? { "redis-username": app.name, "redis-password": app.password } : {}),
  };
}
