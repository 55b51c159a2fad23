import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { kafkaAppUser, kafkaConfigProblems, kafkajsMechanism } from "../../components/kafka";
import {
  kafkaHeapOpts,
  kafkaReplication,
  kafkaSaslPlan,
  kafkaServerSettings,
  renderProperties,
} from "../../components/kafka/values";
import { BACKUP_SCRIPTS_DIR, backupScript } from "../../components/shared/backup";
import { KAFKA_MECHANISMS } from "../../config";
import { assertKnownKeys, isSecretInput, leakedPasswords } from "../support/assert-helpers";
import { byType, ProgramRun, RegisteredResource, releaseValues, runError, runOk } from "../support/program";
import { KAFKA_KEYS } from "./chart-keys";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped here */

type Mechanism = (typeof KAFKA_MECHANISMS)[number];

function secretNamed(run: ProgramRun, name: string): RegisteredResource | undefined {
  return byType(run, "kubernetes:core/v1:Secret").find(
    (s) => (s.inputs.metadata as { name: string }).name === name,
  );
}

function scramUsers(run: ProgramRun): RegisteredResource | undefined {
  return byType(run, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "kafka-scram-users");
}

function kafkaRelease(run: ProgramRun): RegisteredResource | undefined {
  return byType(run, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === "kafka");
}

function env(container: any, name: string): any {
  return container.env.find((e: { name: string }) => e.name === name);
}

/** The mechanism the chart's kafka-exporter picks (_helpers.tpl kafka.metrics.kafka.saslMechanism). */
function exporterMechanism(chartList: string): string {
  for (const m of ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]) if (chartList.includes(m)) return m;
  return "";
}

