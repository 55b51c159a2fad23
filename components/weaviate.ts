/**
 * Weaviate 1.22 (weaviate/weaviate-helm), its API-key Secret, backup CronJob, NetworkPolicies, PodMonitor
 * and alerts. Values keys checked against weaviate-helm tag v16.8.0 (commit 0336163a),
 * `weaviate/values.yaml` and `weaviate/templates/*`; server behaviour against weaviate/weaviate v1.22.5.
 *
 * Chart facts the code relies on (all in v16.8.0):
 * - object names are fixed (`weaviate` StatefulSet and Service, `weaviate-grpc`, `weaviate-headless`,
 *   PVC template `weaviate-data`) and pods carry `app: weaviate`, not `app.kubernetes.io/instance`;
 * - the container always listens on 8080 (args) and the Services map `service.ports[].port` and
 *   `grpcService.ports[].port` to target ports 8080 and 50051;
 * - `envSecrets: {NAME: secret}` renders `NAME` from key `NAME` of that Secret (weaviateStatefulset.yaml);
 * - its ServiceMonitor has no labels and selects all three Services, so this file makes a PodMonitor.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ImageConfig, parseBytes, PlatformSecrets, WeaviateConfig, WeaviateModule } from "../config";
import { BackupJob, secretEnv } from "./shared/backup";
import { CHARTS, imageValues, pinnedRelease } from "./shared/charts";
import { childOptions, ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword, opaqueSecret } from "./shared/credentials";
import { existingSecret } from "./shared/existing-secret";
import { serviceLabels } from "./shared/labels";
import { AlertRule, alertRules, diskSpaceRule } from "./shared/monitoring";
import { databaseNetworkPolicy } from "./shared/network";
import { podAntiAffinity } from "./shared/scheduling";

/**
 * Keys of the API-key Secret. The chart's `envSecrets` reads each env var from the Secret key of the
 * same name, so the first three are env var names; the last two are for the backup job and clients.
 */
export const WEAVIATE_SECRET_KEYS = {
  allowedKeys: "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
  users: "AUTHENTICATION_APIKEY_USERS",
  openai: "OPENAI_APIKEY",
  adminKey: "admin-api-key",
  appKey: "app-api-key",
} as const;

/**
 * The API-key users, in the order of their keys. Both are on the admin list: applications write objects,
 * so a read-only app key would not do; two keys still let each be rotated without touching the other.
 */
export const WEAVIATE_USERS = { admin: "admin", app: "app" } as const;

/**
 * Keys a Secret the user keeps (`weaviate.credentials.existingSecret`) must hold: the two env vars the
 * chart reads through `envSecrets` (keys `<admin key>,<app key>` and users `admin,app`, in that order),
 * each key alone (backup job, initialiser, `db-credentials`), and `OPENAI_APIKEY` with generative-openai.
 */
export function weaviateExistingSecretKeys(config: Pick<WeaviateConfig, "modules">): string[] {
  const k = WEAVIATE_SECRET_KEYS;
  const keys: string[] = [k.allowedKeys, k.users, k.adminKey, k.appKey];
  if (config.modules["generative-openai"].enabled) keys.push(k.openai);
  return keys;
}

/** Why a kept Secret's values cannot work with the chart and config, or undefined (names keys, never values). */
export function weaviateExistingSecretCheck(values: Record<string, string>): string | undefined {
  const k = WEAVIATE_SECRET_KEYS;
  const users = `${WEAVIATE_USERS.admin},${WEAVIATE_USERS.app}`;
  if (values[k.users] !== users) {
    return `key "${k.users}" must be "${users}": the users the admin list names, in the order of "${k.allowedKeys}"`;
  }
  if (values[k.allowedKeys] !== `${values[k.adminKey]},${values[k.appKey]}`) {
    return `key "${k.allowedKeys}" must be the value of "${k.adminKey}", a comma, then the value of "${k.appKey}" (Weaviate gives the n-th key to the n-th user of "${k.users}")`;
  }
  return undefined;
}

/** Ports of the Weaviate container (fixed by the chart and by Weaviate's defaults). */
export const WEAVIATE_POD_PORTS = { http: 8080, grpc: 50051, metrics: 2112, gossip: 7000, data: 7001 };

/** Labels of the Weaviate pods (the chart sets no `app.kubernetes.io/instance`). */
export const WEAVIATE_POD_LABELS = { app: "weaviate" };

/** Where backup-filesystem writes: on the data volume (`/var/lib/weaviate`), not the chart's `/tmp/backups`. */
export const WEAVIATE_BACKUP_PATH = "/var/lib/weaviate/backups";

