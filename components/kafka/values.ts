/**
 * The Kafka chart's values and the broker settings they carry: pure functions of the `kafka` config, so
 * the tests check every key path against the pinned chart (bitnami/kafka 26.11.4) without Pulumi.
 */
import { KAFKA_MECHANISMS, KafkaConfig, parseBytes } from "../../config";
import { bitnamiImage } from "../shared/charts";
import { PlatformContext } from "../shared/context";
import { disruptionBudget } from "../shared/scheduling";

/** A SASL mechanism as Kafka spells it (`SCRAM-SHA-512`). */
export type KafkaMechanism = (typeof KAFKA_MECHANISMS)[number];
/** The same mechanism as kafkajs spells it (`scram-sha-512`). */
export type KafkajsMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

/**
 * Mechanism of the KRaft controller listener. Kafka 3.6 cannot authenticate controllers with SCRAM
 * (the credentials live in the metadata log the quorum has yet to replicate: KAFKA-15513,
 * bitnami/containers#41415), so it is PLAIN; the listener is cluster-internal.
 */
const KAFKA_CONTROLLER_MECHANISM: KafkaMechanism = "PLAIN";

/** Container ports the chart gives the brokers and their exporters. */
export const KAFKA_PORTS = {
  client: 9092,
  controller: 9093,
  interbroker: 9094,
  /** kafka-exporter (`metrics.kafka.containerPorts.metrics`). */
  exporter: 9308,
  /** JMX exporter sidecar (`metrics.jmx.containerPorts.metrics`). */
  jmx: 5556,
} as const;

/** Requests and limits of the kafka-exporter and JMX exporter containers and the init container. */
const KAFKA_HELPER_RESOURCES = {
  exporter: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
  // The chart starts the JMX exporter with -XX:MaxRAMPercentage=100: its heap may use the whole limit.
  jmx: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "384Mi" } },
  init: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "250m", memory: "128Mi" } },
} as const;

/** Listener names of the chart (`listeners.client.name`, `listeners.interbroker.name`), lower-cased as Kafka prefixes them. */
const CLIENT_LISTENER = "client";
const INTERBROKER_LISTENER = "internal";

/** Which SASL mechanisms each listener accepts. */
export interface KafkaSaslPlan {
  /** `sasl.enabledMechanisms` of the chart: every mechanism any listener uses (comma list). */
  chart: string;
  /** What the client listener accepts: exactly the configured mechanisms (comma list). */
  client: string;
  /** What the inter-broker listener accepts: the inter-broker mechanism only. */
  interBroker: KafkaMechanism;
  /** What the controller listener accepts. */
  controller: KafkaMechanism;
}

/**
 * The chart requires the controller mechanism among `sasl.enabledMechanisms`
 * (kafka.validateValues.saslMechanisms) and renders that list as the broker-wide
 * `sasl.enabled.mechanisms`, which the image also reads to bootstrap SCRAM users. PLAIN is therefore
 * added there for the controller and taken away again per listener with
 * `listener.name.<listener>.sasl.enabled.mechanisms`, so clients get only what config enables.
 */
export function kafkaSaslPlan(sasl: KafkaConfig["sasl"]): KafkaSaslPlan {
  const enabled = [...new Set(sasl.enabledMechanisms)];
  const chart = enabled.includes(KAFKA_CONTROLLER_MECHANISM)
    ? enabled
    : [...enabled, KAFKA_CONTROLLER_MECHANISM];
  return {
    chart: chart.join(","),
    client: enabled.join(","),
    interBroker: sasl.interBrokerMechanism,
    controller: KAFKA_CONTROLLER_MECHANISM,
  };
}

/**
 * Replication defaults for a cluster of `nodes`: three copies where there are three nodes, and a
 * write needs two in sync from three nodes on (one node down still accepts writes).
 */
export function kafkaReplication(nodes: number): { replicationFactor: number; minInsyncReplicas: number } {
  return { replicationFactor: Math.min(3, nodes), minInsyncReplicas: nodes >= 3 ? 2 : 1 };
}

/**
 * Broker settings appended to server.properties (`extraConfig`). The chart mounts a complete
 * server.properties, so Kafka's built-in defaults apply otherwise: a replication factor of 3 for the
 * internal topics, which a one- or two-node cluster can never create.
 */