describe("Kafka component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/kafka 26.11.4 by OCI", () => {
    const rel = kafkaRelease(prod)!;
    assert.equal(rel.inputs.chart, "oci://registry-1.docker.io/bitnamicharts/kafka");
    assert.equal(rel.inputs.version, "26.11.4");
    assert.equal(rel.inputs.atomic, true);
    assert.equal(rel.inputs.namespace, "ai-platform-data");
  });

  it("sets only keys the pinned chart reads", () => {
    assertKnownKeys(releaseValues(prod, "/kafka"), KAFKA_KEYS, ["metrics.serviceMonitor.labels"]);
    assertKnownKeys(releaseValues(dev, "/kafka"), KAFKA_KEYS, ["metrics.serviceMonitor.labels"]);
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
    const job = byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === "kafka-backup-cronjob")!;
    const c = (job.inputs.spec as any).jobTemplate.spec.template.spec.containers[0];
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
    assert.deepEqual(v.sasl.client.users, ["admin", "app"]);
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
      "client-passwords",
      "controller-password",
      "inter-broker-password",
      "system-user-password",
    ]);
    for (const k of keys) assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
    // The chart splits client-passwords on commas in sasl.client.users order.
    assert.equal(data["client-passwords"], `${data["client-password-admin"]},${data["client-password-app"]}`);
    assert.equal(data["system-user-password"], data["client-password-admin"]);
    assert.notEqual(data["client-password-admin"], data["client-password-app"]);
    assert.notEqual(data["inter-broker-password"], data["controller-password"]);
    const rel = kafkaRelease(prod)!;
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
    const job = byType(prod, "kubernetes:batch/v1:CronJob").find((j) => j.name === "kafka-backup-cronjob")!;
    const spec = job.inputs.spec as any;
    assert.equal(spec.schedule, "45 2 * * *");
    const c = spec.jobTemplate.spec.template.spec.containers[0];
    assert.equal(c.image, "docker.io/bitnamilegacy/kafka:3.6.1-debian-12-r12");
    // The backup mode of components/backup/kafka.sh (no argument); what it writes: "Kafka backup script".
    assert.deepEqual(c.command, ["/bin/sh", "-c", backupScript("kafka")]);
    assert.equal(env(c, "RETENTION_DAYS").value, "30");
    assert.equal(env(c, "KAFKA_BOOTSTRAP").value, "kafka:9092");
    assert.equal(env(c, "KAFKA_SASL_MECHANISM").value, "SCRAM-SHA-512");
    assert.equal(env(c, "KAFKA_USER").value, "admin");
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

  it("opens client, controller, inter-broker and exporter ports to the allowed pods only", () => {
    const np = byType(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
      (n) => n.name === "kafka-network-policy",
    )!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector.matchLabels, { "app.kubernetes.io/instance": "kafka" });
    assert.deepEqual(
      spec.ingress[0].ports.map((p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`),
      ["9092/TCP", "9093/TCP", "9094/TCP", "9308/TCP", "5556/TCP"],
    );
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
    assert.deepEqual(Object.keys(byName).sort(), [
      "KafkaBrokersMissing",
      "KafkaConsumerLag",
      "KafkaNoActiveController",
      "KafkaOfflinePartitions",
      "KafkaUnderReplicatedPartitions",
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
    const run = runOk("dev", {
      "ai-platform-data:kafka": {
        mode: "external",
        endpoint: { brokers: ["k1.example.com:9092", "k2.example.com:9092"] },
      },
      "ai-platform-data:kafkaPassword": "external-kafka-pw",
    });
    assert.equal(kafkaRelease(run), undefined);
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
      ["admin", "app", "etl"].map((name) => ({ name, mechanism: "SCRAM-SHA-512" })),
    );
    assert.deepEqual(users.inputs.userPasswords, {
      admin: "MOCKSECRETkafkaclientpasswordadmin",
      app: "MOCKSECRETkafkaclientpasswordapp",
      etl: "MOCKSECRETkafkaclientpasswordetl",
    });
    assert.equal(users.inputs.iterations, 8192);
    for (const u of ["admin", "app", "etl"]) assert.ok(isSecretInput(users, `userPasswords.${u}`));
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

describe("Kafka derivations", () => {
  it("derives the heap as half the memory limit unless heapOpts is set", () => {
    const resources = (memory: string) => ({
      requests: { cpu: "1", memory: "256Mi" },
      limits: { cpu: "1", memory },
    });
    for (const [limit, heap] of [
      ["1Gi", 512],
      ["4Gi", 2048],
      ["768Mi", 384],
      ["1001Mi", 500],
    ] as const) {
      assert.equal(kafkaHeapOpts({ resources: resources(limit) }), `-Xmx${heap}m -Xms${heap}m`, limit);
    }
    assert.equal(kafkaHeapOpts({ heapOpts: "-Xmx3g -Xms1g", resources: resources("8Gi") }), "-Xmx3g -Xms1g");
  });

  it("replicates three times from three nodes and needs two in sync there", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), (nodes) => {
        const r = kafkaReplication(nodes);
        return (
          r.replicationFactor <= nodes &&
          r.minInsyncReplicas <= r.replicationFactor &&
          // One node may fail and writes still meet min.insync.replicas.
          (nodes < 3 || r.minInsyncReplicas < r.replicationFactor)
        );
      }),
    );
    assert.deepEqual(kafkaReplication(1), { replicationFactor: 1, minInsyncReplicas: 1 });
    assert.deepEqual(kafkaReplication(2), { replicationFactor: 2, minInsyncReplicas: 1 });
    assert.deepEqual(kafkaReplication(3), { replicationFactor: 3, minInsyncReplicas: 2 });
    assert.deepEqual(kafkaReplication(7), { replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it("adds PLAIN for the controller without offering it to clients, and the exporter's pick stays allowed", () => {
    const mechanisms = fc.uniqueArray(fc.constantFrom<Mechanism>(...KAFKA_MECHANISMS), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(mechanisms, fc.nat(), (enabled, i) => {
        const interBrokerMechanism = enabled[i % enabled.length];
        const plan = kafkaSaslPlan({
          enabledMechanisms: enabled,
          clientMechanism: enabled[0],
          interBrokerMechanism,
        });
        const chart = plan.chart.split(",");
        const client = plan.client.split(",");
        return (
          chart.includes("PLAIN") &&
          chart.includes(plan.controller) &&
          chart.includes(plan.interBroker) &&
          enabled.every((m) => chart.includes(m)) &&
          new Set(chart).size === chart.length &&
          client.length === enabled.length &&
          client.every((m) => (enabled as string[]).includes(m)) &&
          client.includes(exporterMechanism(plan.chart))
        );
      }),
    );
    const settings = kafkaServerSettings({
      nodes: 1,
      sasl: { enabledMechanisms: ["PLAIN"], clientMechanism: "PLAIN", interBrokerMechanism: "PLAIN" },
    });
    assert.equal(settings["listener.name.client.sasl.enabled.mechanisms"], "PLAIN");
  });

  it("renders properties one per line", () => {
    assert.equal(renderProperties({ "a.b": "1", c: "x,y" }), "a.b=1\nc=x,y");
  });

  it("names contradictory SASL settings and user names", () => {
    const sasl = {
      enabledMechanisms: ["SCRAM-SHA-512"] as Mechanism[],
      clientMechanism: "SCRAM-SHA-512" as Mechanism,
      interBrokerMechanism: "SCRAM-SHA-512" as Mechanism,
    };
    assert.deepEqual(kafkaConfigProblems({ sasl, clientUsers: ["admin", "app"] }), []);
    assert.match(
      kafkaConfigProblems({
        sasl: { ...sasl, interBrokerMechanism: "PLAIN" },
        clientUsers: ["admin"],
      }).join(),
      /interBrokerMechanism "PLAIN" is not in kafka\.sasl\.enabledMechanisms \(SCRAM-SHA-512\)/,
    );
    assert.match(kafkaConfigProblems({ sasl, clientUsers: ["a", "b", "a"] }).join(), /"a" appears twice/);
    assert.match(
      kafkaConfigProblems({ sasl, clientUsers: ["admin", "controller_user"] }).join(),
      /"controller_user" is the chart's internal user/,
    );
  });

  it("spells mechanisms for kafkajs and picks the app user", () => {
    assert.equal(kafkajsMechanism("SCRAM-SHA-512"), "scram-sha-512");
    assert.equal(kafkajsMechanism("PLAIN"), "plain");
    assert.equal(kafkaAppUser(["admin", "app", "other"]), "app");
    assert.equal(kafkaAppUser(["admin"]), "admin");
  });
});

describe("Kafka backup script", () => {
  /** A fake Kafka bin directory: the tools print their arguments and the client properties they got. */
  function fakeKafkaBin(dir: string): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const tool = (topicLine: string) =>
      [
        "#!/bin/sh",
        topicLine,
        'echo "args: $*"',
        'while [ $# -gt 0 ]; do if [ "$1" = "--command-config" ]; then echo "props: $2"; cat "$2"; fi; shift; done',
        "",
      ].join("\n");
    fs.writeFileSync(
      path.join(bin, "kafka-topics.sh"),
      tool('printf "Topic: t1\\tTopicId: x\\n\\tTopic: t1\\tPartition: 0\\n"'),
      {
        mode: 0o755,
      },
    );
    fs.writeFileSync(path.join(bin, "kafka-configs.sh"), tool(":"), { mode: 0o755 });
    return bin;
  }

  function runScript(dir: string, extra: Record<string, string>) {
    return spawnSync("sh", [path.join(BACKUP_SCRIPTS_DIR, "kafka.sh")], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        BACKUP_DIR: path.join(dir, "out"),
        RETENTION_DAYS: "30",
        KAFKA_BIN: path.join(dir, "bin"),
        KAFKA_BOOTSTRAP: "localhost:19092",
        KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        KAFKA_USER: "admin",
        KAFKA_PASSWORD: 'p\\a"ss',
        ...extra,
      },
    });
  }

  it("writes a timestamped text file with both descriptions, outside Kubernetes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-backup-"));
    try {
      fakeKafkaBin(dir);
      const out = path.join(dir, "out");
      fs.mkdirSync(out);
      const old = path.join(out, "kafka-topics-20000101T000000Z.txt");
      fs.writeFileSync(old, "old");
      execFileSync("touch", ["-d", "40 days ago", old]);
      const keep = path.join(out, "kafka-topics-20000102T000000Z.txt");
      fs.writeFileSync(keep, "recent");

      const r = runScript(dir, {});
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^backup written: .*kafka-topics-\d{8}T\d{6}Z\.txt \(1 topics, \d+ bytes\)$/m);
      const files = fs.readdirSync(out).sort();
      assert.ok(!files.some((f) => f.endsWith(".partial")), "a .partial file was left behind");
      assert.ok(!fs.existsSync(old), "the 40-day-old backup was not pruned");
      assert.ok(fs.existsSync(keep), "a recent backup was pruned");
      const written = files.filter(
        (f) => /^kafka-topics-\d{8}T\d{6}Z\.txt$/.test(f) && f !== path.basename(keep),
      );
      assert.equal(written.length, 1);
      const text = fs.readFileSync(path.join(out, written[0]), "utf8");
      assert.match(text, /--bootstrap-server localhost:19092 --command-config \S+ --describe$/m);
      assert.match(text, /--describe --entity-type topics --all$/m);
      assert.match(text, /^security\.protocol=SASL_PLAINTEXT$/m);
      assert.match(text, /^sasl\.mechanism=SCRAM-SHA-512$/m);
      const jaas =
        /^sasl\.jaas\.config=org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule required username="admin" password="(.*)";$/m.exec(
          text,
        );
      assert.ok(jaas, "no SCRAM JAAS line");
      // Java properties, then the JAAS parser, each turn \x into x.
      const unescape = (s: string) => s.replace(/\\(.)/g, "$1");
      assert.equal(unescape(unescape(jaas[1])), 'p\\a"ss');
      // The properties file with the password is gone once the script ends.
      const props = /^props: (\S+)$/m.exec(text)![1];
      assert.ok(!fs.existsSync(props), "the client properties file was left behind");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails on an unknown mechanism without writing a backup", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kafka-backup-"));
    try {
      fakeKafkaBin(dir);
      fs.mkdirSync(path.join(dir, "out"));
      const r = runScript(dir, { KAFKA_SASL_MECHANISM: "GSSAPI" });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /KAFKA_SASL_MECHANISM "GSSAPI" is not supported/);
      assert.deepEqual(fs.readdirSync(path.join(dir, "out")), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
