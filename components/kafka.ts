/**
 * Kafka 3.6 in KRaft mode (bitnami/kafka), SASL on every listener, its credentials Secret, backup
 * CronJob (topic layout and configurations), NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/kafka/values.yaml` and `templates/` at chart
 * 26.11.4 (commit 97df6fc2).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KAFKA_MECHANISMS, KafkaConfig, parseBytes, PlatformSecrets } from "../config";
import { BackupJob, secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS, pinnedRelease } from "./shared/charts";
import { childOptions, ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword, opaqueSecret } from "./shared/credentials";
import { existingSecret } from "./shared/existing-secret";
import { alertRules, diskSpaceRule } from "./shared/monitoring";
import { databaseNetworkPolicy } from "./shared/network";
import { disruptionBudget } from "./shared/scheduling";

/** A SASL mechanism as Kafka spells it (`SCRAM-SHA-512`). */
export type KafkaMechanism = (typeof KAFKA_MECHANISMS)[number];
/** The same mechanism as kafkajs spells it (`scram-sha-512`). */
export type KafkajsMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

/** Ports of the chart's listeners and exporters (chart defaults; the Service exposes `client`). */
export const KAFKA_PORTS = {
  client: 9092,
  controller: 9093,
  interbroker: 9094,
  /** kafka-exporter (`metrics.kafka.containerPorts.metrics`). */
  exporter: 9308,
  /** JMX exporter sidecar (`metrics.jmx.containerPorts.metrics`). */
  jmx: 5556,
} as const;

/**
 * Keys of the Secret named by `sasl.existingSecret`, as the chart's templates read them:
 * `client-passwords` (comma-joined in `sasl.client.users` order) and `inter-broker-password` /
 * `controller-password` by the init container and the broker; `system-user-password` (the first client
 * user's password) by the kafka-exporter Deployment (templates/metrics/deployment.yaml).
 */
export const KAFKA_SECRET_KEYS = {
  clientPasswords: "client-passwords",
  systemUser: "system-user-password",
  interBroker: "inter-broker-password",
  controller: "controller-password",
} as const;

/** Our own extra key holding one client user's password alone, for operators. */
export function clientPasswordKey(user: string): string {
  return `client-password-${user}`;
}

/**
 * Keys a Secret the user keeps (`kafka.credentials.existingSecret`) must hold: the four the chart reads
 * (`client-passwords` in `kafka.clientUsers` order, the first user's alone in `system-user-password`).
 */
export const KAFKA_EXISTING_SECRET_KEYS: string[] = Object.values(KAFKA_SECRET_KEYS);

/** Why a kept Secret's values cannot work with the chart and config, or undefined (names keys, never values). */
export function kafkaExistingSecretCheck(
  clientUsers: string[],
): (values: Record<string, string>) => string | undefined {
  return (values) => {
    const passwords = values[KAFKA_SECRET_KEYS.clientPasswords].split(",");
    if (passwords.length !== clientUsers.length || passwords.some((p) => p === "")) {
      return `key "${KAFKA_SECRET_KEYS.clientPasswords}" holds ${passwords.length} comma-separated password(s); the chart pairs them with kafka.clientUsers (${clientUsers.join(", ")}): it must hold ${clientUsers.length}, non-empty, in that order`;
    }
    if (values[KAFKA_SECRET_KEYS.systemUser] !== passwords[0]) {
      return `key "${KAFKA_SECRET_KEYS.systemUser}" differs from the first entry of "${KAFKA_SECRET_KEYS.clientPasswords}"; it must be the password of "${clientUsers[0]}" (kafka.clientUsers[0]), which the metrics exporter and the backup job log in with`;
    }
    return undefined;
  };
}

/**
 * Mechanism of the KRaft controller listener. Kafka 3.6 cannot authenticate controllers with SCRAM
 * (the credentials live in the metadata log the quorum has yet to replicate: KAFKA-15513,
 * bitnami/containers#41415), so it is PLAIN; the listener is cluster-internal.
 */
export const KAFKA_CONTROLLER_MECHANISM: KafkaMechanism = "PLAIN";

/** Consumer lag (messages per group and topic) above which the lag alert fires. */
export const KAFKA_CONSUMER_LAG_ALERT = 1000;

/** Requests and limits of the kafka-exporter and JMX exporter containers and the init container. */
export const KAFKA_HELPER_RESOURCES = {
  exporter: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "250m", memory: "256Mi" } },
  // The chart starts the JMX exporter with -XX:MaxRAMPercentage=100: its heap may use the whole limit.
  jmx: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "250m", memory: "384Mi" } },
  init: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "250m", memory: "128Mi" } },
} as const;

