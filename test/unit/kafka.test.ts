/**
 * The Kafka component as the program registers it under mocks (dev and prod stacks, and config
 * variants): chart, sizes, SASL, credentials, backup job, network policy, alerts and external mode.
 * Derivations are in kafka-values.test.ts, the backup script in kafka-backup.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupScript } from "../../components/shared/backup";
import { assertKnownKeys, isSecretInput, leakedPasswords } from "../support/assert-helpers";
import { byType, ProgramRun, RegisteredResource, releaseValues, runError, runOk } from "../support/program";
import { ALL_EXTERNAL } from "../support/unit-runs";
import { backupJob, releaseNamed, secretNamed } from "../support/unit-resources";
import { KAFKA_KEYS, KAFKA_MAP_KEYS } from "./chart-keys";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped here */

function scramUsers(run: ProgramRun): RegisteredResource | undefined {
  return byType(run, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "kafka-scram-users");
}

function env(container: any, name: string): any {
  return container.env.find((e: { name: string }) => e.name === name);
}

describe("Kafka component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/kafka 26.11.4 by OCI", () => {
    const rel = releaseNamed(prod, "kafka")!;
    assert.equal(rel.inputs.chart, "oci://registry-1.docker.io/bitnamicharts/kafka");
    assert.equal(rel.inputs.version, "26.11.4");
    assert.equal(rel.inputs.atomic, true);
    assert.equal(rel.inputs.namespace, "ai-platform-data");
  });

  it("sets only keys the pinned chart reads", () => {
    assertKnownKeys(releaseValues(prod, "/kafka"), KAFKA_KEYS, KAFKA_MAP_KEYS);
    assertKnownKeys(releaseValues(dev, "/kafka"), KAFKA_KEYS, KAFKA_MAP_KEYS);
  });

  it("runs three combined KRaft nodes with the prod sizes of the design", () => {
    const v = releaseValues(prod, "/kafka") as any;
    assert.equal(v.kraft.enabled, true);
    assert.equal(v.zookeeper.enabled, false);
    assert.equal(v.controller.replicaCount, 3);
    assert.equal(v.controller.controllerOnly, false);
    assert.equal(v.broker.replicaCount, 0);
    assert.equal(v.controller.persistence.enabled, true);
    assert.equal(v.controller.persistence.size, "20Gi");
    assert.equal(v.controller.persistence.storageClass, "ssd");
    assert.deepEqual(v.controller.resources, {
      requests: { cpu: "1", memory: "2Gi" },
      limits: { cpu: "2", memory: "4Gi" },
    });
    assert.equal(v.controller.heapOpts, "-Xmx2048m -Xms2048m");
    assert.equal(v.controller.pdb.create, true);
    assert.match(v.extraConfig, /^default\.replication\.factor=3$/m);
    assert.match(v.extraConfig, /^min\.insync\.replicas=2$/m);
    assert.match(v.extraConfig, /^offsets\.topic\.replication\.factor=3$/m);
    assert.match(v.extraConfig, /^transaction\.state\.log\.replication\.factor=3$/m);
    assert.match(v.extraConfig, /^auto\.create\.topics\.enable=false$/m);
    assert.equal(v.provisioning.enabled, false);
    assert.equal(v.networkPolicy.enabled, false);
  });

  it("sizes the dev cluster down to one node that can still create its internal topics", () => {
    const v = releaseValues(dev, "/kafka") as any;
    assert.equal(v.controller.replicaCount, 1);
    assert.equal(v.controller.heapOpts, "-Xmx512m -Xms512m");
    assert.equal(v.controller.persistence.size, "2Gi");
    assert.equal(v.controller.persistence.storageClass, "");
    assert.equal(v.controller.pdb.create, false);
    assert.match(v.extraConfig, /^offsets\.topic\.replication\.factor=1$/m);
    assert.match(v.extraConfig, /^transaction\.state\.log\.min\.isr=1$/m);
    assert.equal(v.metrics.serviceMonitor.enabled, false);
  });

  it("pulls every image from bitnamilegacy with the chart's tags, and turns both exporters on", () => {
    const v = releaseValues(prod, "/kafka") as any;
    assert.deepEqual(v.image, { registry: "docker.io", repository: "bitnamilegacy/kafka" });
    assert.equal(v.metrics.kafka.image.repository, "bitnamilegacy/kafka-exporter");
    assert.equal(v.metrics.jmx.image.repository, "bitnamilegacy/jmx-exporter");
    assert.equal(v.volumePermissions.image.repository, "bitnamilegacy/os-shell");
    assert.equal(v.externalAccess.autoDiscovery.image.repository, "bitnamilegacy/kubectl");
    assert.equal(v.metrics.kafka.enabled, true);
    assert.equal(v.metrics.jmx.enabled, true);
    assert.ok(v.metrics.kafka.resources.limits.memory, "kafka-exporter has no memory limit");
    assert.ok(v.metrics.jmx.resources.limits.memory, "JMX exporter has no memory limit");
    assert.equal(v.metrics.serviceMonitor.enabled, true);
    assert.deepEqual(v.metrics.serviceMonitor.labels, { release: "prometheus" });
  });

  it("honours an image override per image", () => {
    const run = runOk("dev", {
      "ai-platform-data:kafka": {
        nodes: 1,
        images: { kafka: { registry: "mirror.example.com", repository: "vendor/kafka", tag: "3.6.1-x" } },
      },
    });
    const v = releaseValues(run, "/kafka") as any;
    assert.deepEqual(v.image, { registry: "mirror.example.com", repository: "vendor/kafka", tag: "3.6.1-x" });
    const c = backupJob(run, "kafka").container;
    assert.equal(c.image, "mirror.example.com/vendor/kafka:3.6.1-x");
  });

  it("puts SASL on every listener, PLAIN only for the controller", () => {
    const v = releaseValues(prod, "/kafka") as any;
    assert.deepEqual(v.listeners, {
      client: { protocol: "SASL_PLAINTEXT" },
      controller: { protocol: "SASL_PLAINTEXT" },
      interbroker: { protocol: "SASL_PLAINTEXT" },
    });
    assert.equal(v.sasl.enabledMechanisms, "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN");
    assert.equal(v.sasl.interBrokerMechanism, "SCRAM-SHA-512");
    assert.equal(v.sasl.controllerMechanism, "PLAIN");
    // The chart's client users: config's, then the read-only login of the exporter and backup job.
    assert.deepEqual(v.sasl.client.users, ["admin", "app", "kafka_observer"]);
    assert.match(
      v.extraConfig,
      /^listener\.name\.client\.sasl\.enabled\.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256$/m,
    );
    assert.match(v.extraConfig, /^listener\.name\.internal\.sasl\.enabled\.mechanisms=SCRAM-SHA-512$/m);
  });

  it("reads passwords from the credentials Secret, never from values", () => {
    const v = releaseValues(prod, "/kafka") as any;
    assert.equal(v.sasl.existingSecret, "kafka-credentials");
    assert.equal(v.sasl.client.passwords, undefined);
    assert.equal(v.sasl.interbroker, undefined);
    assert.equal(v.sasl.controller, undefined);
    const secret = secretNamed(prod, "kafka-credentials")!;
    const data = secret.inputs.stringData as Record<string, string>;
    const keys = Object.keys(data).sort();
    assert.deepEqual(keys, [
      "client-password-admin",
      "client-password-app",
      "client-password-kafka_observer",
      "client-passwords",
      "controller-password",
      "inter-broker-password",
      "system-user-password",
    ]);
    for (const k of keys) assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
    // The chart splits client-passwords on commas in sasl.client.users order.
    assert.equal(
      data["client-passwords"],
      `${data["client-password-admin"]},${data["client-password-app"]},${data["client-password-kafka_observer"]}`,
    );
    // What the chart hands the exporter: the observer's password, never the admin's.
    assert.equal(data["system-user-password"], data["client-password-kafka_observer"]);
    assert.notEqual(data["system-user-password"], data["client-password-admin"]);
    assert.notEqual(data["client-password-admin"], data["client-password-app"]);
    assert.notEqual(data["inter-broker-password"], data["controller-password"]);
    const rel = releaseNamed(prod, "kafka")!;
    assert.deepEqual(leakedPasswords({ resources: [rel], outputs: {} }), []);
  });

  it("leaks no generated password outside Secret data", () => {
    const mine = (run: ProgramRun) =>
      leakedPasswords(run).filter((hit) => / kafka[-:]/.test(hit) || hit.includes("Kafka"));
    assert.deepEqual(mine(prod), []);
    assert.deepEqual(mine(dev), []);
    assert.equal(prod.outputs.connectionStrings.secret, true);
    assert.equal(prod.outputs.endpoints.secret, false);
    assert.equal(
      (prod.outputs.endpoints.value as any).kafka,
      "kafka.ai-platform-data.svc.cluster.local:9092",
    );
  });

  it("backs up topic layout and configs on the configured schedule, password by secretKeyRef", () => {
    const { spec, container: c } = backupJob(prod, "kafka");
    assert.equal(spec.schedule, "45 2 * * *");
    assert.equal(c.image, "docker.io/bitnamilegacy/kafka:3.6.1-debian-12-r12");
    // The backup mode of components/backup/kafka.sh (no argument); what it writes: "Kafka backup script".
    assert.deepEqual(c.command, ["/bin/sh", "-c", backupScript("kafka")]);
    assert.equal(env(c, "RETENTION_DAYS").value, "30");
    assert.equal(env(c, "KAFKA_BOOTSTRAP").value, "kafka:9092");
    assert.equal(env(c, "KAFKA_SASL_MECHANISM").value, "SCRAM-SHA-512");
    assert.equal(env(c, "KAFKA_USER").value, "kafka_observer");
    assert.deepEqual(env(c, "KAFKA_PASSWORD").valueFrom, {
      secretKeyRef: { name: "kafka-credentials", key: "system-user-password" },
    });
    const secretKeys = Object.keys(secretNamed(prod, "kafka-credentials")!.inputs.stringData as object);
    assert.ok(secretKeys.includes(env(c, "KAFKA_PASSWORD").valueFrom.secretKeyRef.key));
    const pvc = byType(prod, "kubernetes:core/v1:PersistentVolumeClaim").find(
      (p) => p.name === "kafka-backup-pvc",
    )!;
    assert.equal((pvc.inputs.spec as any).resources.requests.storage, "1Gi");
  });

  it("opens the client port to the allowed pods, the controller and inter-broker ports to the brokers only", () => {
    const np = byType(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
      (n) => n.name === "kafka-network-policy",
    )!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector.matchLabels, { "app.kubernetes.io/instance": "kafka" });
    assert.deepEqual(
      spec.ingress[0].ports.map((p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`),
      ["9092/TCP"],
    );
    // The listeners the brokers and controllers talk to each other on: from Kafka's own pods alone.
    assert.deepEqual(spec.ingress[1], {
      from: [{ podSelector: { matchLabels: { "app.kubernetes.io/instance": "kafka" } } }],
      ports: [
        { port: 9093, protocol: "TCP" },
        { port: 9094, protocol: "TCP" },
      ],
    });
    assert.ok(
      spec.ingress[0].from.some(
        (f: any) => f.podSelector?.matchLabels?.["ai-platform.io/backup-for"] === "kafka",
      ),
    );
  });

  it("alerts on consumer lag, replication, leaderless partitions, the controller, brokers and disk", () => {
    const rule = byType(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").find(
      (r) => (r.inputs.metadata as { name: string }).name === "kafka-alerts",
    )!;
    const rules = (rule.inputs.spec as any).groups[0].rules as { alert: string; expr: string }[];
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    // The backup alerts of every service (backup-alerts.ts, tested with promtool) come after its own.
    assert.deepEqual(Object.keys(byName).sort(), [
      "BackupFailed",
      "BackupMissing",
      "BackupUploadFailed",
      "KafkaBrokersMissing",
      "KafkaConsumerLag",
      "KafkaNoActiveController",
      "KafkaOfflinePartitions",
      "KafkaUnderReplicatedPartitions",
      "RestoreDrillFailed",
      "kafkaVolumeAlmostFull",
    ]);
    assert.match(byName.KafkaConsumerLag, /sum by \(consumergroup, topic\) \(kafka_consumergroup_lag\{/);
    assert.match(byName.KafkaUnderReplicatedPartitions, /kafka_topic_partition_under_replicated_partition\{/);
    assert.match(
      byName.KafkaOfflinePartitions,
      /kafka_controller_kafkacontroller_offlinepartitionscount_value/,
    );
    assert.match(byName.KafkaBrokersMissing, /max\(kafka_brokers\{namespace="ai-platform-data"\}\) < 3/);
    assert.match(byName.kafkaVolumeAlmostFull, /kubelet_volume_stats_available_bytes/);
    const devRules = byType(dev, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").filter(
      (r) => (r.inputs.metadata as { name: string }).name === "kafka-alerts",
    );
    assert.equal(devRules.length, 0);
  });

  it("gives applications the app user, the in-cluster bootstrap and Kafka's mechanism name", () => {
    const creds = secretNamed(prod, "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["kafka-brokers"], "kafka.ai-platform-data.svc.cluster.local:9092");
    assert.equal(data["kafka-sasl-mechanism"], "SCRAM-SHA-512");
    assert.equal(data["kafka-username"], "app");
    const own = secretNamed(prod, "kafka-credentials")!.inputs.stringData as Record<string, string>;
    assert.equal(data["kafka-password"], own["client-password-app"]);
    assert.ok(isSecretInput(creds, "stringData.kafka-password"));
  });

  it("deploys nothing in external mode and hands out the configured brokers", () => {
    // Every service external in one run, shared with the other components' files.
    const run = runOk("dev", ALL_EXTERNAL);
    assert.equal(releaseNamed(run, "kafka"), undefined);
    assert.equal(secretNamed(run, "kafka-credentials"), undefined);
    assert.equal(
      byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === "kafka-backup-cronjob"),
      undefined,
    );
    assert.equal(
      byType(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
        (n) => n.name === "kafka-network-policy",
      ),
      undefined,
    );
    // The first user is the configured one; the initialiser creates `app` with a generated password.
    const data = secretNamed(run, "db-credentials")!.inputs.stringData as Record<string, string>;
    assert.equal(data["kafka-brokers"], "k1.example.com:9092,k2.example.com:9092");
    assert.equal(data["kafka-username"], "app");
    assert.equal(data["kafka-password"], "MOCKSECRETkafkaclientpasswordapp");
    const users = scramUsers(run)!;
    assert.equal(users.inputs.username, "admin");
    assert.equal(users.inputs.password, "external-kafka-pw");
    assert.deepEqual(users.inputs.users, [{ name: "app", mechanism: "SCRAM-SHA-512" }]);
    assert.deepEqual(users.inputs.userPasswords, { app: "MOCKSECRETkafkaclientpasswordapp" });
    assert.ok(isSecretInput(users, "userPasswords.app") && isSecretInput(users, "password"));
    assert.equal((run.outputs.endpoints.value as any).kafka, "k1.example.com:9092,k2.example.com:9092");

    // With only the configured user there is nothing to create: applications share it.
    const single = runOk("dev", {
      "ai-platform-data:kafka": {
        mode: "external",
        endpoint: { brokers: ["k1.example.com:9092"] },
        clientUsers: ["admin"],
      },
      "ai-platform-data:kafkaPassword": "external-kafka-pw",
    });
    assert.equal(scramUsers(single), undefined);
    const only = secretNamed(single, "db-credentials")!.inputs.stringData as Record<string, string>;
    assert.equal(only["kafka-username"], "admin");
    assert.equal(only["kafka-password"], "external-kafka-pw");
  });

  it("keeps every client user on the running cluster through the SCRAM users initialiser", () => {
    const run = runOk("dev", { "ai-platform-data:kafka": { clientUsers: ["admin", "app", "etl"] } });
    const users = scramUsers(run)!;
    assert.deepEqual(
      users.inputs.users,
      ["admin", "app", "etl", "kafka_observer"].map((name) => ({ name, mechanism: "SCRAM-SHA-512" })),
    );
    assert.deepEqual(users.inputs.userPasswords, {
      admin: "MOCKSECRETkafkaclientpasswordadmin",
      app: "MOCKSECRETkafkaclientpasswordapp",
      etl: "MOCKSECRETkafkaclientpasswordetl",
      kafka_observer: "MOCKSECRETkafkaclientpasswordkafkaobserver",
    });
    assert.equal(users.inputs.iterations, 8192);
    for (const u of ["admin", "app", "etl", "kafka_observer"]) {
      assert.ok(isSecretInput(users, `userPasswords.${u}`));
    }
    // PLAIN clients have no SCRAM credentials to keep.
    const plain = runOk("dev", {
      "ai-platform-data:kafka": {
        sasl: { enabledMechanisms: ["PLAIN", "SCRAM-SHA-512"], clientMechanism: "PLAIN" },
      },
    });
    assert.equal(scramUsers(plain), undefined);
  });

  it("refuses an inter-broker mechanism the listeners do not enable, before deploying anything", () => {
    const message = runError("dev", {
      "ai-platform-data:kafka": {
        sasl: {
          enabledMechanisms: ["SCRAM-SHA-256"],
          clientMechanism: "SCRAM-SHA-256",
          interBrokerMechanism: "SCRAM-SHA-512",
        },
      },
    });
    assert.match(
      message,
      /kafka\.sasl\.interBrokerMechanism "SCRAM-SHA-512" is not in kafka\.sasl\.enabledMechanisms/,
    );
  });
});