/** Prefix of the ids the backup job gives its backups; only these are pruned. */
export const WEAVIATE_BACKUP_ID_PREFIX = "ai-platform-";

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

const BACKUP_IMAGE = { registry: "docker.io", repository: "curlimages/curl" };
const BACKUP_IMAGE_TAG = "8.10.1";

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
 * The Weaviate container's script when backups are on: the backup files live on Weaviate's own volume and
 * Weaviate 1.22 has no API to list or delete backups, so retention runs here, hourly, in the background;
 * `exec` then makes Weaviate the container's main process with the chart's own arguments.
 */
export function weaviateStartScript(retentionDays: number): string {
  return [
    "(",
    "  while :; do",
    weaviatePruneCommand(WEAVIATE_BACKUP_PATH, retentionDays)
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

/**
 * Settings this component cannot deploy as asked (config cross-checks that need Weaviate knowledge);
 * empty when fine.
 */
export function weaviateConfigProblems(config: WeaviateConfig): string[] {
  const problems: string[] = [];
  if (config.mode !== "helm" || !config.backup.enabled) return problems;
  if (!config.modules["backup-filesystem"].enabled) {
    problems.push(
      "ai-platform-data:weaviate.backup.enabled: the backup job backs up through the backup-filesystem module, which is off; set weaviate.modules.backup-filesystem.enabled to true or weaviate.backup.enabled to false",
    );
  }
  if (config.replicas > 1) {
    problems.push(
      `ai-platform-data:weaviate.backup.enabled: Weaviate refuses filesystem backups on a cluster of ${config.replicas} nodes ("local filesystem backend is not viable for backing up a node cluster"); use replicas: 1 or set weaviate.backup.enabled to false`,
    );
  }
  return problems;
}

/** Arguments of {@link Weaviate}. */
export interface WeaviateArgs {
  /** Validated `weaviate` stack config. */
  config: WeaviateConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config: `weaviateApiKey` in `external` mode, `openaiApiKey` for generative-openai. */
  secrets: PlatformSecrets;
}

/** How the initialiser reaches Weaviate (REST). */
export interface WeaviateConnection {
  scheme: "http" | "https";
  host: pulumi.Output<string>;
  port: pulumi.Output<number>;
  /** Secret: the admin key. */
  apiKey: pulumi.Output<string>;
  /** Modules the server runs (from config), so classes can be checked against them. */
  enabledModules: WeaviateModule[];
}

export class Weaviate extends pulumi.ComponentResource {
  /** Helm release name; the chart names its Service `weaviate` whatever the release is called. */
  public readonly releaseName = "weaviate";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** Name of the Secret holding the API keys (absent in `external` mode). */
  public readonly secretName?: string;
  /** In-cluster endpoint (`host:port`) of the HTTP Service. */
  public readonly endpoint: pulumi.Output<string>;
  /** Connection details for the initialiser (endpoint override applied). */
  public readonly connection: WeaviateConnection;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData;

  constructor(name: string, args: WeaviateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:Weaviate", name, {}, opts);
    const { config, platform } = args;
    const ns = platform.namespace;
    const childOpts = childOptions(this, platform);
    const modules = enabledModules(config.modules);

    if (config.mode === "external") {
      // A server run elsewhere: its keys are its own, so applications get the configured key too.
      const ep = config.endpoint!;
      const apiKey = pulumi.secret(args.secrets.weaviateApiKey!);
      this.endpoint = pulumi.output(`${ep.host}:${ep.port}`);
      this.connection = {
        scheme: ep.scheme,
        host: pulumi.output(ep.host),
        port: pulumi.output(ep.port),
        apiKey,
        enabledModules: modules,
      };
      this.ready = [];
      this.clientSecretData = weaviateClientData(ep.scheme, ep.host, ep.port, config.grpcPort, apiKey);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const userSecret = config.credentials?.existingSecret;
    const secretName = userSecret ?? `${this.releaseName}-credentials`;
    this.secretName = secretName;
    const openaiOn = config.modules["generative-openai"].enabled;
    let adminKey: pulumi.Output<string>;
    let appKey: pulumi.Output<string>;
    let secret: pulumi.Resource;
    let openaiInSecret: boolean;
    if (userSecret) {
      // The user keeps the keys: nothing is generated, the chart and the initialiser read that Secret.
      const kept = existingSecret(
        `${name}-existing-credentials`,
        {
          namespace: ns,
          name: userSecret,
          configKey: "weaviate.credentials.existingSecret",
          keys: weaviateExistingSecretKeys(config),
          check: weaviateExistingSecretCheck,
        },
        childOpts,
      );
      adminKey = kept.values[WEAVIATE_SECRET_KEYS.adminKey];
      appKey = kept.values[WEAVIATE_SECRET_KEYS.appKey];
      secret = kept.resource;
      openaiInSecret = openaiOn;
    } else {
      adminKey = generatedPassword(`${name}-admin-api-key`, { parent: this });
      appKey = generatedPassword(`${name}-app-api-key`, { parent: this });
      const openaiKey = openaiOn ? args.secrets.openaiApiKey : undefined;
      const data: Record<string, pulumi.Input<string>> = {
        // Same order in both lists: Weaviate maps the n-th key to the n-th user.
        [WEAVIATE_SECRET_KEYS.allowedKeys]: pulumi.interpolate`${adminKey},${appKey}`,
        [WEAVIATE_SECRET_KEYS.users]: `${WEAVIATE_USERS.admin},${WEAVIATE_USERS.app}`,
        [WEAVIATE_SECRET_KEYS.adminKey]: adminKey,
        [WEAVIATE_SECRET_KEYS.appKey]: appKey,
      };
      if (openaiKey) data[WEAVIATE_SECRET_KEYS.openai] = openaiKey;
      secret = opaqueSecret(
        `${name}-credentials`,
        { namespace: ns, name: secretName, data, labels: serviceLabels("weaviate", this.releaseName) },
        childOpts,
      );
      openaiInSecret = openaiKey !== undefined;
    }

    const values = weaviateValues(config, platform, secretName, { openaiKey: openaiInSecret });
    this.release = pinnedRelease(
      `${name}-release`,
      this.releaseName,
      CHARTS.weaviate,
      values,
      {
        namespace: ns,
        atomic: platform.helm.atomic,
        timeoutSeconds: platform.helm.timeoutSeconds,
        chart: config.chart,
      },
      { ...childOpts, dependsOn: [...(platform.dependsOn ?? []), secret] },
    );

    const p = WEAVIATE_POD_PORTS;
    databaseNetworkPolicy(
      `${name}-network-policy`,
      {
        service: "weaviate",
        releaseName: this.releaseName,
        namespace: ns,
        // Pod ports, not Service ports: the policy applies after the Service maps httpPort to 8080.
        ports: [p.http, p.grpc, p.metrics, p.gossip, p.data],
        udpPorts: [p.gossip],
        podSelector: WEAVIATE_POD_LABELS,
        metricsPorts: [p.metrics],
        network: platform.network,
      },
      childOpts,
    );

    const inference = modules.flatMap((m) => WEAVIATE_INFERENCE_MODULES[m] ?? []);
    if (inference.length > 0) {
      // The inference pods have no authentication: only Weaviate may call them.
      new k8s.networking.v1.NetworkPolicy(
        `${name}-inference-network-policy`,
        {
          metadata: {
            name: `${this.releaseName}-inference`,
            namespace: ns,
            labels: serviceLabels("weaviate", this.releaseName),
          },
          spec: {
            podSelector: { matchExpressions: [{ key: "app", operator: "In", values: inference }] },
            policyTypes: ["Ingress"],
            ingress: [
              {
                from: [{ podSelector: { matchLabels: WEAVIATE_POD_LABELS } }],
                ports: [{ port: 8080, protocol: "TCP" }],
              },
            ],
          },
        },
        childOpts,
      );
    }

    if (config.backup.enabled) {
      new BackupJob(
        `${name}-backup`,
        {
          service: "weaviate",
          releaseName: this.releaseName,
          namespace: ns,
          backup: config.backup,
          storageClass: platform.storageClass,
          // Only sh and curl are needed: the backup runs inside Weaviate, driven over its REST API.
          image: imageValues(config.backupImage, BACKUP_IMAGE),
          defaultTag: BACKUP_IMAGE_TAG,
          env: [
            { name: "WEAVIATE_URL", value: `http://${this.releaseName}:${config.httpPort}` },
            secretEnv("WEAVIATE_API_KEY", secretName, WEAVIATE_SECRET_KEYS.adminKey),
          ],
        },
        { parent: this, provider: platform.provider, dependsOn: [this.release] },
      );
    }

    if (platform.monitoring.serviceMonitor) {
      // Instead of the chart's ServiceMonitor, which takes no labels (Prometheus would not select it) and
      // matches all three Services (every pod scraped three times).
      new k8s.apiextensions.CustomResource(
        `${name}-pod-monitor`,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PodMonitor",
          metadata: {
            name: this.releaseName,
            namespace: ns,
            labels: { ...serviceLabels("weaviate", this.releaseName), ...platform.monitoring.labels },
          },
          spec: {
            selector: { matchLabels: WEAVIATE_POD_LABELS },
            podMetricsEndpoints: [
              { port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" },
            ],
          },
        },
        { ...childOpts, dependsOn: [this.release] },
      );
    }

    if (platform.monitoring.prometheusRule) {
      alertRules(
        `${name}-alerts`,
        {
          service: "weaviate",
          releaseName: this.releaseName,
          namespace: ns,
          labels: platform.monitoring.labels,
          rules: [...weaviateAlertRules(ns, config), diskSpaceRule("weaviate", this.releaseName, ns)],
        },
        { ...childOpts, dependsOn: [this.release] },
      );
    }

    const host = serviceHost(this.releaseName, ns);
    const grpcHost = serviceHost(`${this.releaseName}-grpc`, ns);
    this.endpoint = pulumi.output(`${host}:${config.httpPort}`);
    this.connection = {
      scheme: config.endpoint?.scheme ?? "http",
      host: pulumi.output(config.endpoint?.host ?? host),
      port: pulumi.output(config.endpoint?.port ?? config.httpPort),
      apiKey: pulumi.secret(adminKey),
      enabledModules: modules,
    };
    this.ready = [this.release, secret];
    this.clientSecretData = weaviateClientData(
      "http",
      host,
      config.httpPort,
      config.grpcPort,
      appKey,
      grpcHost,
    );
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
}

/** Application-facing keys: the app key, never the admin key. */
function weaviateClientData(
  scheme: string,
  host: string,
  port: number,
  grpcPort: number,
  apiKey: pulumi.Input<string>,
  grpcHost: string = host,
): ClientSecretData {
  return {
    "weaviate-url": `${scheme}://${host}:${port}`,
    "weaviate-grpc-host": `${grpcHost}:${grpcPort}`,
    "weaviate-apikey": pulumi.secret(apiKey),
  };
}

/**
 * Alerts on Weaviate's own metrics (1.22 names have no `weaviate_` prefix: `requests_total`,
 * `queries_durations_ms`), the exporter's `up` and the container's memory against its limit.
 */
export function weaviateAlertRules(
  namespace: string,
  config: Pick<WeaviateConfig, "resources">,
): AlertRule[] {
  const sel = `namespace="${namespace}"`;
  const pods = `${sel},pod=~"weaviate-[0-9]+"`;
  const limit = parseBytes(config.resources.limits.memory) ?? 0;
  return [
    {
      alert: "WeaviateDown",
      expr: `up{${pods}} == 0`,
      for: "2m",
      severity: "critical",
      summary: "Prometheus cannot scrape a Weaviate pod",
    },
    {
      alert: "WeaviateServerErrors",
      expr: `sum(rate(requests_total{${sel},status="server_error"}[5m])) / sum(rate(requests_total{${sel}}[5m])) > 0.05`,
      for: "10m",
      severity: "warning",
      summary: "More than 5% of Weaviate requests fail with a server error",
    },
    {
      alert: "WeaviateSlowQueries",
      expr: `histogram_quantile(0.95, sum by (le) (rate(queries_durations_ms_bucket{${sel}}[5m]))) > 1000`,
      for: "15m",
      severity: "warning",
      summary: "Weaviate's 95th-percentile query time is above 1 s",
    },
    {
      alert: "WeaviateMemoryNearLimit",
      expr: `max(container_memory_working_set_bytes{${pods},container="weaviate"}) > ${Math.floor(limit * 0.9)}`,
      for: "10m",
      severity: "warning",
      summary: `A Weaviate container uses more than 90% of its ${config.resources.limits.memory} memory limit`,
    },
  ];
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
export function weaviateValues(
  config: WeaviateConfig,
  platform: Pick<PlatformContext, "storageClass" | "podAntiAffinity">,
  secretName: string,
  opts: { openaiKey: boolean },
): Record<string, unknown> {
  const mods = config.modules;
  const backupsOn = mods["backup-filesystem"].enabled;
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
      admin_list: { enabled: true, users: [WEAVIATE_USERS.admin, WEAVIATE_USERS.app] },
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
      "text2vec-transformers": {
        enabled: mods["text2vec-transformers"].enabled,
        ...moduleImage(mods["text2vec-transformers"].image),
      },
      "img2vec-neural": {
        enabled: mods["img2vec-neural"].enabled,
        ...moduleImage(mods["img2vec-neural"].image),
      },
      "generative-openai": { enabled: mods["generative-openai"].enabled },
      default_vectorizer_module: defaultVectorizer(mods),
    },
    backups: {
      filesystem: { enabled: backupsOn, envconfig: { BACKUP_FILESYSTEM_PATH: WEAVIATE_BACKUP_PATH } },
    },
  };
  if (backupsOn && config.backup.enabled) {
    values.command = ["/bin/sh", "-c"];
    values.args = [weaviateStartScript(config.backup.retentionDays)];
  }
  return values;
}
