import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import {
  MONGODB_METRICS_USER,
  mongodbHosts,
  mongodbUri,
  mongodbUserProblem,
  wiredTigerCacheSizeGB,
} from "../../components/mongodb";
import { mongodbAlertRules } from "../../components/mongodb/alerts";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { assertKnownKeys, isSecretInput, leakedPasswords } from "../support/assert-helpers";
import { byType, ProgramRun, releaseValues, runError, runOk } from "../support/program";
import { MONGODB_KEYS } from "./chart-keys";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- values and k8s objects are untyped input
type Any = any;

const MAP_KEYS = ["metrics.serviceMonitor.labels"];

function mongoRelease(run: ProgramRun) {
  return byType(run, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === "mongodb");
}

function secretNamed(run: ProgramRun, name: string) {
  return byType(run, "kubernetes:core/v1:Secret").find(
    (s) => (s.inputs.metadata as { name: string }).name === name,
  );
}

describe("MongoDB component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/mongodb 13.18.5 by OCI", () => {
    const rel = mongoRelease(prod)!;
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
    const job = byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === "mongodb-backup-cronjob")!;
    const c = (job.inputs.spec as Any).jobTemplate.spec.template.spec.containers[0];
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
    assert.equal(v.metrics.username, MONGODB_METRICS_USER);
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
    const hosts = mongodbHosts("mongodb", "ai-platform-data", 3).join(",");
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
    const job = byType(prod, "kubernetes:batch/v1:CronJob").find((j) => j.name === "mongodb-backup-cronjob")!;
    const spec = job.inputs.spec as Any;
    assert.equal(spec.schedule, "30 2 * * *");
    const c = spec.jobTemplate.spec.template.spec.containers[0];
    assert.equal(c.image, "docker.io/bitnamilegacy/mongodb:6.0.10-debian-11-r8");
    assert.match(c.command[2], /mongodump --config=.* --gzip --archive=/);
    const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e]));
    assert.deepEqual(env.MONGODB_PASSWORD.valueFrom, {
      secretKeyRef: { name: "mongodb-credentials", key: "mongodb-root-password" },
    });
    assert.equal(env.MONGODB_PASSWORD.value, undefined);
    assert.equal(env.MONGODB_HOSTS.value, mongodbHosts("mongodb", "ai-platform-data", 3).join(","));
    assert.equal(env.MONGODB_REPLICA_SET.value, "rs0");
    assert.equal(env.MONGODB_USER.value, "root");
    assert.equal(env.MONGODB_AUTH_DB.value, "admin");
    assert.equal(env.RETENTION_DAYS.value, "14");
    const pvc = byType(prod, "kubernetes:core/v1:PersistentVolumeClaim").find(
      (p) => p.name === "mongodb-backup-pvc",
    )!;
    assert.equal((pvc.inputs.spec as Any).resources.requests.storage, "40Gi");
  });

  it("lets clients, members, backup pods and Prometheus in on 27017 and 9216 only", () => {
    const np = byType(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
      (n) => (n.inputs.metadata as Any).name === "mongodb-clients",
    )!;
    const spec = np.inputs.spec as Any;
    assert.deepEqual(spec.podSelector, { matchLabels: { "app.kubernetes.io/instance": "mongodb" } });
    assert.deepEqual(
      spec.ingress[0].ports.map((p: Any) => p.port),
      [27017, 9216],
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
      "MongodbDown",
      "MongodbHighMemory",
      "MongodbHighOperationLatency",
      "MongodbReplicationLag",
      "MongodbTooManyConnections",
      "MongodbWriteQueue",
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
    assert.equal(v.metrics.compatibleMode, true, "the rules use the exporter's compatible-mode names");
    assert.deepEqual(v.metrics.serviceMonitor, { enabled: true, labels: { release: "prometheus" } });
  });

  it("deploys nothing in external mode and initialises through the configured seed list", () => {
    const run = runOk("dev", {
      "ai-platform-data:mongodb": {
        mode: "external",
        endpoint: {
          hosts: ["db1.example.com:27017", "db2.example.com:27017"],
          replicaSet: "prod",
          tls: true,
        },
      },
      "ai-platform-data:mongodbPassword": "EXTERNALROOTPW",
    });
    assert.equal(mongoRelease(run), undefined);
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
    assert.match(msg, /mongodb\.appUser: "a,b" contains "," or ";"/);
  });
});