/** Listener names of the chart (`listeners.client.name`, `listeners.interbroker.name`), lower-cased as Kafka prefixes them. */
const CLIENT_LISTENER = "client";
const INTERBROKER_LISTENER = "internal";
/** Default tag of the Kafka image in the pinned chart; the backup job runs the same image. */
const KAFKA_IMAGE_TAG = "3.6.1-debian-12-r12";

/**
 * Settings that contradict each other or the chart, which the config schema cannot see field by
 * field. Empty when the config is usable.
 */
export function kafkaConfigProblems(config: Pick<KafkaConfig, "sasl" | "clientUsers">): string[] {
  const problems: string[] = [];
  const { enabledMechanisms, interBrokerMechanism } = config.sasl;
  if (!enabledMechanisms.includes(interBrokerMechanism)) {
    // The chart refuses it (kafka.validateValues.saslMechanisms), and the broker could not log in to itself.
    problems.push(
      `kafka.sasl.interBrokerMechanism "${interBrokerMechanism}" is not in kafka.sasl.enabledMechanisms (${enabledMechanisms.join(", ")}); add it there or pick one of those`,
    );
  }
  const seen = new Set<string>();
  for (const u of config.clientUsers) {
    if (seen.has(u)) problems.push(`kafka.clientUsers: "${u}" appears twice; user names must be unique`);
    seen.add(u);
  }
  for (const reserved of ["inter_broker_user", "controller_user"]) {
    // The chart's own users for broker and controller traffic (sasl.interbroker.user, sasl.controller.user).
    if (seen.has(reserved)) {
      problems.push(
        `kafka.clientUsers: "${reserved}" is the chart's internal user; choose another client user name`,
      );
    }
  }
  return problems;
}

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
export function kafkaServerSettings(config: Pick<KafkaConfig, "nodes" | "sasl">): Record<string, string> {
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
    [`listener.name.${CLIENT_LISTENER}.sasl.enabled.mechanisms`]: sasl.client,
    [`listener.name.${INTERBROKER_LISTENER}.sasl.enabled.mechanisms`]: sasl.interBroker,
  };
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

/** kafkajs names mechanisms in lower case. */
export function kafkajsMechanism(m: KafkaMechanism): KafkajsMechanism {
  return m.toLowerCase() as KafkajsMechanism;
}

/** A SCRAM mechanism (the ones whose users live in the cluster's metadata). */
export function isScram(m: KafkaMechanism): m is "SCRAM-SHA-256" | "SCRAM-SHA-512" {
  return m === "SCRAM-SHA-256" || m === "SCRAM-SHA-512";
}

/** The user applications get: the second client user when there is one, so the first stays the admin's. */
export function kafkaAppUser(clientUsers: string[]): string {
  return clientUsers[1] ?? clientUsers[0];
}

/** Arguments of {@link Kafka}. */
export interface KafkaArgs {
  /** Validated `kafka` stack config. */
  config: KafkaConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config; `kafkaPassword` is the first client user's password in `external` mode. */
  secrets: PlatformSecrets;
}

/** How the initialiser reaches Kafka. */
export interface KafkaConnection {
  /** Bootstrap servers, `host:port` each. */
  brokers: pulumi.Output<string[]>;
  /** SASL mechanism, kafkajs spelling. */
  mechanism: KafkajsMechanism;
  /** The first client user (the initialiser's). */
  username: string;
  /** Secret. */
  password: pulumi.Output<string>;
  /** Nodes of the cluster: no replication factor may exceed it. */
  nodes: number;
  /**
   * SCRAM users the initialiser keeps on the cluster, with their generated passwords (secret): every
   * client user of a release, the users after the first on an external cluster (the first is yours).
   * Empty when clients do not use SCRAM.
   */
  scramUsers: { name: string; password: pulumi.Output<string> }[];
  /** Their mechanism (`sasl.clientMechanism`), when it is a SCRAM one. */
  scramMechanism?: "SCRAM-SHA-256" | "SCRAM-SHA-512";
}

export class Kafka extends pulumi.ComponentResource {
  /** Helm release name, also the client Service name. */
  public readonly releaseName = "kafka";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** Name of the Secret holding the SASL passwords (absent in `external` mode). */
  public readonly secretName?: string;
  /** In-cluster bootstrap endpoint (`host:port`); the configured brokers in `external` mode. */
  public readonly endpoint: pulumi.Output<string>;
  /** Connection details for the initialiser (endpoint override applied). */
  public readonly connection: KafkaConnection;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData;

