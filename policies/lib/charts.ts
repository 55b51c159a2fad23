/**
 * What the policies know about the five charts: which values keys hold the data volumes, the database
 * containers, the Services and the Kafka listeners, and the defaults each pinned chart applies when a key
 * is unset (bitnami/postgresql 15.5.38, bitnami/mongodb 13.18.5, bitnami/redis 17.17.1, bitnami/kafka
 * 26.11.4, weaviate 16.8.0; REFERENCE §1-§2). Rules ask this module instead of reading chart keys
 * themselves, so a chart upgrade changes one file.
 */
import { bool, get, isObject, isUnknownValueError, JsonObject, num, str } from "./values";

/** Resource types that install a Helm chart. */
export const RELEASE_TYPES: ReadonlySet<string> = new Set([
  "kubernetes:helm.sh/v3:Release",
  "kubernetes:helm.sh/v4:Chart",
]);

export type Service = "postgresql" | "mongodb" | "redis" | "kafka" | "weaviate";

/**
 * The names each service goes by: the chart's first, then the short name the program uses in labels
 * (`ai-platform.io/backup-for: postgres`) and config keys.
 */
export const SERVICE_NAMES: Record<Service, readonly string[]> = {
  postgresql: ["postgresql", "postgres"],
  mongodb: ["mongodb", "mongo"],
  redis: ["redis"],
  kafka: ["kafka"],
  weaviate: ["weaviate"],
};

/** The stack config key of each service in this project (for fix instructions). */
export const CONFIG_KEY: Record<Service, string> = {
  postgresql: "postgres",
  mongodb: "mongodb",
  redis: "redis",
  kafka: "kafka",
  weaviate: "weaviate",
};

/** A Helm release as the policies see it. */
export interface HelmRelease {
  /** Resource type (`kubernetes:helm.sh/v3:Release`). */
  type: string;
  /** Helm release name (`name` input), else the Pulumi resource name. */
  releaseName: string;
  /** Chart reference as given (`oci://.../postgresql`, `weaviate`, `bitnami/redis`). */
  chart: string;
  /** The `version` input, unchecked. */
  version: unknown;
  /** Which of the five services the chart is, when it is one of them. */
  service?: Service;
  /** The `atomic` input (Release only). */
  atomic: unknown;
  /** The `values` input; read lazily because it may be unknown during preview. */
  readonly values: JsonObject;
  /** `release "postgresql"`, for messages. */
  label: string;
}

/** The chart's own name: the last path segment, without `.tgz` and a version suffix. */
export function chartName(chart: string): string {
  const last = chart.replace(/\/+$/, "").split("/").pop() ?? "";
  return last
    .replace(/\.tgz$/, "")
    .replace(/-v?\d+\.\d+\.\d+.*$/, "")
    .replace(/:.*$/, "");
}

/** The service a chart or release name refers to. */
export function serviceOf(...names: Array<string | undefined>): Service | undefined {
  for (const name of names) {
    if (!name) continue;
    const n = name.toLowerCase();
    for (const [service, aliases] of Object.entries(SERVICE_NAMES) as Array<[Service, readonly string[]]>) {
      if (aliases.includes(n)) return service;
    }
  }
  return undefined;
}

/** The release a resource installs, or `undefined` when it is not a Helm release. */
export function asRelease(type: string, props: JsonObject, resourceName: string): HelmRelease | undefined {
  if (!RELEASE_TYPES.has(type)) return undefined;
  const chart = str(props.chart) ?? "";
  const releaseName = str(props.name) ?? resourceName;
  return {
    type,
    releaseName,
    chart,
    version: props.version,
    service: serviceOf(chartName(chart), releaseName),
    atomic: type === "kubernetes:helm.sh/v3:Release" ? props.atomic : true,
    get values(): JsonObject {
      const v = props.values;
      return isObject(v) ? v : {};
    },
    label: `release "${releaseName}"`,
  };
}

/**
 * The release a stack resource installs: `undefined` when it is not a release, or when its name or chart
 * is unknown during preview (a stack policy then checks the rest of the stack).
 */
export function knownRelease(res: {
  type: string;
  props: JsonObject;
  name: string;
}): HelmRelease | undefined {
  try {
    return asRelease(res.type, res.props, res.name);
  } catch (e) {
    if (isUnknownValueError(e)) return undefined;
    throw e;
  }
}

