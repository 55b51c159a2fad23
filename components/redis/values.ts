/**
 * The Redis chart's values and the redis.conf they carry: pure functions of the `redis` config, so the
 * tests check every key path against the pinned chart (bitnami/redis 17.17.1) without Pulumi.
 */
import { parseBytes, RedisConfig } from "../../config";
import { secretEnv } from "../shared/backup";
import { bitnamiImage } from "../shared/charts";
import { PlatformContext } from "../shared/context";
import { exporterSidecar } from "../shared/exporter";
import { disruptionBudget } from "../shared/scheduling";
import { sentinelUsersValues } from "./sentinel-users";

/** Key of the default user's password in the credentials Secret (`auth.existingSecretPasswordKey`). */
export const REDIS_PASSWORD_KEY = "redis-password";

/** The exporter's ACL user, which the initialiser keeps on every node like the configured ones. */
export const REDIS_METRICS_USER = "redis_exporter";

/** Key of its password in the credentials Secret; only the program's exporter container reads it. */
export const REDIS_METRICS_PASSWORD_KEY = "metrics-password";

/**
 * What redis_exporter runs with its defaults (exporter.go `scrapeRedisHost`: CLIENT SETNAME, INFO ALL,
 * LATENCY, SLOWLOG) and nothing else: no key, no channel, and no CONFIG GET, whose answer carries
 * `requirepass` and `masterauth` (the default user's password). Config metrics are skipped
 * (`REDIS_EXPORTER_CONFIG_COMMAND=-`); maxclients is fixed in redis.conf instead ({@link REDIS_MAXCLIENTS}).
 */
export const REDIS_METRICS_COMMANDS =
  "-@all +ping +info +client|setname +latency|latest +latency|histogram +slowlog|len +slowlog|get";

/** The backup job's ACL user: the replication stream (`redis-cli --rdb`) and nothing else. */
export const REDIS_BACKUP_USER = "redis_backup";

/** Key of its password in the credentials Secret. */
export const REDIS_BACKUP_PASSWORD_KEY = "backup-password";

/**
 * What `redis-cli --rdb` sends (REPLCONF, SYNC): the snapshot holds every key anyway, but the user can
 * neither read a key by name nor write, configure or administer anything.
 */
export const REDIS_BACKUP_COMMANDS = "-@all +ping +replconf +sync +psync";

/** `maxclients`, stated in redis.conf (Redis's default): the alert on clients compares against it. */
export const REDIS_MAXCLIENTS = 10000;

/** redis-exporter's tag in chart 17.17.1 (`metrics.image.tag`). */
const REDIS_EXPORTER_IMAGE_TAG = "1.52.0-debian-11-r25";

/** The exporter's port (redis_exporter's default, the chart's). */
export const REDIS_METRICS_PORT = 9121;

/** Labels of every Redis node pod of the release (with Sentinel: the `node` StatefulSet). */
export function redisPodLabels(releaseName: string): Record<string, string> {
  return { "app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": releaseName };
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
const REDIS_SIDECAR_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { cpu: "250m", memory: "128Mi" },
} as const;

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
    `maxclients ${REDIS_MAXCLIENTS}`,
    "# ai-platform-data: ACL users saved by the initialiser (ACL SAVE); prepared by replica.preExecCmds",
    `aclfile ${REDIS_ACL_FILE}`,
  ].join("\n");
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
      // The chart's exporter would log in as `default` (module comment of ../shared/exporter).
      sidecars: [
        exporterSidecar({
          image: bitnamiImage(config.images.metrics, "redis-exporter"),
          defaultTag: REDIS_EXPORTER_IMAGE_TAG,
          port: REDIS_METRICS_PORT,
          command: ["redis_exporter"],
          env: [
            { name: "REDIS_ADDR", value: "redis://127.0.0.1:6379" },
            { name: "REDIS_ALIAS", value: releaseName },
            { name: "REDIS_USER", value: REDIS_METRICS_USER },
            secretEnv("REDIS_PASSWORD", secretName, REDIS_METRICS_PASSWORD_KEY),
            { name: "REDIS_EXPORTER_CONFIG_COMMAND", value: "-" },
          ],
        }),
      ],
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
      // The ACL users' discovery logins, back at every start (the chart's script drops saved ones).
      ...sentinelUsersValues(releaseName),
    },
    // Off by default in this chart; stated because NetworkPolicies add up (see shared/network.ts).
    networkPolicy: { enabled: false },
    // Off: the sidecar above exports instead. `metrics.image` stays the stack's image slot (the policy
    // pack checks its tag there); the chart ignores it while metrics are off.
    metrics: {
      enabled: false,
      image: bitnamiImage(config.images.metrics, "redis-exporter"),
    },
    volumePermissions: { image: bitnamiImage(config.images.volumePermissions, "os-shell") },
    sysctl: { image: bitnamiImage(config.images.sysctl, "os-shell") },
  };
}
