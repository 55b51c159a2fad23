/**
 * The Weaviate chart's values: pure functions of the `weaviate` config, so the tests check every key path
 * against the pinned chart (weaviate-helm 16.8.0) without Pulumi. Chart facts: see components/weaviate.ts.
 */
import { ImageConfig, OffsiteConfig, parseBytes, WeaviateConfig, WeaviateModule } from "../../config";
import { OFFSITE_SECRET_KEYS, offsitePrefix } from "../shared/backup";
import { CHARTS, imageValues } from "../shared/charts";
import { PlatformContext } from "../shared/context";
import { podAntiAffinity } from "../shared/scheduling";

/**
 * Keys of the API-key Secret. The chart's `envSecrets` reads each env var from the Secret key of the
 * same name, so the first three are env var names; the last two are for the backup job and clients.
 * (The cluster API's basic auth is the chart's own: it renders CLUSTER_BASIC_AUTH_USERNAME/PASSWORD from
 * its Secret `weaviate-cluster-api-basic-auth`, random at install and kept by `lookup` on upgrades.)
 */
export const WEAVIATE_SECRET_KEYS = {
  allowedKeys: "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
  users: "AUTHENTICATION_APIKEY_USERS",
  openai: "OPENAI_APIKEY",
  adminKey: "admin-api-key",
  appKey: "app-api-key",
} as const;

/** Ports of the Weaviate container (fixed by the chart and by Weaviate's defaults). */
export const WEAVIATE_POD_PORTS = { http: 8080, grpc: 50051, metrics: 2112, gossip: 7000, data: 7001 };

/** Labels of the Weaviate pods (the chart sets no `app.kubernetes.io/instance`). */
export const WEAVIATE_POD_LABELS = { app: "weaviate" };

/**
 * Where backup-filesystem writes with the backup job on: the job's own claim, mounted here. Never the data
 * volume: full copies kept for `retentionDays` would fill it, and Weaviate turns read-only on a full disk.
 */
export const WEAVIATE_BACKUP_PATH = "/var/lib/weaviate-backups";

/**
 * Where it writes with the job off (backups taken by hand): the data volume, the only one the pod has
 * then. Earlier versions wrote here with the job on as well (README, "Weaviate backups").
 */
export const WEAVIATE_DATA_BACKUP_PATH = "/var/lib/weaviate/backups";

/** Prefix of the ids the backup job gives its backups; only these are pruned. */
const WEAVIATE_BACKUP_ID_PREFIX = "ai-platform-";

/** Inference modules this program can deploy, with the name the chart gives their pods (`fullnameOverride`). */
export const WEAVIATE_INFERENCE_MODULES: Partial<Record<WeaviateModule, string>> = {
  "text2vec-transformers": "transformers-inference",
  "img2vec-neural": "img2vec-neural",
};

/** The chart's container args (values.yaml `args`), repeated when the command is wrapped. */
const WEAVIATE_ARGS = [
  "--host",
  "0.0.0.0",
  "--port",
  String(WEAVIATE_POD_PORTS.http),
  "--scheme",
  "http",
  "--config-file",
  "/weaviate-config/conf.yaml",
  "--read-timeout=60s",
  "--write-timeout=60s",
];

/** The Weaviate image in the chart's shape (`repo`, not `repository`), tag pinned to the chart's app version. */
export function weaviateImage(override: ImageConfig | undefined): {
  registry: string;
  repo: string;
  tag: string;
} {
  const v = imageValues(override, { registry: "docker.io", repository: "semitechnologies/weaviate" });
  return { registry: v.registry, repo: v.repository, tag: v.tag ?? CHARTS.weaviate.appVersion };
}

/** An inference module's image keys, only those the user overrides (the chart's defaults stay otherwise). */
export function moduleImage(override: ImageConfig | undefined): {
  registry?: string;
  repo?: string;
  tag?: string;
} {
  const v: { registry?: string; repo?: string; tag?: string } = {};
  if (override?.registry) v.registry = override.registry;
  if (override?.repository) v.repo = override.repository;
  if (override?.tag) v.tag = override.tag;
  return v;
}

/** Modules the server runs, in config order. */
export function enabledModules(modules: WeaviateConfig["modules"]): WeaviateModule[] {
  return (Object.keys(modules) as WeaviateModule[]).filter((m) => modules[m].enabled);
}