/** A persistent data volume a chart creates. */
export interface DataVolume {
  /** Values key of the persistence block (`primary.persistence`). */
  path: string;
  enabled: boolean;
  /** The size, the chart's default when unset. */
  size: unknown;
  /** True when `size` is the chart's default. */
  defaultSize: boolean;
  /** StorageClass; `undefined` or `""` means the cluster's default class. */
  storageClass: unknown;
}

function bitnamiVolume(values: JsonObject, path: string, chartDefault: string): DataVolume {
  const size = get(values, `${path}.size`);
  return {
    path,
    enabled: bool(get(values, `${path}.enabled`), true),
    size: size ?? chartDefault,
    defaultSize: size === undefined,
    storageClass: get(values, `${path}.storageClass`) ?? get(values, "global.storageClass"),
  };
}

/** MongoDB's architecture: only `replicaset` deploys members beyond one. */
export function mongoReplicaSet(values: JsonObject): boolean {
  return get(values, "architecture") === "replicaset";
}

/** Redis with Sentinel: one StatefulSet of `replica.replicaCount` nodes, `master.*` ignored (REFERENCE §2). */
export function redisSentinel(values: JsonObject): boolean {
  return (
    (get(values, "architecture") ?? "replication") === "replication" &&
    bool(get(values, "sentinel.enabled"), false)
  );
}

/** Kafka nodes that hold data (brokers): combined KRaft nodes plus broker-only nodes. */
export function kafkaBrokerCount(values: JsonObject): number {
  const kraft = bool(get(values, "kraft.enabled"), true);
  const controllers = kraft ? num(get(values, "controller.replicaCount"), 3) : 0;
  const controllerOnly = bool(get(values, "controller.controllerOnly"), false);
  return (controllerOnly ? 0 : controllers) + num(get(values, "broker.replicaCount"), 0);
}

/** Every data volume of the release, chart defaults applied. */
export function dataVolumes(r: HelmRelease): DataVolume[] {
  const v = r.values;
  switch (r.service) {
    case "postgresql": {
      const out = [bitnamiVolume(v, "primary.persistence", "8Gi")];
      if (get(v, "architecture") === "replication" && num(get(v, "readReplicas.replicaCount"), 1) > 0) {
        out.push(bitnamiVolume(v, "readReplicas.persistence", "8Gi"));
      }
      return out;
    }
    case "mongodb": {
      const out = [bitnamiVolume(v, "persistence", "8Gi")];
      if (mongoReplicaSet(v) && bool(get(v, "hidden.enabled"), false)) {
        out.push(bitnamiVolume(v, "hidden.persistence", "8Gi"));
      }
      return out;
    }
    case "redis": {
      if (redisSentinel(v)) return [bitnamiVolume(v, "replica.persistence", "8Gi")];
      const out = [bitnamiVolume(v, "master.persistence", "8Gi")];
      if (
        (get(v, "architecture") ?? "replication") === "replication" &&
        num(get(v, "replica.replicaCount"), 3) > 0
      ) {
        out.push(bitnamiVolume(v, "replica.persistence", "8Gi"));
      }
      return out;
    }
    case "kafka": {
      const out: DataVolume[] = [];
      const kraft = bool(get(v, "kraft.enabled"), true);
      if (kraft && num(get(v, "controller.replicaCount"), 3) > 0) {
        out.push(bitnamiVolume(v, "controller.persistence", "8Gi"));
      }
      if (num(get(v, "broker.replicaCount"), 0) > 0) out.push(bitnamiVolume(v, "broker.persistence", "8Gi"));
      return out;
    }
    case "weaviate": {
      // The Weaviate chart always claims a volume; it has no `enabled` switch.
      const size = get(v, "storage.size");
      return [
        {
          path: "storage",
          enabled: true,
          size: size ?? "32Gi",
          defaultSize: size === undefined,
          storageClass: get(v, "storage.storageClassName"),
        },
      ];
    }
    default:
      return [];
  }
}

/** A container that runs the database server (or its Sentinel / arbiter) and the values key of its resources. */
export interface DatabaseContainer {
  /** Values key of the `resources` block (`primary.resources`). */
  path: string;
  /** What runs there, for messages. */
  role: string;
  resources: unknown;
}