  constructor(name: string, args: KafkaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:Kafka", name, {}, opts);
    const { config, platform } = args;
    const ns = platform.namespace;
    const childOpts = childOptions(this, platform);
    const mechanism = kafkajsMechanism(config.sasl.clientMechanism);
    const adminUser = config.clientUsers[0];

    const scramMechanism = isScram(config.sasl.clientMechanism) ? config.sasl.clientMechanism : undefined;
    const appUser = kafkaAppUser(config.clientUsers);

    if (config.mode === "external") {
      // A managed cluster: nothing to deploy. The first client user is yours (kafkaPassword); the
      // initialiser creates the others with generated passwords, so applications get their own user.
      const brokers = config.endpoint!.brokers;
      const password = pulumi.secret(args.secrets.kafkaPassword!);
      const scramUsers = scramMechanism
        ? config.clientUsers.slice(1).map((u) => ({
            name: u,
            password: generatedPassword(`${name}-client-password-${u}`, { parent: this }),
          }))
        : [];
      this.endpoint = pulumi.output(brokers.join(","));
      this.connection = {
        brokers: pulumi.output(brokers),
        mechanism,
        username: adminUser,
        password,
        nodes: config.nodes,
        scramUsers,
        scramMechanism,
      };
      this.ready = [];
      const app = scramUsers.find((u) => u.name === appUser);
      this.clientSecretData = app
        ? kafkaClientData(brokers, config.sasl.clientMechanism, app.name, app.password)
        : kafkaClientData(brokers, config.sasl.clientMechanism, adminUser, password);
      this.registerOutputs({ endpoint: this.endpoint });
      return;
    }

    const userSecret = config.credentials?.existingSecret;
    const secretName = userSecret ?? `${this.releaseName}-credentials`;
    this.secretName = secretName;
    let clientPasswords: pulumi.Output<string>[];
    let secret: pulumi.Resource;
    if (userSecret) {
      // The user keeps the passwords: nothing is generated, the chart and the initialisers read that Secret.
      const kept = existingSecret(
        `${name}-existing-credentials`,
        {
          namespace: ns,
          name: userSecret,
          configKey: "kafka.credentials.existingSecret",
          keys: KAFKA_EXISTING_SECRET_KEYS,
          check: kafkaExistingSecretCheck(config.clientUsers),
        },
        childOpts,
      );
      const joined = kept.values[KAFKA_SECRET_KEYS.clientPasswords];
      clientPasswords = config.clientUsers.map((_, i) => pulumi.secret(joined.apply((p) => p.split(",")[i])));
      secret = kept.resource;
    } else {
      clientPasswords = config.clientUsers.map((u) =>
        generatedPassword(`${name}-client-password-${u}`, { parent: this }),
      );
      const interBrokerPassword = generatedPassword(`${name}-inter-broker-password`, { parent: this });
      const controllerPassword = generatedPassword(`${name}-controller-password`, { parent: this });
      secret = opaqueSecret(
        `${name}-credentials`,
        {
          namespace: ns,
          name: secretName,
          data: {
            // Generated passwords are alphanumeric: no comma can split them wrongly.
            [KAFKA_SECRET_KEYS.clientPasswords]: pulumi.all(clientPasswords).apply((p) => p.join(",")),
            [KAFKA_SECRET_KEYS.systemUser]: clientPasswords[0],
            [KAFKA_SECRET_KEYS.interBroker]: interBrokerPassword,
            [KAFKA_SECRET_KEYS.controller]: controllerPassword,
            ...Object.fromEntries(
              config.clientUsers.map((u, i) => [clientPasswordKey(u), clientPasswords[i]]),
            ),
          },
        },
        childOpts,
      );
    }

    const values = kafkaValues(config, platform, secretName, this.releaseName);
    this.release = pinnedRelease(
      `${name}-release`,
      this.releaseName,
      CHARTS.kafka,
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
        service: "kafka",
        releaseName: this.releaseName,
        namespace: ns,
        ports: [
          KAFKA_PORTS.client,
          KAFKA_PORTS.controller,
          KAFKA_PORTS.interbroker,
          KAFKA_PORTS.exporter,
          KAFKA_PORTS.jmx,
        ],
        metricsPorts: [KAFKA_PORTS.exporter, KAFKA_PORTS.jmx],
        network: platform.network,
      },
      childOpts,
    );

