/**
 * Redis 7.0 with Sentinel (bitnami/redis), its credentials Secret, backup CronJob, NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/redis/values.yaml` and templates at chart 17.17.1
 * (commit b2beb14f).
 *
 * The chart runs Sentinel only with `architecture: replication` + `sentinel.enabled: true`: one StatefulSet
 * `<fullname>-node` of `replica.replicaCount` pods, each with a redis and a sentinel container; every
 * `master.*` value is ignored then, so the nodes are sized with `replica.*`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostPort, parseBytes, PlatformSecrets, RedisConfig } from "../config";
import { BackupJob, secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS, pinnedRelease } from "./shared/charts";
import { childOptions, ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword, opaqueSecret } from "./shared/credentials";
import { existingSecret } from "./shared/existing-secret";
import { AlertRule, alertRules, diskSpaceRule } from "./shared/monitoring";
import { databaseNetworkPolicy } from "./shared/network";
import { disruptionBudget } from "./shared/scheduling";

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;
const METRICS_PORT = 9121;

/** Key of the default user's password in the credentials Secret (`auth.existingSecretPasswordKey`). */
export const REDIS_PASSWORD_KEY = "redis-password";

/** Key of an ACL user's generated password in the credentials Secret. */
export function redisAclPasswordKey(user: string): string {
  return `acl-${user}-password`;
}

/**
 * Keys a Secret the user keeps (`redis.credentials.existingSecret`) must hold: the default user's password
 * (the chart's key; nodes and Sentinels) and one password per ACL user (`acl-<user>-password`), which the
 * initialiser sets on every node.
 */
export function redisExistingSecretKeys(config: Pick<RedisConfig, "aclUsers">): string[] {
  return [REDIS_PASSWORD_KEY, ...config.aclUsers.map((u) => redisAclPasswordKey(u.name))];
}

/**
 * The ACL file, on the data volume (`replica.persistence.path`, `/data` in the chart) so that the users the
 * initialiser creates with `ACL SETUSER` + `ACL SAVE` survive a restart. The chart 17.17.1 has no `auth.acl`
 * (it arrived in 20.7.0), so the file is ours.
 */
export const REDIS_ACL_FILE = "/data/users.acl";

/**
 * Shell run by the chart's `start-node.sh` right before `exec redis-server` (`replica.preExecCmds`, a string
 * in this chart: the template pipes it through `nindent`). Two facts of Redis 7.0 (src/acl.c,
 * `ACLLoadUsersAtStartup` / `ACLLoadFromFile`) make a plain `touch` wrong:
 * - a missing `aclfile` aborts the start ("Aborting Redis startup because of ACL errors ... No such file");
 * - the file is loaded after `--requirepass` is applied, and a file without a `default` user recreates it as
 *   `nopass`: an empty file would open the server to anyone.
 * So on every start the `default` line is rewritten from the current password (the chart's `REDIS_PASSWORD`
 * env, from the Secret) as a SHA-256 hash, and every other user is kept. A rotated password therefore wins
 * over the one an earlier `ACL SAVE` wrote.
 */
export const REDIS_ACL_PREPARE = [
  "# ai-platform-data: prepare the ACL file (see components/redis.ts, REDIS_ACL_PREPARE).",
  `acl_file=${REDIS_ACL_FILE}`,
  "(",
  "  umask 077",
  "  acl_hash=$(printf '%s' \"$REDIS_PASSWORD\" | sha256sum | cut -d ' ' -f 1)",
  "  {",
  '    echo "user default on #$acl_hash ~* &* +@all"',
  '    if [ -f "$acl_file" ]; then grep -v \'^user default \' "$acl_file" || true; fi',
  '  } >"$acl_file.tmp" && mv "$acl_file.tmp" "$acl_file"',
  ")",
].join("\n");

/**
 * Requests and limits of the sentinel and exporter sidecars. The chart sets none (it has no
 * `resourcesPreset` yet), and stack config sizes only the database container.
 */
export const REDIS_SIDECAR_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { cpu: "250m", memory: "128Mi" },
} as const;

/** Tag of `redis` in chart 17.17.1; the backup job runs its `redis-cli`. */
const REDIS_IMAGE_TAG = "7.0.12-debian-11-r34";

const REDIS_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 2 ** 10,
  m: 1e6,
  mb: 2 ** 20,
  g: 1e9,
  gb: 2 ** 30,
};

