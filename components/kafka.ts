/**
 * Kafka 3.6 in KRaft mode (bitnami/kafka), SASL on every listener, its credentials Secret, backup
 * CronJob (topic layout and configurations), NetworkPolicy and alerts.
 * Values keys checked against bitnami/charts `bitnami/kafka/values.yaml` and `templates/` at chart
 * 26.11.4 (commit 97df6fc2).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KafkaConfig, PlatformSecrets } from "../config";
import { kafkaAlertRules } from "./kafka/alerts";
import {
  KAFKA_CHART_USERS,
  KAFKA_OBSERVER_USER,
  KAFKA_PORTS,
  kafkaChartClientUsers,
  KafkajsMechanism,
  KafkaMechanism,
  kafkaValues,
} from "./kafka/values";
import { imageReference, secretEnv } from "./shared/backup";
import { bitnamiImage, CHARTS } from "./shared/charts";
import { ClientSecretData, PlatformContext, serviceHost } from "./shared/context";
import { generatedPassword } from "./shared/credentials";
import { deployService, serviceCredentials } from "./shared/service";

/**
 * Keys of the Secret named by `sasl.existingSecret`, as the chart's templates read them:
 * `client-passwords` (comma-joined in `sasl.client.users` order) and `inter-broker-password` /
 * `controller-password` by the init container and the broker; `system-user-password` by the
 * kafka-exporter Deployment (templates/metrics/deployment.yaml), which the chart means for the first
 * client user's password and this program for the read-only observer's (the last of `client-passwords`):
 * the exporter and the backup job never hold a super user's password.
 */
export const KAFKA_SECRET_KEYS = {
  clientPasswords: "client-passwords",
  systemUser: "system-user-password",
  interBroker: "inter-broker-password",
  controller: "controller-password",
} as const;

/** Our own extra key holding one client user's password alone, for operators. */
function clientPasswordKey(user: string): string {
  return `client-password-${user}`;
}

/**
 * Keys a Secret the user keeps (`kafka.credentials.existingSecret`) must hold: the four the chart reads
 * (`client-passwords` in `kafka.clientUsers` order followed by the observer's, which is also alone in
 * `system-user-password`).
 */
export const KAFKA_EXISTING_SECRET_KEYS: string[] = Object.values(KAFKA_SECRET_KEYS);

/** Why a kept Secret's values cannot work with the chart and config, or undefined (names keys, never values). */
export function kafkaExistingSecretCheck(
  clientUsers: string[],
): (values: Record<string, string>) => string | undefined {
  const users = kafkaChartClientUsers(clientUsers);
  return (values) => {
    const passwords = values[KAFKA_SECRET_KEYS.clientPasswords].split(",");
    if (passwords.length !== users.length || passwords.some((p) => p === "")) {
      return `key "${KAFKA_SECRET_KEYS.clientPasswords}" holds ${passwords.length} comma-separated password(s); the chart pairs them with its client users (${users.join(", ")}: kafka.clientUsers, then the read-only ${KAFKA_OBSERVER_USER} of the exporter and backup job): it must hold ${users.length}, non-empty, in that order`;
    }
    const observer = passwords[passwords.length - 1];
    if (values[KAFKA_SECRET_KEYS.systemUser] !== observer) {
      return `key "${KAFKA_SECRET_KEYS.systemUser}" differs from the last entry of "${KAFKA_SECRET_KEYS.clientPasswords}"; it must be the password of ${KAFKA_OBSERVER_USER}, the read-only user the metrics exporter and the backup job log in with`;
    }
    if (passwords.slice(0, -1).includes(observer)) {
      return `key "${KAFKA_SECRET_KEYS.systemUser}" (${KAFKA_OBSERVER_USER}'s password) is also the password of a client user; the exporter and backup job would hold that user's login: give ${KAFKA_OBSERVER_USER} a password of its own`;
    }
    return undefined;
  };
}

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
  for (const reserved of KAFKA_CHART_USERS) {
    // The chart's own users for broker and controller traffic (sasl.interbroker.user, sasl.controller.user).
    if (seen.has(reserved)) {
      problems.push(
        `kafka.clientUsers: "${reserved}" is the chart's internal user; choose another client user name`,
      );
    }
  }
  if (seen.has(KAFKA_OBSERVER_USER)) {
    problems.push(
      `kafka.clientUsers: "${KAFKA_OBSERVER_USER}" is the read-only user of the exporter and backup job, which the program adds itself; choose another client user name`,
    );
  }
  return problems;
}