export function kafkaServerSettings(
  config: Pick<KafkaConfig, "nodes" | "sasl" | "clientUsers">,
): Record<string, string> {
  const { replicationFactor, minInsyncReplicas } = kafkaReplication(config.nodes);
  const sasl = kafkaSaslPlan(config.sasl);
  return {
    "default.replication.factor": String(replicationFactor),
    "min.insync.replicas": String(minInsyncReplicas),
    "offsets.topic.replication.factor": String(replicationFactor),
    "transaction.state.log.replication.factor": String(replicationFactor),
    "transaction.state.log.min.isr": String(minInsyncReplicas),
    // Topics come from the initialiser (seed §6.3); a typo in a producer must not create one.
    "auto.create.topics.enable": "false",
    // Every request is authorized: a client user has what the initialiser's ACLs give it (kafka.access),
    // nothing more. Super users: the initialiser's (first) client user and the chart's broker and
    // controller users (the chart has no values key for either setting).
    "authorizer.class.name": KAFKA_AUTHORIZER,
    "allow.everyone.if.no.acl.found": "false",
    "super.users": kafkaSuperUsers(config.clientUsers)
      .map((u) => `User:${u}`)
      .join(";"),
    [`listener.name.${CLIENT_LISTENER}.sasl.enabled.mechanisms`]: sasl.client,
    [`listener.name.${INTERBROKER_LISTENER}.sasl.enabled.mechanisms`]: sasl.interBroker,
  };
}

/** KRaft's ACL authorizer (ACLs in the metadata log). */
export const KAFKA_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/** The chart's broker and controller users (`sasl.interbroker.user`, `sasl.controller.user` defaults). */
export const KAFKA_CHART_USERS = ["inter_broker_user", "controller_user"] as const;

/**
 * The read-only login of the kafka-exporter and the backup job: DESCRIBE and DESCRIBE_CONFIGS on the
 * cluster, topics and groups (init/kafka-acls), nothing that reads messages or changes anything. It
 * follows the config's client users in the chart's list, so the chart knows it for PLAIN as well as SCRAM.
 */
export const KAFKA_OBSERVER_USER = "kafka_observer";

/** `sasl.client.users` of the chart: config's client users, then the observer. */
export function kafkaChartClientUsers(clientUsers: string[]): string[] {
  return [...clientUsers, KAFKA_OBSERVER_USER];
}

/** Where the exporter's start script leaves the file its password reaches kafka_exporter through. */
const KAFKA_EXPORTER_RUN_DIR = "/run/kafka-exporter";

/** kafka_exporter's spelling of a mechanism (its `--sasl.mechanism`). */
const EXPORTER_MECHANISMS: Record<KafkaMechanism, string> = {
  PLAIN: "plain",
  "SCRAM-SHA-256": "scram-sha256",
  "SCRAM-SHA-512": "scram-sha512",
};

/**
 * The exporter container's start script (`bash -ce`), in place of the chart's, which puts
 * `--sasl.password=$SASL_USER_PASSWORD` on kafka_exporter's command line (readable in /proc/<pid>/cmdline
 * by anything in the pod's PID namespace) and logs in as the first client user, the super user. This one
 * logs in as the observer and hands the password over in an argument file: kafka_exporter parses with
 * kingpin, which reads `@file` as arguments. The chart's `system-user-password` key is the observer's.
 */
export function kafkaExporterScript(releaseName: string, mechanism: KafkaMechanism): string {
  const args = `${KAFKA_EXPORTER_RUN_DIR}/args`;
  return [
    "umask 077",
    `printf -- '--sasl.password=%s\\n' "$SASL_USER_PASSWORD" >${args}`,
    "unset SASL_USER_PASSWORD",
    [
      "exec kafka_exporter",
      `--kafka.server=${releaseName}:${KAFKA_PORTS.client}`,
      "--sasl.enabled",
      `--sasl.username=${KAFKA_OBSERVER_USER}`,
      `--sasl.mechanism=${EXPORTER_MECHANISMS[mechanism]}`,
      `@${args}`,
      `--web.listen-address=:${KAFKA_PORTS.exporter}`,
    ].join(" "),
  ].join("\n");
}