/** Bytes in a Redis memory size (`768mb`, `1gb`, `1048576`; units as redis.conf reads them). */
export function redisSizeBytes(size: string): number | undefined {
  const m = /^(\d+)([a-z]*)$/i.exec(size.trim());
  if (!m) return undefined;
  const factor = REDIS_UNITS[m[2].toLowerCase()];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/**
 * `maxmemory` for a node: `redis.maxmemory` when set, else 75% of the container's memory limit, in whole
 * `mb` (Redis: 1mb = 1024*1024 bytes), or in bytes for limits under about 1.3 MiB. The rest of the limit is
 * headroom for the fork of an RDB save or an AOF rewrite, client buffers and fragmentation.
 */
export function redisMaxmemory(config: Pick<RedisConfig, "maxmemory" | "resources">): string {
  if (config.maxmemory !== undefined) return config.maxmemory.toLowerCase();
  const limit = parseBytes(config.resources.limits.memory) ?? 0;
  const bytes = Math.max(1, Math.floor((limit * 3) / 4));
  return bytes >= 2 ** 20 ? `${Math.floor(bytes / 2 ** 20)}mb` : String(bytes);
}

/** The `save` rule's pairs, or a message saying what is wrong with it. */
function parseSaveRule(rule: string): { pairs: string } | { problem: string } {
  const parts = rule.trim().split(/\s+/).filter(Boolean);
  const ints = parts.every((p) => /^\d+$/.test(p));
  if (parts.length === 0 || parts.length % 2 !== 0 || !ints) {
    return { problem: 'must be pairs of whole numbers, <seconds> <changes> ..., such as "900 1 300 10"' };
  }
  if (parts.some((p, i) => i % 2 === 0 && Number(p) < 1)) {
    return { problem: "each <seconds> must be at least 1" };
  }
  return { pairs: parts.join(" ") };
}

/**
 * Checks of the Redis config that span several keys and that the chart would otherwise only reveal as a
 * crash-looping pod (Redis exits on a bad `save` line). Empty when the config is fine.
 */
export function redisConfigProblems(
  config: Pick<RedisConfig, "persistence" | "maxmemory" | "resources" | "endpoint" | "sentinel">,
): string[] {
  const problems: string[] = [];
  const key = "ai-platform-data:redis";
  if (config.persistence.rdb) {
    const save = parseSaveRule(config.persistence.rdbSave);
    if ("problem" in save) {
      problems.push(
        `${key}.persistence.rdbSave: ${JSON.stringify(config.persistence.rdbSave)} ${save.problem}; to turn snapshots off set redis.persistence.rdb to false`,
      );
    }
  }
  if (config.maxmemory !== undefined) {
    const max = redisSizeBytes(config.maxmemory) ?? 0;
    const limit = parseBytes(config.resources.limits.memory) ?? 0;
    if (max > limit) {
      problems.push(
        `${key}.maxmemory: "${config.maxmemory}" is above redis.resources.limits.memory ("${config.resources.limits.memory}"); the node would be OOM-killed before it evicts. Leave maxmemory unset (75% of the limit) or lower it`,
      );
    }
  }
  const masterName = config.endpoint?.masterName;
  if (masterName !== undefined && masterName !== config.sentinel.masterSet) {
    problems.push(
      `${key}.endpoint.masterName: "${masterName}" differs from redis.sentinel.masterSet ("${config.sentinel.masterSet}"), the name the deployed Sentinels monitor; remove endpoint.masterName or make the two equal`,
    );
  }
  return problems;
}

/**
 * The redis.conf lines common to every node (`commonConfiguration`). They replace the chart's default
 * (`appendonly yes` + `save ""`), so persistence is stated in full here.
 */
export function renderRedisConf(
  config: Pick<RedisConfig, "persistence" | "maxmemory" | "maxmemoryPolicy" | "resources">,
): string {
  const p = config.persistence;
  const save = p.rdb ? parseSaveRule(p.rdbSave) : undefined;
  const saveLine = save && "pairs" in save ? `save ${save.pairs}` : 'save ""';
  return [
    "# ai-platform-data: persistence (redis.persistence)",
    `appendonly ${p.aof ? "yes" : "no"}`,
    saveLine,
    "# ai-platform-data: memory (redis.maxmemory, redis.maxmemoryPolicy)",
    `maxmemory ${redisMaxmemory(config)}`,
    `maxmemory-policy ${config.maxmemoryPolicy}`,
    "# ai-platform-data: ACL users saved by the initialiser (ACL SAVE); prepared by replica.preExecCmds",
    `aclfile ${REDIS_ACL_FILE}`,
  ].join("\n");
}

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
    const childOpts = childOptions(this, platform);
    // A Secret the user keeps holds every password (helm mode only; config refuses it otherwise).
    const userSecret = config.mode === "helm" ? config.credentials?.existingSecret : undefined;
    const kept = userSecret
      ? existingSecret(
          `${name}-existing-credentials`,
          {
            namespace: ns,
            name: userSecret,
            configKey: "redis.credentials.existingSecret",
            keys: redisExistingSecretKeys(config),
          },
          childOpts,
        )
      : undefined;
    const aclPasswords = config.aclUsers.map((u) => ({
      user: u,
      password: kept
        ? kept.values[redisAclPasswordKey(u.name)]
        : generatedPassword(`${name}-acl-${u.name}-password`, { parent: this }),
    }));
    const aclUsers = (): RedisAclUserConnection[] =>
      aclPasswords.map(({ user, password }) => ({
        name: user.name,
        keys: user.keys,
        channels: user.channels,
        commands: user.commands,
        password: pulumi.secret(password),
      }));

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
        aclUsers: aclUsers(),
      };
      this.ready = [];
      this.clientSecretData = redisClientData(this.connection);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const secretName = userSecret ?? `${this.releaseName}-credentials`;
    this.secretName = secretName;
    const password = kept
      ? kept.values[REDIS_PASSWORD_KEY]
      : generatedPassword(`${name}-password`, { parent: this });
    const secret = kept
      ? kept.resource
      : opaqueSecret(
          `${name}-credentials`,
          {
            namespace: ns,
            name: secretName,
            data: {
              [REDIS_PASSWORD_KEY]: password,
              // Kept beside the chart's key so operators can read them; the chart reads only its own key.
              ...Object.fromEntries(aclPasswords.map((a) => [redisAclPasswordKey(a.user.name), a.password])),
            },
          },
          childOpts,
        );

    const values = redisValues(config, platform, secretName, this.releaseName);
    this.release = pinnedRelease(
      `${name}-release`,
      this.releaseName,
      CHARTS.redis,
      values,
      {
        namespace: ns,
        atomic: platform.helm.atomic,
        timeoutSeconds: platform.helm.timeoutSeconds,
        chart: config.chart,
      },
      { ...childOpts, dependsOn: [...(platform.dependsOn ?? []), secret] },
    );

    databaseNetworkPolicy(
      `${name}-network-policy`,
      {
        service: "redis",
        releaseName: this.releaseName,
        namespace: ns,
        // Clients ask a Sentinel (26379) for the master, then talk to it (6379); peers replicate on 6379
        // and Sentinels gossip on 26379; Prometheus scrapes the exporter on 9121.
        ports: [REDIS_PORT, SENTINEL_PORT, METRICS_PORT],
        metricsPorts: [METRICS_PORT],
        network: platform.network,
      },
      childOpts,
    );

    if (config.backup.enabled) {
      new BackupJob(
        `${name}-backup`,
        {
          service: "redis",
          releaseName: this.releaseName,
          namespace: ns,
          backup: config.backup,
          storageClass: platform.storageClass,
          // The server image carries redis-cli of the same version.
          image: bitnamiImage(config.images.redis, "redis"),
          defaultTag: REDIS_IMAGE_TAG,
          env: [
            { name: "REDIS_SENTINEL_HOST", value: this.releaseName },
            { name: "REDIS_SENTINEL_PORT", value: String(SENTINEL_PORT) },
            { name: "REDIS_MASTER_SET", value: config.sentinel.masterSet },
            // redis-cli reads REDISCLI_AUTH; the Sentinels take the same password (auth.sentinel).
            secretEnv("REDISCLI_AUTH", secretName, REDIS_PASSWORD_KEY),
          ],
        },
        { parent: this, provider: platform.provider, dependsOn: [this.release] },
      );
    }

    if (platform.monitoring.prometheusRule) {
      alertRules(
        `${name}-alerts`,
        {
          service: "redis",
          releaseName: this.releaseName,
          namespace: ns,
          labels: platform.monitoring.labels,
          rules: redisAlertRules(ns, config.nodes, this.releaseName),
        },
        { ...childOpts, dependsOn: [this.release] },
      );
    }

    const sentinels = [{ host: serviceHost(this.releaseName, ns), port: SENTINEL_PORT }];
    this.endpoint = pulumi.output(joinHostPorts(sentinels));
    this.connection = {
      sentinels: config.endpoint?.sentinels ?? sentinels,
      masterName: config.sentinel.masterSet,
      password: pulumi.secret(password),
      sentinelPassword: pulumi.secret(password),
      nodes: config.nodes,
      aclUsers: aclUsers(),
    };
    this.ready = [this.release, secret];
    this.clientSecretData = redisClientData({ ...this.connection, sentinels });
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
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