function container(values: JsonObject, path: string, role: string): DatabaseContainer {
  return { path, role, resources: get(values, path) };
}

/** Every database container the release runs (exporters and init containers are not databases). */
export function databaseContainers(r: HelmRelease): DatabaseContainer[] {
  const v = r.values;
  switch (r.service) {
    case "postgresql": {
      const out = [container(v, "primary.resources", "primary")];
      if (get(v, "architecture") === "replication" && num(get(v, "readReplicas.replicaCount"), 1) > 0) {
        out.push(container(v, "readReplicas.resources", "read replica"));
      }
      return out;
    }
    case "mongodb": {
      const out = [container(v, "resources", "mongod")];
      if (mongoReplicaSet(v) && bool(get(v, "arbiter.enabled"), true)) {
        out.push(container(v, "arbiter.resources", "arbiter"));
      }
      if (mongoReplicaSet(v) && bool(get(v, "hidden.enabled"), false)) {
        out.push(container(v, "hidden.resources", "hidden member"));
      }
      return out;
    }
    case "redis": {
      if (redisSentinel(v)) {
        return [container(v, "replica.resources", "redis"), container(v, "sentinel.resources", "sentinel")];
      }
      const out = [container(v, "master.resources", "master")];
      if (
        (get(v, "architecture") ?? "replication") === "replication" &&
        num(get(v, "replica.replicaCount"), 3) > 0
      ) {
        out.push(container(v, "replica.resources", "replica"));
      }
      return out;
    }
    case "kafka": {
      const out: DatabaseContainer[] = [];
      if (bool(get(v, "kraft.enabled"), true) && num(get(v, "controller.replicaCount"), 3) > 0) {
        out.push(container(v, "controller.resources", "controller+broker"));
      }
      if (num(get(v, "broker.replicaCount"), 0) > 0) out.push(container(v, "broker.resources", "broker"));
      return out;
    }
    case "weaviate":
      return [container(v, "resources", "weaviate")];
    default:
      return [];
  }
}

/** Service types the charts use when the key is unset, for the Services they create only on request. */
export interface DefaultServiceType {
  /** Values key of the Service type. */
  path: string;
  type: string;
  /** Whether the chart renders this Service with these values. */
  rendered: (values: JsonObject) => boolean;
}

export const DEFAULT_SERVICE_TYPES: Partial<Record<Service, DefaultServiceType[]>> = {
  // weaviate 16.8.0: `service.type: LoadBalancer`, `grpcService.type: NodePort` (REFERENCE §2).
  weaviate: [
    { path: "service.type", type: "LoadBalancer", rendered: () => true },
    {
      path: "grpcService.type",
      type: "NodePort",
      rendered: (v) => bool(get(v, "grpcService.enabled"), false),
    },
  ],
  // External access creates one LoadBalancer Service per member unless told otherwise.
  mongodb: [
    {
      path: "externalAccess.service.type",
      type: "LoadBalancer",
      rendered: (v) => bool(get(v, "externalAccess.enabled"), false),
    },
  ],
  kafka: [
    {
      path: "externalAccess.controller.service.type",
      type: "LoadBalancer",
      rendered: (v) => bool(get(v, "externalAccess.enabled"), false) && kafkaBrokerCount(v) > 0,
    },
    {
      path: "externalAccess.broker.service.type",
      type: "LoadBalancer",
      rendered: (v) =>
        bool(get(v, "externalAccess.enabled"), false) && num(get(v, "broker.replicaCount"), 0) > 0,
    },
  ],
};

/** A Kafka listener and the SASL mechanisms it accepts. */
export interface KafkaListener {
  name: string;
  /** Values key of the listener's protocol. */
  path: string;
  /** Security protocol, the chart's default (`SASL_PLAINTEXT`) when unset. */
  protocol: string;
  /** SASL mechanisms accepted on it, upper case. */
  mechanisms: string[];
}

function mechanismList(v: unknown, fallback: string): string[] {
  const raw = Array.isArray(v) ? v.join(",") : (str(v) ?? fallback);
  return raw
    .split(",")
    .map((m) => m.trim().toUpperCase())
    .filter((m) => m.length > 0);
}