/**
 * `DEFAULT_VECTORIZER_MODULE`: text2vec-transformers when it runs, else `none`. img2vec-neural never is the
 * default: it needs `imageFields` in the class config and would break every class created without them.
 */
export function defaultVectorizer(modules: WeaviateConfig["modules"]): string {
  return modules["text2vec-transformers"].enabled ? "text2vec-transformers" : "none";
}

/**
 * `GOMEMLIMIT` for a memory limit: 80% of it in MiB, so the Go GC works harder before the kernel kills
 * the pod (Weaviate's advice: 10-20% below the limit).
 */
export function goMemLimit(memoryLimit: string): string {
  const mib = Math.floor(((parseBytes(memoryLimit) ?? 0) * 0.8) / 2 ** 20);
  return `${Math.max(64, mib)}MiB`;
}

/**
 * Shell that deletes the job's backups (`ai-platform-*` directories under `dir`) whose
 * `backup_config.json` (written last when a backup finishes) is older than `retentionDays`.
 */
export function weaviatePruneCommand(dir: string, retentionDays: number): string {
  return [
    `for d in ${dir}/${WEAVIATE_BACKUP_ID_PREFIX}*; do`,
    `  if [ -f "$d/backup_config.json" ] && [ -n "$(find "$d/backup_config.json" -mtime +${retentionDays})" ]; then`,
    `    rm -rf "$d" && echo "weaviate backup pruned: $d"`,
    `  fi`,
    `done`,
  ].join("\n");
}

/**
 * The Weaviate container's script when the backup job is on: Weaviate 1.22 has no API to list or delete
 * backups and writes them as its own user, so retention runs here, hourly, in the background, on the
 * backup claim and on the data volume, where earlier versions wrote them (those age out the same way);
 * `exec` then makes Weaviate the container's main process with the chart's own arguments.
 */