/**
 * Alerts on the redis_exporter 1.52 metrics (the chart's `metrics.image`) for seed §8.1: hit ratio, memory,
 * clients, latency, plus the replication a Sentinel setup depends on. Metric names checked in
 * oliver006/redis_exporter v1.52.0 `exporter/exporter.go`, `exporter/info.go`.
 */
export function redisAlertRules(namespace: string, nodes: number, releaseName: string): AlertRule[] {
  const sel = `namespace="${namespace}"`;
  const rules: AlertRule[] = [
    {
      alert: "RedisDown",
      expr: `redis_up{${sel}} == 0`,
      for: "1m",
      severity: "critical",
      summary: "The Redis exporter cannot reach its Redis node",
    },
    {
      alert: "RedisNoMaster",
      expr: `absent(redis_instance_info{${sel},role="master"})`,
      // Longer than Sentinel's down-after-milliseconds (60 s) plus a failover.
      for: "3m",
      severity: "critical",
      summary: "No Redis node reports the master role: writes fail",
    },
    {
      alert: "RedisLowHitRatio",
      expr: `sum(rate(redis_keyspace_hits_total{${sel}}[5m])) / (sum(rate(redis_keyspace_hits_total{${sel}}[5m])) + sum(rate(redis_keyspace_misses_total{${sel}}[5m]))) < 0.8`,
      for: "15m",
      severity: "warning",
      summary: "Redis keyspace hit ratio is below 80%",
    },
    {
      alert: "RedisMemoryNearMaxmemory",
      // Nodes without maxmemory report 0; the filter keeps them out of the division.
      expr: `redis_memory_used_bytes{${sel}} / (redis_memory_max_bytes{${sel}} > 0) > 0.9`,
      for: "10m",
      severity: "warning",
      summary: "A Redis node uses more than 90% of maxmemory: it evicts keys or rejects writes",
    },
    {
      alert: "RedisTooManyClients",
      expr: `redis_connected_clients{${sel}} / redis_config_maxclients{${sel}} > 0.8`,
      for: "5m",
      severity: "warning",
      summary: "A Redis node has more than 80% of maxclients connected",
    },
    {
      alert: "RedisHighLatency",
      expr: `sum by (pod) (rate(redis_commands_duration_seconds_total{${sel}}[5m])) / sum by (pod) (rate(redis_commands_total{${sel}}[5m])) > 0.002`,
      for: "10m",
      severity: "warning",
      summary: "Redis commands take more than 2 ms on average",
    },
  ];
  if (nodes > 1) {
    rules.push(
      {
        alert: "RedisReplicasMissing",
        expr: `max(redis_connected_slaves{${sel}}) < ${nodes - 1}`,
        for: "5m",
        severity: "warning",
        summary: `The Redis master has fewer than ${nodes - 1} connected replicas`,
      },
      {
        alert: "RedisMasterLinkDown",
        expr: `redis_master_link_up{${sel}} == 0`,
        for: "2m",
        severity: "critical",
        summary: "A Redis replica has lost its link to the master",
      },
    );
  }
  rules.push(diskSpaceRule("redis", releaseName, namespace));
  return rules;
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
export function redisValues(
  config: RedisConfig,
  platform: Pick<PlatformContext, "storageClass" | "monitoring" | "podAntiAffinity">,
  secretName: string,
  releaseName: string,
): Record<string, unknown> {
  return {
    fullnameOverride: releaseName,
    architecture: "replication",
    image: bitnamiImage(config.images.redis, "redis"),
    auth: {
      enabled: true,
      // The Sentinels require the same password (the chart has no separate one).
      sentinel: true,
      existingSecret: secretName,
      existingSecretPasswordKey: REDIS_PASSWORD_KEY,
    },
    commonConfiguration: renderRedisConf(config),
    replica: {
      replicaCount: config.nodes,
      resources: config.resources,
      persistence: { enabled: true, size: config.storageSize, storageClass: platform.storageClass },
      preExecCmds: REDIS_ACL_PREPARE,
      // Nodes (each with its Sentinel) on separate nodes in prod, so a drain keeps the Sentinel quorum.
      podAntiAffinityPreset: platform.podAntiAffinity,
    },
    // The chart's PDB (templates/pdb.yaml) selects every pod of the release: the nodes, with Sentinel on.
    pdb: disruptionBudget(config.nodes),
    sentinel: {
      enabled: true,
      image: bitnamiImage(config.images.sentinel, "redis-sentinel"),
      masterSet: config.sentinel.masterSet,
      quorum: config.sentinel.quorum,
      resources: REDIS_SIDECAR_RESOURCES,
    },
    // Off by default in this chart; stated because NetworkPolicies add up (see shared/network.ts).
    networkPolicy: { enabled: false },
    metrics: {
      enabled: true,
      image: bitnamiImage(config.images.metrics, "redis-exporter"),
      resources: REDIS_SIDECAR_RESOURCES,
      // This chart calls the ServiceMonitor's labels `additionalLabels`.
      serviceMonitor: {
        enabled: platform.monitoring.serviceMonitor,
        additionalLabels: platform.monitoring.labels,
      },
    },
    volumePermissions: { image: bitnamiImage(config.images.volumePermissions, "os-shell") },
    sysctl: { image: bitnamiImage(config.images.sysctl, "os-shell") },
  };
}
