/**
 * The Weaviate component as the program registers it under mocks (dev and prod stacks, and config
 * variants): chart, sizes, modules, API keys, backup job, network policies, monitoring and external mode.
 * Derivations are in weaviate-values.test.ts, the backup script in weaviate-backup.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertKnownKeys, isSecretInput, leakedPasswords, MOCK_SECRET } from "../support/assert-helpers";
import { releaseValues, runError, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";
import { ALL_EXTERNAL } from "../support/unit-runs";
import { backupJob, named, releaseNamed } from "../support/unit-resources";
import { WEAVIATE_KEYS, WEAVIATE_MAP_KEYS } from "./chart-keys";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped here */

const ADMIN_KEY = `${MOCK_SECRET}weaviateadminapikey`;
const APP_KEY = `${MOCK_SECRET}weaviateappapikey`;

describe("Weaviate component", () => {
  const prod = runOk("prod");
  // Prod without backup.s3: the backups on the job's claim, mounted in the Weaviate pod.
  const onClaim = runOk("prod", { "ai-platform-data:backup": {} });
  const dev = runOk("dev");
  const openai = runOk("dev", {
    ...serviceOverride("dev", "weaviate", { modules: { "generative-openai": { enabled: true } } }),
    "ai-platform-data:openaiApiKey": "sk-test-openai",
  });

  it("pins weaviate 16.8.0 from the weaviate-helm repository", () => {
    const rel = releaseNamed(prod, "weaviate")!;
    assert.equal(rel.inputs.chart, "weaviate");
    assert.equal(rel.inputs.version, "16.8.0");
    assert.deepEqual(rel.inputs.repositoryOpts, { repo: "https://weaviate.github.io/weaviate-helm" });
    assert.equal(rel.inputs.atomic, true);
  });

  it("sets only keys the pinned chart reads", () => {
    for (const run of [prod, onClaim, dev, openai]) {
      assertKnownKeys(releaseValues(run, "weaviate"), WEAVIATE_KEYS, WEAVIATE_MAP_KEYS);
    }
  });

  it("carries the prod sizes, ports and modules of the design", () => {
    const v = releaseValues(prod, "weaviate") as any;
    assert.deepEqual(v.image, { registry: "docker.io", repo: "semitechnologies/weaviate", tag: "1.22.5" });
    assert.equal(v.replicas, 1);
    assert.deepEqual(v.storage, { size: "20Gi", storageClassName: "ssd" });
    assert.deepEqual(v.resources, {
      requests: { cpu: "2", memory: "4Gi" },
      limits: { cpu: "4", memory: "8Gi" },
    });
    assert.equal(v.env.GOMEMLIMIT, "6553MiB");
    assert.equal(v.service.type, "ClusterIP");
    assert.deepEqual(v.service.ports, [{ name: "http", protocol: "TCP", port: 8088 }]);
    assert.equal(v.grpcService.enabled, true);
    assert.equal(v.grpcService.type, "ClusterIP");
    assert.deepEqual(v.grpcService.ports, [{ name: "grpc", protocol: "TCP", port: 50051 }]);
    assert.equal(v.modules["text2vec-transformers"].enabled, true);
    assert.equal(v.modules["img2vec-neural"].enabled, true);
    assert.equal(v.modules["generative-openai"].enabled, false);
    assert.equal(v.modules.default_vectorizer_module, "text2vec-transformers");
    assert.equal(v.env.PROMETHEUS_MONITORING_ENABLED, true);
    assert.equal(v.serviceMonitor.enabled, false);
    // backup.s3: Weaviate writes the job's backups into the bucket itself, nothing into its pod.
    assert.equal(v.backups.s3.enabled, true);
    assert.equal(v.backups.s3.envconfig.BACKUP_S3_PATH, "prod/weaviate");
    assert.equal(v.extraVolumes, undefined);
    assert.equal(v.command, undefined);
  });

  it("without backup.s3, has Weaviate write onto the job's claim, never onto its data volume", () => {
    const v = releaseValues(onClaim, "weaviate") as any;
    assert.equal(v.backups.filesystem.enabled, true);
    assert.equal(v.backups.s3, undefined);
    assert.equal(v.backups.filesystem.envconfig.BACKUP_FILESYSTEM_PATH, "/var/lib/weaviate-backups");
    assert.deepEqual(v.extraVolumes, [
      { name: "backups", persistentVolumeClaim: { claimName: "weaviate-backup" } },
    ]);
    assert.deepEqual(v.extraVolumeMounts, [{ name: "backups", mountPath: "/var/lib/weaviate-backups" }]);
    assert.ok(
      named(onClaim, "kubernetes:core/v1:PersistentVolumeClaim", "weaviate-backup"),
      "no claim weaviate-backup",
    );
    // Retention of the backups on Weaviate's volume runs in the Weaviate container, then Weaviate is exec'd.
    assert.deepEqual(v.command, ["/bin/sh", "-c"]);
    assert.match(v.args[0], /for d in \/var\/lib\/weaviate-backups\/ai-platform-\*; do/);
    // Backups that earlier versions wrote onto the data volume age out the same way.
    assert.match(v.args[0], /for d in \/var\/lib\/weaviate\/backups\/ai-platform-\*; do/);
    assert.match(v.args[0], /-mtime \+14\b/);
    assert.match(
      v.args[0],
      /^exec \/bin\/weaviate --host 0\.0\.0\.0 --port 8080 --scheme http --config-file \/weaviate-config\/conf\.yaml/m,
    );
  });

  it("keeps dev small, vectorizers off and the default vectorizer none", () => {
    const v = releaseValues(dev, "weaviate") as any;
    assert.equal(v.storage.size, "2Gi");
    assert.equal(v.storage.storageClassName, "");
    assert.equal(v.env.GOMEMLIMIT, "819MiB");
    assert.equal(v.modules["text2vec-transformers"].enabled, false);
    assert.equal(v.modules.default_vectorizer_module, "none");
    assert.match(v.args[0], /-mtime \+7\b/);
  });

  it("turns API keys on and anonymous access off, keys only in the Secret", () => {
    const v = releaseValues(prod, "weaviate") as any;
    assert.equal(v.authentication.anonymous_access.enabled, false);
    assert.deepEqual(v.authentication.apikey, { enabled: true });
    assert.equal(v.env.AUTHENTICATION_APIKEY_ENABLED, true);
    assert.deepEqual(v.envSecrets, {
      AUTHENTICATION_APIKEY_ALLOWED_KEYS: "weaviate-credentials",
      AUTHENTICATION_APIKEY_USERS: "weaviate-credentials",
    });
    // The applications' key reads; only the initialiser's and the backup job's key is an admin.
    assert.deepEqual(v.authorization.admin_list, {
      enabled: true,
      users: ["admin"],
      read_only_users: ["app"],
    });
    const secret = named(prod, "kubernetes:core/v1:Secret", "weaviate-credentials")!;
    const data = secret.inputs.stringData as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), [
      "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
      "AUTHENTICATION_APIKEY_USERS",
      "admin-api-key",
      "app-api-key",
    ]);
    assert.equal(data.AUTHENTICATION_APIKEY_ALLOWED_KEYS, `${ADMIN_KEY},${APP_KEY}`);
    assert.equal(data.AUTHENTICATION_APIKEY_USERS, "admin,app");
    assert.equal(data["admin-api-key"], ADMIN_KEY);
    for (const k of Object.keys(data))
      assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
  });

  it("puts no generated key outside Secret data", () => {
    for (const run of [prod, onClaim, dev, openai]) {
      assert.deepEqual(
        leakedPasswords(run).filter((h) => /weaviate/i.test(h)),
        [],
      );
    }
  });

  it("passes the OpenAI key through envSecrets, never through values", () => {
    const v = releaseValues(openai, "weaviate") as any;
    assert.equal(v.modules["generative-openai"].enabled, true);
    assert.equal(v.modules["generative-openai"].apiKey, undefined);
    assert.equal(v.envSecrets.OPENAI_APIKEY, "weaviate-credentials");
    assert.doesNotMatch(JSON.stringify(v), /sk-test-openai/);
    const secret = named(openai, "kubernetes:core/v1:Secret", "weaviate-credentials")!;
    assert.equal((secret.inputs.stringData as Record<string, string>).OPENAI_APIKEY, "sk-test-openai");
    assert.ok(isSecretInput(secret, "stringData.OPENAI_APIKEY"));
    assert.equal((releaseValues(dev, "weaviate") as any).envSecrets.OPENAI_APIKEY, undefined);
  });

  it("backs up through the backup API on the configured schedule, admin key by secretKeyRef", () => {
    const { spec, container: c } = backupJob(onClaim, "weaviate");
    assert.equal(spec.schedule, "0 3 * * *");
    assert.equal(c.image, "docker.io/curlimages/curl:8.10.1");
    assert.match(c.command[2], /\/v1\/backups\/\$backend/);
    const env = (n: string) => c.env.find((e: { name: string }) => e.name === n);
    assert.equal(env("WEAVIATE_BACKUP_BACKEND").value, "filesystem");
    const inBucket = backupJob(prod, "weaviate");
    assert.equal(
      inBucket.container.env.find((e: { name: string }) => e.name === "WEAVIATE_BACKUP_BACKEND").value,
      "s3",
    );
    // With backup.s3 nothing ties the job to the Weaviate pod's node.
    assert.equal(inBucket.spec.jobTemplate.spec.template.spec.affinity, undefined);
    assert.equal(env("WEAVIATE_URL").value, "http://weaviate:8088");
    assert.deepEqual(env("WEAVIATE_API_KEY").valueFrom, {
      secretKeyRef: { name: "weaviate-credentials", key: "admin-api-key" },
    });
    assert.equal(env("RETENTION_DAYS").value, "14");
    // The claim is ReadWriteOnce and the Weaviate pod mounts it: the job runs on that pod's node.
    assert.deepEqual(spec.jobTemplate.spec.template.spec.affinity, {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: "weaviate" } }, topologyKey: "kubernetes.io/hostname" },
        ],
      },
    });
    // The other services' jobs mount their claim alone and go anywhere.
    assert.equal(backupJob(onClaim, "postgres").spec.jobTemplate.spec.template.spec.affinity, undefined);
  });

  it("guards the Weaviate pods (selected by app=weaviate) on their pod ports", () => {
    const np = named(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-clients")!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector, { matchLabels: { app: "weaviate" } });
    const ports = spec.ingress[0].ports.map(
      (p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`,
    );
    assert.deepEqual(ports.sort(), ["50051/TCP", "8080/TCP"]);
    const from = JSON.stringify(spec.ingress[0].from);
    assert.match(from, /"ai-platform.io\/backup-for":"weaviate"/);
    assert.match(from, /"app":"weaviate"/);
    // The cluster API (gossip, data): Weaviate's own pods alone, never a client.
    assert.deepEqual(spec.ingress[1], {
      from: [{ podSelector: { matchLabels: { app: "weaviate" } } }],
      ports: [
        { port: 7000, protocol: "TCP" },
        { port: 7001, protocol: "TCP" },
        { port: 7000, protocol: "UDP" },
      ],
    });
  });

  it("lets only Weaviate reach the inference pods it deploys", () => {
    const np = named(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-inference")!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector.matchExpressions[0].values, [
      "transformers-inference",
      "img2vec-neural",
    ]);
    assert.deepEqual(spec.ingress[0].from, [{ podSelector: { matchLabels: { app: "weaviate" } } }]);
    assert.equal(
      named(dev, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-inference"),
      undefined,
    );
  });

  it("scrapes with a labelled PodMonitor and alerts in prod only", () => {
    const pm = named(prod, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "weaviate")!;
    assert.equal((pm.inputs.metadata as any).labels.release, "prometheus");
    assert.deepEqual((pm.inputs.spec as any).selector, { matchLabels: { app: "weaviate" } });
    assert.equal((pm.inputs.spec as any).podMetricsEndpoints[0].port, "metrics");
    assert.equal(named(dev, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "weaviate"), undefined);
    const rule = named(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "weaviate-alerts")!;
    const alerts = (rule.inputs.spec as any).groups[0].rules.map((r: { alert: string }) => r.alert);
    assert.deepEqual(alerts, [
      "WeaviateDown",
      "WeaviateServerErrors",
      "WeaviateSlowQueries",
      "WeaviateMemoryNearLimit",
      "weaviateVolumeAlmostFull",
      "BackupMissing",
      "BackupFailed",
      "BackupUploadFailed",
      "RestoreDrillFailed",
    ]);
    assert.equal(
      named(dev, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "weaviate-alerts"),
      undefined,
    );
  });

  it("gives applications the app key, the in-cluster URL and the gRPC host", () => {
    const creds = named(prod, "kubernetes:core/v1:Secret", "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["weaviate-url"], "http://weaviate.ai-platform-data.svc.cluster.local:8088");
    assert.equal(data["weaviate-grpc-host"], "weaviate-grpc.ai-platform-data.svc.cluster.local:50051");
    assert.equal(data["weaviate-apikey"], APP_KEY);
    assert.ok(isSecretInput(creds, "stringData.weaviate-apikey"));
    assert.equal(
      (prod.outputs.endpoints.value as any).weaviate,
      "weaviate.ai-platform-data.svc.cluster.local:8088",
    );
    assert.equal(prod.outputs.connectionStrings.secret, true);
  });

  it("deploys nothing in external mode and hands out the configured key", () => {
    // Every service external in one run, shared with the other components' files.
    const run = runOk("dev", ALL_EXTERNAL);
    assert.equal(releaseNamed(run, "weaviate"), undefined);
    assert.equal(named(run, "kubernetes:core/v1:Secret", "weaviate-credentials"), undefined);
    assert.equal(named(run, "kubernetes:batch/v1:CronJob", "weaviate-backup"), undefined);
    assert.equal(named(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "weaviate-clients"), undefined);
    const data = named(run, "kubernetes:core/v1:Secret", "db-credentials")!.inputs.stringData as Record<
      string,
      string
    >;
    assert.equal(data["weaviate-url"], "https://vectors.example.com:443");
    assert.equal(data["weaviate-apikey"], "external-weaviate-key");
    assert.equal((run.outputs.endpoints.value as any).weaviate, "vectors.example.com:443");
  });

  it("refuses a filesystem backup Weaviate would reject, before deploying anything", () => {
    const message = runError("dev", serviceOverride("dev", "weaviate", { replicas: 3 }));
    assert.match(
      message,
      /weaviate\.backup\.enabled: Weaviate refuses filesystem backups on a cluster of 3 nodes/,
    );
    runOk("dev", serviceOverride("dev", "weaviate", { replicas: 3, backup: { enabled: false } }));
  });
});