/** Listener names bitnami/kafka 26 gives its listeners unless `listeners.<key>.name` says otherwise. */
const KAFKA_LISTENER_NAMES: Record<string, string> = {
  client: "CLIENT",
  interbroker: "INTERNAL",
  controller: "CONTROLLER",
  external: "EXTERNAL",
};

/**
 * Every listener of a bitnami/kafka 26 release, chart defaults applied. A listener accepts the broker's
 * `sasl.enabledMechanisms` (default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512) plus the mechanism the chart
 * uses on it (`sasl.interBrokerMechanism`, `sasl.controllerMechanism`, both PLAIN by default), unless
 * `extraConfig` sets `listener.name.<name>.sasl.enabled.mechanisms` for it (Kafka's per-listener override).
 */
export function kafkaListeners(values: JsonObject): KafkaListener[] {
  const enabled = mechanismList(get(values, "sasl.enabledMechanisms"), "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512");
  const accepted = (listenerName: string, own: string[]): string[] => {
    const override = kafkaBrokerSetting(
      values,
      `listener.name.${listenerName.toLowerCase()}.sasl.enabled.mechanisms`,
    );
    return override !== undefined ? mechanismList(override, "") : [...new Set([...enabled, ...own])];
  };
  const listener = (key: string, own: string[]): KafkaListener => {
    const name = str(get(values, `listeners.${key}.name`)) ?? KAFKA_LISTENER_NAMES[key];
    return {
      name,
      path: `listeners.${key}.protocol`,
      protocol: (str(get(values, `listeners.${key}.protocol`)) ?? "SASL_PLAINTEXT").toUpperCase(),
      mechanisms: accepted(name, own),
    };
  };
  const out = [
    listener("client", []),
    listener("interbroker", mechanismList(get(values, "sasl.interBrokerMechanism"), "PLAIN")),
  ];
  if (bool(get(values, "kraft.enabled"), true)) {
    // The controller listener is for controllers only: it accepts just the controller mechanism.
    const name = str(get(values, "listeners.controller.name")) ?? KAFKA_LISTENER_NAMES.controller;
    const own = mechanismList(get(values, "sasl.controllerMechanism"), "PLAIN");
    const override = kafkaBrokerSetting(
      values,
      `listener.name.${name.toLowerCase()}.sasl.enabled.mechanisms`,
    );
    out.push({
      name,
      path: "listeners.controller.protocol",
      protocol: (str(get(values, "listeners.controller.protocol")) ?? "SASL_PLAINTEXT").toUpperCase(),
      mechanisms: override !== undefined ? mechanismList(override, "") : own,
    });
  }
  if (bool(get(values, "externalAccess.enabled"), false)) out.push(listener("external", []));
  const extra = get(values, "listeners.extraListeners");
  if (Array.isArray(extra)) {
    extra.forEach((l: unknown, i) => {
      const name = str(get(l, "name")) ?? `extraListeners[${i}]`;
      out.push({
        name,
        path: `listeners.extraListeners[${i}].protocol`,
        protocol: (str(get(l, "protocol")) ?? "SASL_PLAINTEXT").toUpperCase(),
        mechanisms: accepted(name, []),
      });
    });
  }
  // `securityProtocolMap` replaces the protocols the chart derives from the listeners above.
  const map = str(get(values, "listeners.securityProtocolMap"));
  if (map) {
    for (const entry of map.split(",")) {
      const [name, protocol] = entry.split(":").map((s) => s.trim());
      if (!name || !protocol) continue;
      out.push({
        name,
        path: "listeners.securityProtocolMap",
        protocol: protocol.toUpperCase(),
        mechanisms: accepted(name, []),
      });
    }
  }
  return out;
}

/** The broker-wide value of a Kafka setting from `extraConfig` / `config` (`key=value` lines), if set. */
export function kafkaBrokerSetting(values: JsonObject, key: string): string | undefined {
  for (const path of ["extraConfig", "config", "controller.extraConfig", "broker.extraConfig"]) {
    const text = get(values, path);
    if (typeof text !== "string") continue;
    for (const line of text.split("\n")) {
      const m = /^\s*([^#=\s]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (m && m[1] === key) return m[2];
    }
  }
  return undefined;
}
