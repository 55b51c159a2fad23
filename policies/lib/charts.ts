/**
 * What the policies know about the five charts: which values keys hold the data volumes, the database
 * containers, the Services and the Kafka listeners, and the defaults each pinned chart applies when a key
 * is unset (bitnami/postgresql 15.5.38, bitnami/mongodb 13.18.5, bitnami/redis 17.17.1, bitnami/kafka
 * 26.11.4, weaviate 16.8.0; REFERENCE §1-§2). Rules ask this module instead of reading chart keys
 * themselves, so a chart upgrade changes one file.
 */
import { kafkaBrokerCount } from "./kafka-values";
import { bool, get, isObject, isUnknownValueError, JsonObject, num, str } from "./values";

/** Resource types that install a Helm chart. */
const RELEASE_TYPES: ReadonlySet<string> = new Set([
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
function chartName(chart: string): string {
  const last = chart.replace(/\/+$/, "").split("/").pop() ?? "";
  return last
    .replace(/\.tgz$/, "")
    .replace(/-v?\d+\.\d+\.\d+.*$/, "")
    .replace(/:.*$/, "");
}

/** The service a chart or release name refers to. */
function serviceOf(...names: Array<string | undefined>): Service | undefined {
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