/** kafkajs names mechanisms in lower case. */
export function kafkajsMechanism(m: KafkaMechanism): KafkajsMechanism {
  return m.toLowerCase() as KafkajsMechanism;
}

/** A SCRAM mechanism (the ones whose users live in the cluster's metadata). */
function isScram(m: KafkaMechanism): m is "SCRAM-SHA-256" | "SCRAM-SHA-512" {
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
   * client user of a release and its observer, the users after the first on an external cluster (the
   * first is yours). Empty when clients do not use SCRAM.
   */
  scramUsers: { name: string; password: pulumi.Output<string> }[];
  /** Their mechanism (`sasl.clientMechanism`), when it is a SCRAM one. */
  scramMechanism?: "SCRAM-SHA-256" | "SCRAM-SHA-512";
  /** The read-only user of the release's exporter and backup job (none on an external cluster). */
  observer?: string;
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

    const chartUsers = kafkaChartClientUsers(config.clientUsers);
    const creds = serviceCredentials(name, this, platform, {
      service: "kafka",
      releaseName: this.releaseName,
      existingSecretName: config.credentials?.existingSecret,
      keys: KAFKA_EXISTING_SECRET_KEYS,
      check: kafkaExistingSecretCheck(config.clientUsers),
      generate: () => {
        const passwords = chartUsers.map((u) =>
          generatedPassword(`${name}-client-password-${u}`, { parent: this }),
        );
        return {
          // Generated passwords are alphanumeric: no comma can split them wrongly.
          [KAFKA_SECRET_KEYS.clientPasswords]: pulumi.all(passwords).apply((p) => p.join(",")),
          [KAFKA_SECRET_KEYS.systemUser]: passwords[passwords.length - 1],
          [KAFKA_SECRET_KEYS.interBroker]: generatedPassword(`${name}-inter-broker-password`, {
            parent: this,
          }),
          [KAFKA_SECRET_KEYS.controller]: generatedPassword(`${name}-controller-password`, { parent: this }),
          ...Object.fromEntries(chartUsers.map((u, i) => [clientPasswordKey(u), passwords[i]])),
        };
      },
    });
    const secretName = creds.secretName;
    this.secretName = secretName;
    // A kept Secret holds the users' passwords joined by commas only (the chart's key).
    const clientPasswords = chartUsers.map((u, i) =>
      creds.kept
        ? pulumi.secret(creds.values[KAFKA_SECRET_KEYS.clientPasswords].apply((p) => p.split(",")[i]))
        : creds.values[clientPasswordKey(u)],
    );

    this.release = deployService(name, this, platform, {
      service: "kafka",
      releaseName: this.releaseName,
      chart: CHARTS.kafka,
      chartSource: config.chart,
      values: kafkaValues(config, platform, secretName, this.releaseName),
      secret: creds.resource,
      network: {
        ports: [KAFKA_PORTS.client],
        peerPorts: [KAFKA_PORTS.controller, KAFKA_PORTS.interbroker],
        metricsPorts: [KAFKA_PORTS.exporter, KAFKA_PORTS.jmx],
      },
      backup: config.backup.enabled
        ? {
            config: config.backup,
            // The server image carries kafka-topics.sh and kafka-configs.sh of the same version.
            image: bitnamiImage(config.images.kafka, "kafka"),
            defaultTag: KAFKA_IMAGE_TAG,
            env: [
              { name: "KAFKA_BOOTSTRAP", value: `${this.releaseName}:${KAFKA_PORTS.client}` },
              { name: "KAFKA_SECURITY_PROTOCOL", value: "SASL_PLAINTEXT" },
              { name: "KAFKA_SASL_MECHANISM", value: config.sasl.clientMechanism },
              // Read-only: it describes topics and their configs (a restore needs the admin's login).
              { name: "KAFKA_USER", value: KAFKA_OBSERVER_USER },
              secretEnv("KAFKA_PASSWORD", secretName, KAFKA_SECRET_KEYS.systemUser),
            ],
            drill: {
              image: imageReference(bitnamiImage(config.images.kafka, "kafka"), KAFKA_IMAGE_TAG),
              env: [],
              pattern: "kafka-topics-*.txt",
            },
          }
        : undefined,
      alerts: () => kafkaAlertRules(ns, config.nodes),
    });

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
        ? chartUsers.map((u, i) => ({ name: u, password: pulumi.secret(clientPasswords[i]) }))
        : [],
      scramMechanism,
      observer: KAFKA_OBSERVER_USER,
    };
    this.ready = [this.release, creds.resource];
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
