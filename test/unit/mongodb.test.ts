/**
 * The MongoDB component as the program registers it under mocks (dev and prod stacks, and config
 * variants): chart, members, users and credentials, backup job, network policy, alerts and external mode.
 * Derivations are in mongodb-values.test.ts, the backup script in mongodb-backup.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertKnownKeys, isSecretInput, leakedPasswords } from "../support/assert-helpers";
import { byType, releaseValues, runError, runOk } from "../support/program";
import { ALL_EXTERNAL } from "../support/unit-runs";
import { backupJob, releaseNamed, secretNamed } from "../support/unit-resources";
import { MONGODB_KEYS } from "./chart-keys";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- values and k8s objects are untyped input
type Any = any;

/** prod's three members, by their StatefulSet pod names under the headless Service. */
const PROD_HOSTS = [
  "mongodb-0.mongodb-headless.ai-platform-data.svc.cluster.local:27017",
  "mongodb-1.mongodb-headless.ai-platform-data.svc.cluster.local:27017",
  "mongodb-2.mongodb-headless.ai-platform-data.svc.cluster.local:27017",
];

const MAP_KEYS = ["metrics.serviceMonitor.labels"];

describe("MongoDB component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/mongodb 13.18.5 by OCI", () => {
    const rel = releaseNamed(prod, "mongodb")!;
    assert.equal(rel.inputs.chart, "oci://registry-1.docker.io/bitnamicharts/mongodb");
    assert.equal(rel.inputs.version, "13.18.5");
    assert.equal(rel.inputs.atomic, true);
    assert.equal(rel.inputs.namespace, "ai-platform-data");
  });

  it("sets only keys the pinned chart reads", () => {
    assertKnownKeys(releaseValues(prod, "/mongodb"), MONGODB_KEYS, MAP_KEYS);
    assertKnownKeys(releaseValues(dev, "/mongodb"), MONGODB_KEYS, MAP_KEYS);
  });

  it("deploys prod as three data-bearing members without an arbiter, at the design's sizes", () => {
    const v = releaseValues(prod, "/mongodb") as Any;
    assert.equal(v.architecture, "replicaset");
    assert.equal(v.replicaCount, 3);
    assert.equal(v.arbiter.enabled, false);
    assert.equal(v.replicaSetName, "rs0");
    assert.deepEqual(v.persistence, { enabled: true, size: "20Gi", storageClass: "ssd" });
    const resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } };
    assert.deepEqual(v.resources, resources);
    assert.deepEqual(v.arbiter.resources, resources);
    assert.ok(v.metrics.resources.limits.memory, "the exporter sidecar has explicit limits");
    assert.deepEqual(v.extraFlags, ["--wiredTigerCacheSizeGB=0.5"]);
    assert.equal(v.backup.enabled, false);
  });

  it("deploys dev as a one-member replica set", () => {
    const v = releaseValues(dev, "/mongodb") as Any;
    assert.equal(v.architecture, "replicaset");
    assert.equal(v.replicaCount, 1);
    assert.equal(v.arbiter.enabled, false);
    assert.equal(v.persistence.size, "2Gi");
    assert.equal(v.persistence.storageClass, "");
    assert.equal(v.metrics.serviceMonitor.enabled, false);
  });

  it("pulls every image from bitnamilegacy, tags unchanged", () => {
    const v = releaseValues(prod, "/mongodb") as Any;
    const images = {
      image: v.image,
      metrics: v.metrics.image,
      volumePermissions: v.volumePermissions.image,
      tls: v.tls.image,
      autoDiscovery: v.externalAccess.autoDiscovery.image,
    };
    assert.deepEqual(images, {
      image: { registry: "docker.io", repository: "bitnamilegacy/mongodb" },
      metrics: { registry: "docker.io", repository: "bitnamilegacy/mongodb-exporter" },
      volumePermissions: { registry: "docker.io", repository: "bitnamilegacy/os-shell" },
      tls: { registry: "docker.io", repository: "bitnamilegacy/nginx" },
      autoDiscovery: { registry: "docker.io", repository: "bitnamilegacy/kubectl" },
    });
  });

  it("takes image overrides from config", () => {
    const run = runOk("dev", {
      "ai-platform-data:mongodb": {
        images: { mongodb: { registry: "mirror.example.com", repository: "db/mongodb", tag: "6.0.10-x" } },
      },
    });
    const v = releaseValues(run, "/mongodb") as Any;
    assert.deepEqual(v.image, { registry: "mirror.example.com", repository: "db/mongodb", tag: "6.0.10-x" });
    const c = backupJob(run, "mongodb").container;
    assert.equal(c.image, "mirror.example.com/db/mongodb:6.0.10-x");
  });

  it("creates root and app users through auth.usernames and reads every password from the Secret", () => {
    const v = releaseValues(prod, "/mongodb") as Any;
    assert.equal(v.auth.enabled, true);
    assert.equal(v.auth.rootUser, "root");
    assert.deepEqual(v.auth.usernames, ["ai_platform"]);
    assert.deepEqual(v.auth.databases, ["ai_platform"]);
    assert.equal(v.auth.existingSecret, "mongodb-credentials");
    for (const k of ["rootPassword", "passwords", "password", "replicaSetKey"]) {
      assert.equal(v.auth[k], undefined, `auth.${k} must not be in values`);
    }
    assert.equal(v.metrics.username, "prometheus_exporter");
    assert.equal(v.metrics.password, undefined);

    const secret = secretNamed(prod, "mongodb-credentials")!;
    const keys = Object.keys(secret.inputs.stringData as object).sort();
    assert.deepEqual(keys, [
      "mongodb-metrics-password",
      "mongodb-passwords",
      "mongodb-replica-set-key",
      "mongodb-root-password",
    ]);
    for (const k of keys) assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
    const data = secret.inputs.stringData as Record<string, string>;
    // One password per auth.usernames entry, and it is the app password.
    assert.equal(data["mongodb-passwords"].split(",").length, v.auth.usernames.length);
    assert.match(data["mongodb-passwords"], /^MOCKSECRETmongodbapppassword$/);
  });

  it("leaks no generated password outside Secret data", () => {
    assert.deepEqual(leakedPasswords(prod), []);
    assert.deepEqual(leakedPasswords(dev), []);
  });

  it("gives applications the app user, never root, with the replica set and authSource", () => {
    const creds = secretNamed(prod, "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    const hosts = PROD_HOSTS.join(",");
    assert.equal(
      data["mongodb-uri"],
      `mongodb://ai_platform:MOCKSECRETmongodbapppassword@${hosts}/ai_platform?authSource=ai_platform&replicaSet=rs0`,
    );
    assert.equal(data["mongodb-username"], "ai_platform");
    assert.equal(data["mongodb-password"], "MOCKSECRETmongodbapppassword");
    assert.equal(data["mongodb-database"], "ai_platform");
    for (const k of ["mongodb-uri", "mongodb-password"]) {
      assert.ok(isSecretInput(creds, `stringData.${k}`), `${k} is not a Pulumi secret`);
    }
    assert.equal(prod.outputs.endpoints.secret, false);
    assert.equal((prod.outputs.endpoints.value as Any).mongodb, hosts);
    assert.equal(prod.outputs.connectionStrings.secret, true);
    assert.equal((prod.outputs.connectionStrings.value as Any).mongodb, data["mongodb-uri"]);
  });

  it("backs up with mongodump --oplog on the configured schedule, password by secretKeyRef", () => {
    const { spec, container: c } = backupJob(prod, "mongodb");
    assert.equal(spec.schedule, "30 2 * * *");
    assert.equal(c.image, "docker.io/bitnamilegacy/mongodb:6.0.10-debian-11-r8");
    assert.match(c.command[2], /mongodump --config=.* --gzip --archive=/);
    const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e]));
    assert.deepEqual(env.MONGODB_PASSWORD.valueFrom, {
      secretKeyRef: { name: "mongodb-credentials", key: "mongodb-root-password" },
    });
    assert.equal(env.MONGODB_PASSWORD.value, undefined);
    assert.equal(env.MONGODB_HOSTS.value, PROD_HOSTS.join(","));
    assert.equal(env.MONGODB_REPLICA_SET.value, "rs0");
    assert.equal(env.MONGODB_USER.value, "root");
    assert.equal(env.MONGODB_AUTH_DB.value, "admin");
    assert.equal(env.RETENTION_DAYS.value, "14");
    const pvc = byType(prod, "kubernetes:core/v1:PersistentVolumeClaim").find(
      (p) => p.name === "mongodb-backup-pvc",
    )!;
    assert.equal((pvc.inputs.spec as Any).resources.requests.storage, "40Gi");
  });

  it("lets clients, members and backup pods in on 27017, Prometheus alone on 9216", () => {
    const np = byType(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
      (n) => (n.inputs.metadata as Any).name === "mongodb-clients",
    )!;
    const spec = np.inputs.spec as Any;
    assert.deepEqual(spec.podSelector, { matchLabels: { "app.kubernetes.io/instance": "mongodb" } });
    assert.deepEqual(
      spec.ingress[0].ports.map((p: Any) => p.port),
      [27017],
    );
    assert.ok(
      spec.ingress[0].from.some(
        (f: Any) => f.podSelector?.matchLabels?.["ai-platform.io/backup-for"] === "mongodb",
      ),
    );
  });

  it("alerts on latency, connections, memory, write queue, replication lag and disk in prod only", () => {
    const rules = byType(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").find(
      (r) => (r.inputs.metadata as Any).name === "mongodb-alerts",
    )!;
    const spec = rules.inputs.spec as Any;
    const exprs = Object.fromEntries(spec.groups[0].rules.map((r: Any) => [r.alert, r.expr]));
    assert.deepEqual(Object.keys(exprs).sort(), [
      "BackupFailed",
      "BackupMissing",
      "BackupUploadFailed",
      "MongodbDown",
      "MongodbHighMemory",
      "MongodbHighOperationLatency",
      "MongodbReplicationLag",
      "MongodbTooManyConnections",
      "MongodbWriteQueue",
      "RestoreDrillFailed",
      "mongodbVolumeAlmostFull",
    ]);
    assert.match(
      exprs.MongodbTooManyConnections,
      /mongodb_connections\{namespace="ai-platform-data",state="current"\}/,
    );
    assert.match(exprs.MongodbReplicationLag, /mongodb_mongod_replset_member_replication_lag/);
    assert.match(
      exprs.MongodbHighMemory,
      /mongodb_memory\{.*type="resident"\}\) \* 1048576 \/ 2147483648 > 0.9/,
    );
    assert.match(exprs.MongodbWriteQueue, /mongodb_mongod_global_lock_current_queue\{.*type="writer"\}/);
    assert.match(exprs.MongodbHighOperationLatency, /mongodb_mongod_op_latencies_latency_total/);
    assert.equal(
      byType(dev, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").filter(
        (r) => (r.inputs.metadata as Any).name === "mongodb-alerts",
      ).length,
      0,
    );
    const v = releaseValues(prod, "/mongodb") as Any;
    assert.equal(v.metrics.enabled, true);
    // The exporter's start script is ours (the chart's puts the password in its arguments).
    assert.match(
      v.metrics.args[0],
      / --compatible-mode /,
      "the rules use the exporter's compatible-mode names",
    );
    assert.deepEqual(v.metrics.serviceMonitor, { enabled: true, labels: { release: "prometheus" } });
  });

  it("deploys nothing in external mode and initialises through the configured seed list", () => {
    // Every service external in one run, shared with the other components' files.
    const run = runOk("dev", ALL_EXTERNAL);
    assert.equal(releaseNamed(run, "mongodb"), undefined);
    assert.equal(secretNamed(run, "mongodb-credentials"), undefined);
    assert.equal(
      byType(run, "kubernetes:batch/v1:CronJob").filter((j) => j.name === "mongodb-backup-cronjob").length,
      0,
    );
    assert.equal((run.outputs.endpoints.value as Any).mongodb, "db1.example.com:27017,db2.example.com:27017");
    const data = secretNamed(run, "db-credentials")!.inputs.stringData as Record<string, string>;
    assert.equal(
      data["mongodb-uri"],
      "mongodb://ai_platform:MOCKSECRETmongodbapppassword@db1.example.com:27017,db2.example.com:27017/ai_platform?authSource=ai_platform&replicaSet=prod&tls=true",
    );
    // Only the initialiser gets the root password, as a secret input (encrypted in state).
    const holders = run.resources.filter((r) => JSON.stringify(r.inputs).includes("EXTERNALROOTPW"));
    assert.deepEqual(
      holders.map((r) => r.name),
      ["mongodb-collections"],
      "the root password reached a resource other than the initialiser",
    );
    assert.ok(isSecretInput(holders[0], "password"), "the initialiser's password input is not a secret");
  });

  it("refuses app user names the chart would split", () => {
    const msg = runError("dev", { "ai-platform-data:mongodb": { appUser: "a,b" } });
    assert.match(msg, /mongodb\.appUser: "a,b" must be 1-64 letters, digits, '_', '-', '\.' or '@'/);
  });
});