describe("MongoDB derivations", () => {
  it("lists one in-cluster host per data-bearing member", () => {
    assert.deepEqual(mongodbHosts("mongodb", "ns", 2), [
      "mongodb-0.mongodb-headless.ns.svc.cluster.local:27017",
      "mongodb-1.mongodb-headless.ns.svc.cluster.local:27017",
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (n) => {
        const hosts = mongodbHosts("mongodb", "ns", n);
        return (
          hosts.length === n &&
          new Set(hosts).size === n &&
          hosts.every((h) => /^mongodb-\d+\.[^:]+:27017$/.test(h))
        );
      }),
    );
  });

  it("encodes any user and password so the URI gives them back unchanged", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (username, password) => {
        const uri = mongodbUri({
          hosts: ["h1:27017", "h2:27017"],
          username,
          password,
          database: "app",
          authSource: "app",
          replicaSet: "rs0",
        });
        const m =
          /^mongodb:\/\/([^:@/]*):([^:@/]*)@h1:27017,h2:27017\/app\?authSource=app&replicaSet=rs0$/.exec(uri);
        return m !== null && decodeURIComponent(m[1]) === username && decodeURIComponent(m[2]) === password;
      }),
    );
    assert.equal(
      mongodbUri({
        hosts: ["h:1"],
        username: "u",
        password: "p",
        database: "d",
        authSource: "admin",
        directConnection: true,
        tls: false,
      }),
      "mongodb://u:p@h:1/d?authSource=admin&directConnection=true&tls=false",
    );
  });

  it("sizes the WiredTiger cache as MongoDB does, from the container limit", () => {
    // MongoDB's default: 50% of (RAM - 1 GiB), at least 0.25 GiB.
    for (const [limit, expected] of [
      ["1Gi", 0.25],
      ["2Gi", 0.5],
      ["4Gi", 1.5],
      ["1536Mi", 0.25],
      ["3000Mi", 0.96],
    ] as const) {
      assert.equal(wiredTigerCacheSizeGB(limit), expected, limit);
    }
    fc.assert(
      fc.property(fc.integer({ min: 512, max: 1024 * 1024 }), (mi) => {
        const gb = wiredTigerCacheSizeGB(`${mi}Mi`);
        // Never more than MongoDB's own default, never below its floor, two decimals at most.
        return gb >= 0.25 && gb <= Math.max(0.25, (mi / 1024 - 1) / 2) && Number(gb.toFixed(2)) === gb;
      }),
    );
  });

  it("puts the memory limit of the config into the memory alert", () => {
    const rule = mongodbAlertRules("ns", "4Gi").find((r) => r.alert === "MongodbHighMemory")!;
    assert.match(rule.expr, / \/ 4294967296 > 0\.9$/);
  });

  it("names the exporter user only where it would collide", () => {
    assert.equal(mongodbUserProblem({ adminUser: "root", appUser: "app", database: "app" }), undefined);
    assert.match(mongodbUserProblem({ adminUser: "root", appUser: "a;b", database: "app" })!, /appUser/);
    assert.match(
      mongodbUserProblem({ adminUser: MONGODB_METRICS_USER, appUser: "app", database: "app" })!,
      /adminUser/,
    );
    assert.equal(
      mongodbUserProblem({ adminUser: "root", appUser: MONGODB_METRICS_USER, database: "app" }),
      undefined,
    );
    assert.match(
      mongodbUserProblem({ adminUser: "root", appUser: MONGODB_METRICS_USER, database: "admin" })!,
      /appUser/,
    );
  });
});

describe("MongoDB backup script", () => {
  const script = path.join(BACKUP_SCRIPTS_DIR, "mongodb.sh");

  /** Runs the script with a stand-in `mongodump` that records its arguments and config file. */
  function runBackup(replicaSet: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mongodb-backup-test-"));
    const bin = path.join(dir, "bin");
    const backupDir = path.join(dir, "backup");
    fs.mkdirSync(bin);
    fs.mkdirSync(backupDir);
    fs.writeFileSync(
      path.join(bin, "mongodump"),
      [
        "#!/bin/sh",
        'printf "%s\\n" "$@" >"$FAKE_DIR/args"',
        'for a in "$@"; do case $a in --config=*) cp "${a#--config=}" "$FAKE_DIR/config";;',
        '  --archive=*) echo archive >"${a#--archive=}";; esac; done',
      ].join("\n"),
      { mode: 0o755 },
    );
    const old = path.join(backupDir, "mongodb-20000101T000000Z.archive.gz");
    fs.writeFileSync(old, "old");
    fs.utimesSync(old, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const stdout = execFileSync("/bin/sh", [script], {
      encoding: "utf8",
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_DIR: dir,
        MONGODB_HOSTS: "a:27017,b:27017",
        MONGODB_USER: "ops@team",
        MONGODB_PASSWORD: "pa'ss word",
        MONGODB_AUTH_DB: "admin",
        MONGODB_REPLICA_SET: replicaSet,
        BACKUP_DIR: backupDir,
        RETENTION_DAYS: "7",
      },
    });
    const args = fs.readFileSync(path.join(dir, "args"), "utf8").trim().split("\n");
    const config = fs.readFileSync(path.join(dir, "config"), "utf8");
    const files = fs.readdirSync(backupDir);
    fs.rmSync(dir, { recursive: true, force: true });
    return { stdout, args, config, files };
  }

  it("dumps a replica set from a secondary with --oplog, the password only in the config file", () => {
    const r = runBackup("rs0");
    assert.ok(r.args.includes("--oplog"));
    assert.ok(r.args.includes("--gzip"));
    const uri = r.args.find((a) => a.startsWith("--uri="))!;
    assert.equal(
      uri,
      "--uri=mongodb://%6f%70%73%40%74%65%61%6d@a:27017,b:27017/?authSource=admin&replicaSet=rs0&readPreference=secondaryPreferred",
    );
    assert.ok(!r.args.join(" ").includes("pa'ss"), "the password is on the command line");
    assert.equal(r.config, "password: 'pa''ss word'\n");
    assert.equal(r.files.length, 1, `old archive pruned, partial renamed: ${r.files.join(", ")}`);
    assert.match(r.files[0], /^mongodb-\d{8}T\d{6}Z\.archive\.gz$/);
    assert.match(
      r.stdout,
      /^backup written: .*mongodb-\d{8}T\d{6}Z\.archive\.gz \(8 bytes, replica set rs0, with oplog\)$/m,
    );
  });

  it("dumps a standalone server without --oplog or a read preference", () => {
    const r = runBackup("");
    assert.ok(!r.args.includes("--oplog"));
    const uri = r.args.find((a) => a.startsWith("--uri="))!;
    assert.ok(!uri.includes("readPreference") && !uri.includes("replicaSet"), uri);
  });
});