    if (config.backup.enabled) {
      new BackupJob(
        `${name}-backup`,
        {
          service: "kafka",
          releaseName: this.releaseName,
          namespace: ns,
          backup: config.backup,
          storageClass: platform.storageClass,
          // The server image carries kafka-topics.sh and kafka-configs.sh of the same version.
          image: bitnamiImage(config.images.kafka, "kafka"),
          defaultTag: KAFKA_IMAGE_TAG,
          env: [
            { name: "KAFKA_BOOTSTRAP", value: `${this.releaseName}:${KAFKA_PORTS.client}` },
            { name: "KAFKA_SECURITY_PROTOCOL", value: "SASL_PLAINTEXT" },
            { name: "KAFKA_SASL_MECHANISM", value: config.sasl.clientMechanism },
            { name: "KAFKA_USER", value: adminUser },
            // The first client user's password alone, a key the chart defines (the exporter reads it too);
            // `client-passwords` holds every user's joined by commas.
            secretEnv("KAFKA_PASSWORD", secretName, KAFKA_SECRET_KEYS.systemUser),
          ],
        },
        { parent: this, provider: platform.provider, dependsOn: [this.release] },
      );
    }

    if (platform.monitoring.prometheusRule) {
      const sel = `namespace="${ns}"`;
      alertRules(
        `${name}-alerts`,
        {
          service: "kafka",
          releaseName: this.releaseName,
          namespace: ns,
          labels: platform.monitoring.labels,
          rules: [
            {
              alert: "KafkaConsumerLag",
              expr: `sum by (consumergroup, topic) (kafka_consumergroup_lag{${sel}}) > ${KAFKA_CONSUMER_LAG_ALERT}`,
              for: "10m",
              severity: "warning",
              summary: `A consumer group is more than ${KAFKA_CONSUMER_LAG_ALERT} messages behind on a topic`,
            },
            {
              alert: "KafkaUnderReplicatedPartitions",
              expr: `sum(kafka_topic_partition_under_replicated_partition{${sel}}) > 0`,
              for: "5m",
              severity: "warning",
              summary: "Kafka partitions have fewer in-sync replicas than replicas",
            },
            {
              // JMX exporter name of kafka.controller:type=KafkaController,name=OfflinePartitionsCount.
              alert: "KafkaOfflinePartitions",
              expr: `max(kafka_controller_kafkacontroller_offlinepartitionscount_value{${sel}}) > 0`,
              for: "1m",
              severity: "critical",
              summary: "Kafka partitions have no leader: they accept neither reads nor writes",
            },
            {
              alert: "KafkaNoActiveController",
              expr: `sum(kafka_controller_kafkacontroller_activecontrollercount_value{${sel}}) != 1`,
              for: "5m",
              severity: "critical",
              summary: "The KRaft quorum does not have exactly one active controller",
            },
            {
              alert: "KafkaBrokersMissing",
              expr: `max(kafka_brokers{${sel}}) < ${config.nodes} or absent(kafka_brokers{${sel}})`,
              for: "5m",
              severity: "critical",
              summary: `Fewer than ${config.nodes} Kafka brokers are up, or the exporter cannot reach any`,
            },
            diskSpaceRule("kafka", this.releaseName, ns),
          ],
        },
        { ...childOpts, dependsOn: [this.release] },
      );
    }

    const bootstrap = `${serviceHost(this.releaseName, ns)}:${KAFKA_PORTS.client}`;
    this.endpoint = pulumi.output(bootstrap);
    this.connection = {
      brokers: pulumi.output(config.endpoint?.brokers ?? [bootstrap]),
      mechanism,
      username: adminUser,
      password: pulumi.secret(clientPasswords[0]),
      nodes: config.nodes,
      // The image creates these only when it first formats the storage; the initialiser keeps them
      // (and rotated passwords) on the running cluster.
      scramUsers: scramMechanism
        ? config.clientUsers.map((u, i) => ({ name: u, password: pulumi.secret(clientPasswords[i]) }))
        : [],
      scramMechanism,
    };
    this.ready = [this.release, secret];
    this.clientSecretData = kafkaClientData(
      [bootstrap],
      config.sasl.clientMechanism,
      appUser,
      pulumi.secret(clientPasswords[config.clientUsers.indexOf(appUser)]),
    );
    this.registerOutputs({ endpoint: this.endpoint, release: this.release });
  }
}

/** Application-facing keys. The mechanism keeps Kafka's spelling, which Java, librdkafka and kafkajs accept. */
function kafkaClientData(
  brokers: string[],
  mechanism: KafkaMechanism,
  username: string,
  password: pulumi.Output<string>,
): ClientSecretData {
  return {
    "kafka-brokers": brokers.join(","),
    "kafka-sasl-mechanism": mechanism,
    "kafka-username": username,
    "kafka-password": password,
  };
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
      client: { users: config.clientUsers },
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
      // kafka-exporter: brokers, partitions, consumer lag; it logs in as the first client user.
      kafka: {
        enabled: true,
        image: bitnamiImage(config.images.kafkaExporter, "kafka-exporter"),
        resources: KAFKA_HELPER_RESOURCES.exporter,
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