export function weaviateStartScript(retentionDays: number): string {
  return [
    "(",
    "  while :; do",
    [WEAVIATE_BACKUP_PATH, WEAVIATE_DATA_BACKUP_PATH]
      .map((dir) => weaviatePruneCommand(dir, retentionDays))
      .join("\n")
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n"),
    "    sleep 3600",
    "  done",
    ") &",
    `exec /bin/weaviate ${WEAVIATE_ARGS.join(" ")}`,
    "",
  ].join("\n");
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
export function weaviateValues(
  config: WeaviateConfig,
  platform: Pick<PlatformContext, "storageClass" | "podAntiAffinity">,
  secretName: string,
  opts: {
    /** Whether OPENAI_APIKEY is in the Secret. */
    openaiKey: boolean;
    /** The backup job's claim, mounted at {@link WEAVIATE_BACKUP_PATH}; unset when the job is off. */
    backupClaim?: string;
    /** `backup.s3` when the backup job is on: Weaviate writes its backups there (backup-s3 module). */
    offsite?: OffsiteConfig;
  },
): Record<string, unknown> {
  const mods = config.modules;
  // Replicas of one inference module spread over nodes like Weaviate's (they select the module's own pods).
  const moduleAffinity = (m: keyof typeof WEAVIATE_INFERENCE_MODULES) =>
    podAntiAffinity(platform.podAntiAffinity, { app: WEAVIATE_INFERENCE_MODULES[m]! });
  const backupsOn = mods["backup-filesystem"].enabled;
  const onClaim = backupsOn && config.backup.enabled && opts.backupClaim !== undefined;
  const backupPath = onClaim ? WEAVIATE_BACKUP_PATH : WEAVIATE_DATA_BACKUP_PATH;
  const envSecrets: Record<string, string> = {
    [WEAVIATE_SECRET_KEYS.allowedKeys]: secretName,
    [WEAVIATE_SECRET_KEYS.users]: secretName,
  };
  // The chart passes an OpenAI key only from values (`modules.generative-openai.apiKey`, into a Secret of
  // its own); it stays empty here and the module reads OPENAI_APIKEY from our Secret instead.
  if (opts.openaiKey) envSecrets[WEAVIATE_SECRET_KEYS.openai] = secretName;
  const values: Record<string, unknown> = {
    image: weaviateImage(config.image),
    replicas: config.replicas,
    resources: config.resources,
    storage: { size: config.storageSize, storageClassName: platform.storageClass },
    // Rendered as is; Helm merges it over the chart's default (the same preference as `soft`).
    affinity: podAntiAffinity(platform.podAntiAffinity, WEAVIATE_POD_LABELS),
    // The chart's default sysctl init container runs `alpine:latest` privileged (weaviateStatefulset.yaml).
    // Off: nodes set vm.max_map_count themselves (README, "Weaviate and vm.max_map_count").
    initContainers: { sysctlInitContainer: { enabled: false } },
    service: {
      type: "ClusterIP",
      ports: [{ name: "http", protocol: "TCP", port: config.httpPort }],
    },
    grpcService: {
      enabled: true,
      type: "ClusterIP",
      ports: [{ name: "grpc", protocol: "TCP", port: config.grpcPort }],
    },
    // The chart's ServiceMonitor cannot carry labels; the component makes a PodMonitor instead.
    serviceMonitor: { enabled: false },
    authentication: {
      anonymous_access: { enabled: false },
      // Keys and users come from env (envSecrets); the config file only says API keys are on.
      apikey: { enabled: true },
    },
    authorization: {
      // Weaviate 1.22 has two roles: the admin key's user is an admin, the app key's what weaviate.appAccess says.
      admin_list:
        config.appAccess === "admin"
          ? { enabled: true, users: [WEAVIATE_USERS.admin, WEAVIATE_USERS.app] }
          : { enabled: true, users: [WEAVIATE_USERS.admin], read_only_users: [WEAVIATE_USERS.app] },
    },
    query_defaults: { limit: 25 },
    env: {
      // Weaviate reads AUTHENTICATION_APIKEY_ALLOWED_KEYS/USERS only when this is set (config/environment.go).
      AUTHENTICATION_APIKEY_ENABLED: true,
      PROMETHEUS_MONITORING_ENABLED: true,
      GOMEMLIMIT: goMemLimit(config.resources.limits.memory),
    },
    envSecrets,
    modules: {
      // Each module's own affinity: without it the chart gives module pods `.Values.affinity`, Weaviate's
      // anti-affinity against `app: weaviate`, which in prod (hard) keeps them off every Weaviate node.
      "text2vec-transformers": {
        enabled: mods["text2vec-transformers"].enabled,
        ...moduleImage(mods["text2vec-transformers"].image),
        affinity: moduleAffinity("text2vec-transformers"),
      },
      "img2vec-neural": {
        enabled: mods["img2vec-neural"].enabled,
        ...moduleImage(mods["img2vec-neural"].image),
        affinity: moduleAffinity("img2vec-neural"),
      },
      "generative-openai": { enabled: mods["generative-openai"].enabled },
      default_vectorizer_module: defaultVectorizer(mods),
    },
    backups: {
      filesystem: { enabled: backupsOn, envconfig: { BACKUP_FILESYSTEM_PATH: backupPath } },
      ...(opts.offsite ? { s3: backupS3Values(opts.offsite) } : {}),
    },
  };
  if (onClaim) {
    values.extraVolumes = [{ name: "backups", persistentVolumeClaim: { claimName: opts.backupClaim } }];
    values.extraVolumeMounts = [{ name: "backups", mountPath: WEAVIATE_BACKUP_PATH }];
    values.command = ["/bin/sh", "-c"];
    values.args = [weaviateStartScript(config.backup.retentionDays)];
  }
  return values;
}

/**
 * The backup-s3 module's settings (modules/backup-s3 of Weaviate 1.22 reads these variables): the
 * service's folder of `backup.s3`, the endpoint as host and port (its TLS from the scheme), the region,
 * and the keys from the user's Secret, whose key names are the variables' (the chart's `envSecrets`).
 */
export function backupS3Values(offsite: OffsiteConfig): Record<string, unknown> {
  const url = new URL(offsite.endpoint);
  return {
    enabled: true,
    envconfig: {
      BACKUP_S3_BUCKET: offsite.bucket,
      BACKUP_S3_PATH: offsitePrefix(offsite, "weaviate"),
      BACKUP_S3_ENDPOINT: url.host,
      BACKUP_S3_USE_SSL: String(url.protocol === "https:"),
      AWS_REGION: offsite.region,
    },
    envSecrets: Object.fromEntries(OFFSITE_SECRET_KEYS.map((k) => [k, offsite.existingSecret])),
  };
}

/**
 * The API-key users, in the order of their keys: the admin (initialiser, backup job) and the
 * applications' user, read-only unless `weaviate.appAccess: admin`. Two keys, so each can be rotated alone.
 */
export const WEAVIATE_USERS = { admin: "admin", app: "app" } as const;