/** The users that bypass ACLs: the initialiser's and the chart's own. */
export function kafkaSuperUsers(clientUsers: string[]): string[] {
  return [clientUsers[0], ...KAFKA_CHART_USERS];
}

/** Renders settings as Java properties lines. */
export function renderProperties(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

/** JVM heap options: `heapOpts` from config, else half the memory limit for both -Xmx and -Xms. */
export function kafkaHeapOpts(config: Pick<KafkaConfig, "heapOpts" | "resources">): string {
  if (config.heapOpts) return config.heapOpts;
  const halfMb = Math.floor((parseBytes(config.resources.limits.memory) ?? 0) / 2 / 2 ** 20);
  return `-Xmx${halfMb}m -Xms${halfMb}m`;
}

/** The chart values; pure so the tests can check every key path against the pinned chart. */
export function kafkaValues(
  config: KafkaConfig,
  platform: Pick<PlatformContext, "storageClass" | "monitoring" | "podAntiAffinity">,
  secretName: string,
  releaseName: string,
): Record<string, unknown> {
  const sasl = kafkaSaslPlan(config.sasl);
  const values: Record<string, unknown> = {
    fullnameOverride: releaseName,
    image: bitnamiImage(config.images.kafka, "kafka"),
    kraft: { enabled: true },
    zookeeper: { enabled: false },
    // Combined controller+broker nodes; no broker-only StatefulSet.
    controller: {
      replicaCount: config.nodes,
      controllerOnly: false,
      // The chart reads `coalesce controller.heapOpts heapOpts`, and controller.heapOpts has a default.
      heapOpts: kafkaHeapOpts(config),
      resources: config.resources,
      initContainerResources: KAFKA_HELPER_RESOURCES.init,
      persistence: { enabled: true, size: config.storageSize, storageClass: platform.storageClass },
      // A node drain takes down one member of the quorum at a time, and in prod no node holds two.
      pdb: disruptionBudget(config.nodes),
      podAntiAffinityPreset: platform.podAntiAffinity,
    },
    broker: { replicaCount: 0 },
    // SASL without TLS: traffic stays inside the cluster behind the NetworkPolicy (TLS is out of scope).
    listeners: {
      client: { protocol: "SASL_PLAINTEXT" },
      controller: { protocol: "SASL_PLAINTEXT" },
      interbroker: { protocol: "SASL_PLAINTEXT" },
    },
    sasl: {
      enabledMechanisms: sasl.chart,
      interBrokerMechanism: sasl.interBroker,
      controllerMechanism: sasl.controller,
      client: { users: kafkaChartClientUsers(config.clientUsers) },
      existingSecret: secretName,
    },
    extraConfig: renderProperties(kafkaServerSettings(config)),
    // Topics are converged by the initialiser, not by the chart's provisioning Job.
    provisioning: { enabled: false },
    networkPolicy: { enabled: false },
    volumePermissions: { image: bitnamiImage(config.images.volumePermissions, "os-shell") },
    // Not rendered (external access is off), but no image of the release may point at docker.io/bitnami.
    externalAccess: { autoDiscovery: { image: bitnamiImage(undefined, "kubectl") } },
    metrics: {
      // kafka-exporter: brokers, partitions, consumer lag; it logs in as the read-only observer.
      kafka: {
        enabled: true,
        image: bitnamiImage(config.images.kafkaExporter, "kafka-exporter"),
        resources: KAFKA_HELPER_RESOURCES.exporter,
        // The chart's command is `bash`; these are its arguments.
        args: ["-ce", kafkaExporterScript(releaseName, config.sasl.clientMechanism)],
        // The root filesystem is read-only: the argument file goes to a memory-backed volume of its own.
        extraVolumes: [{ name: "exporter-run", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }],
        extraVolumeMounts: [{ name: "exporter-run", mountPath: KAFKA_EXPORTER_RUN_DIR }],
      },
      // JMX exporter sidecar: controller and broker internals.
      jmx: {
        enabled: true,
        image: bitnamiImage(config.images.jmx, "jmx-exporter"),
        resources: KAFKA_HELPER_RESOURCES.jmx,
      },
      serviceMonitor: { enabled: platform.monitoring.serviceMonitor, labels: platform.monitoring.labels },
    },
  };
  return values;
}
