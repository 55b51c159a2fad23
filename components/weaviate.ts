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
import { PlatformSecrets, WeaviateConfig, WeaviateModule } from "../config";
import { weaviateAlertRules } from "./weaviate/alerts";
import {
  enabledModules,
  WEAVIATE_INFERENCE_MODULES,
  WEAVIATE_POD_LABELS,
  WEAVIATE_POD_PORTS,
  WEAVIATE_SECRET_KEYS,
  WEAVIATE_USERS,
  weaviateValues,
} from "./weaviate/values";
import { backupClaimName, imageReference, secretEnv } from "./shared/backup";
import { CHARTS, imageValues } from "./shared/charts";
import { childOptions, ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword } from "./shared/credentials";
import { serviceLabels } from "./shared/labels";
import { deployService, serviceCredentials } from "./shared/service";

export { WEAVIATE_SECRET_KEYS, WEAVIATE_USERS };

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

const BACKUP_IMAGE = { registry: "docker.io", repository: "curlimages/curl" };
const BACKUP_IMAGE_TAG = "8.10.1";

/**
 * Settings this component cannot deploy as asked (config cross-checks that need Weaviate knowledge);
 * empty when fine. With `backup.s3` (`offsite`) the job backs up through the backup-s3 module instead,
 * which needs neither backup-filesystem nor a single node.
 */
export function weaviateConfigProblems(config: WeaviateConfig, offsite = false): string[] {
  const problems: string[] = [];
  if (config.mode !== "helm" || !config.backup.enabled || offsite) return problems;
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

    const openaiOn = config.modules["generative-openai"].enabled;
    const openaiKey = openaiOn ? args.secrets.openaiApiKey : undefined;
    const creds = serviceCredentials(name, this, platform, {
      service: "weaviate",
      releaseName: this.releaseName,
      existingSecretName: config.credentials?.existingSecret,
      keys: weaviateExistingSecretKeys(config),
      check: weaviateExistingSecretCheck,
      labels: serviceLabels("weaviate", this.releaseName),
      generate: () => {
        const adminKey = generatedPassword(`${name}-admin-api-key`, { parent: this });
        const appKey = generatedPassword(`${name}-app-api-key`, { parent: this });
        return {
          // Same order in both lists: Weaviate maps the n-th key to the n-th user.
          [WEAVIATE_SECRET_KEYS.allowedKeys]: pulumi.interpolate`${adminKey},${appKey}`,
          [WEAVIATE_SECRET_KEYS.users]: `${WEAVIATE_USERS.admin},${WEAVIATE_USERS.app}`,
          [WEAVIATE_SECRET_KEYS.adminKey]: adminKey,
          [WEAVIATE_SECRET_KEYS.appKey]: appKey,
          ...(openaiKey ? { [WEAVIATE_SECRET_KEYS.openai]: openaiKey } : {}),
        };
      },
    });
    const secretName = creds.secretName;
    this.secretName = secretName;
    const adminKey = creds.values[WEAVIATE_SECRET_KEYS.adminKey];
    const appKey = creds.values[WEAVIATE_SECRET_KEYS.appKey];
    const openaiInSecret = creds.kept ? openaiOn : openaiKey !== undefined;

    const p = WEAVIATE_POD_PORTS;
    // Without backup.s3 the job's backups go to its claim, mounted in the Weaviate pods.
    const onClaim = config.backup.enabled && platform.offsite === undefined;
    const backupBackend = { name: "WEAVIATE_BACKUP_BACKEND", value: onClaim ? "filesystem" : "s3" };
    this.release = deployService(name, this, platform, {
      service: "weaviate",
      releaseName: this.releaseName,
      chart: CHARTS.weaviate,
      chartSource: config.chart,
      values: weaviateValues(config, platform, secretName, {
        openaiKey: openaiInSecret,
        backupClaim: onClaim ? backupClaimName(this.releaseName) : undefined,
        offsite: config.backup.enabled ? platform.offsite?.config : undefined,
      }),
      secret: creds.resource,
      network: {
        // Pod ports, not Service ports: the policy applies after the Service maps httpPort to 8080.
        ports: [p.http, p.grpc],
        peerPorts: [p.gossip, p.data],
        peerUdpPorts: [p.gossip],
        podSelector: WEAVIATE_POD_LABELS,
        metricsPorts: [p.metrics],
      },
      backup: config.backup.enabled
        ? {
            config: config.backup,
            // Only sh and curl are needed: the backup runs inside Weaviate, driven over its REST API.
            image: imageValues(config.backupImage, BACKUP_IMAGE),
            defaultTag: BACKUP_IMAGE_TAG,
            env: [
              { name: "WEAVIATE_URL", value: `http://${this.releaseName}:${config.httpPort}` },
              secretEnv("WEAVIATE_API_KEY", secretName, WEAVIATE_SECRET_KEYS.adminKey),
              backupBackend,
            ],
            // The applications' key, read-only by default, may read a backup's status: the drill's need.
            drill: {
              image: imageReference(imageValues(config.backupImage, BACKUP_IMAGE), BACKUP_IMAGE_TAG),
              env: [
                { name: "WEAVIATE_URL", value: `http://${this.releaseName}:${config.httpPort}` },
                secretEnv("WEAVIATE_API_KEY", secretName, WEAVIATE_SECRET_KEYS.appKey),
                backupBackend,
              ],
              pattern: "weaviate-*.json",
            },
            // On the claim, Weaviate writes the backups into it and the job keeps its records beside
            // them; with backup.s3 Weaviate writes to the bucket and the job's records follow them there.
            besidePods: onClaim ? WEAVIATE_POD_LABELS : undefined,
          }
        : undefined,
      alerts: () => weaviateAlertRules(ns, config),
      // Instead of the chart's ServiceMonitor, which takes no labels (Prometheus would not select it) and
      // matches all three Services (every pod scraped three times).
      podMonitor: { podLabels: WEAVIATE_POD_LABELS, port: "metrics" },
    });

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
    this.ready = [this.release, creds.resource];
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
