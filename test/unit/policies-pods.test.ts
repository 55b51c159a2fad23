/**
 * The policies on what runs in pods (issue 8, items 6 and 8), against the program's resources under mocks:
 * `pinned-images` and `no-privileged-containers` (mandatory everywhere), `pod-anti-affinity` and
 * `pod-disruption-budgets` (mandatory in prod). Failing cases are the real resources with one thing changed.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  hardenedBackupPods,
  noPrivilegedContainers,
  pinnedImages,
  podAntiAffinity,
  podDisruptionBudgets,
} from "../../policies/rules";
import {
  check,
  copy,
  enforcementOf,
  Json,
  messages,
  packConfig,
  release,
  resource,
  urnOf,
  valuesOf,
} from "../support/policy-harness";
import { runOk } from "../support/program";
import { backupStep } from "../support/unit-resources";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const DIGEST = `sha256:${"a1".repeat(32)}`;

/** The backup container of a backup CronJob's pod template. */
function backupContainer(run: ReturnType<typeof runOk>, name: string): Json {
  return backupStep((resource(run, CRONJOB, name).inputs.spec as Json).jobTemplate.spec.template.spec);
}

describe("pod policies", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  describe("pinned-images", () => {
    it("passes both stacks: every release image (chart defaults included) and every backup job", async () => {
      assert.deepEqual(await check(pinnedImages, prod, "prod"), []);
      assert.deepEqual(await check(pinnedImages, dev, "dev"), []);
    });

    it("fails the Weaviate chart's default sysctl init container (alpine:latest) once it is not switched off", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").initContainers;
      const found = await check(pinnedImages, run, "prod");
      assert.deepEqual(
        found.map((v) => v.message),
        [
          'release "weaviate": values.initContainers.sysctlInitContainer.image (chart default) docker.io/alpine:latest uses the moving tag "latest".',
        ],
      );
      assert.equal(found[0].urn, urnOf(release(run, "weaviate")));
    });

    it("fails a moving or missing tag in an image override, an init container and an unknown image block", async () => {
      const run = copy(prod);
      valuesOf(run, "redis").metrics.image.tag = "latest";
      valuesOf(run, "postgresql").primary.initContainers[1].image = "docker.io/pgvector/pgvector";
      valuesOf(run, "kafka").provisioning.image = {
        registry: "docker.io",
        repository: "bitnamilegacy/kafka",
      };
      const found = await check(pinnedImages, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": values.provisioning.image docker.io/bitnamilegacy/kafka has no tag (the registry serves `latest`).',
        'release "postgresql": values.primary.initContainers[1].image docker.io/pgvector/pgvector has no tag (the registry serves `latest`).',
        'release "redis": values.metrics.image docker.io/bitnamilegacy/redis-exporter:latest uses the moving tag "latest".',
      ]);
    });

    it("accepts a digest whatever the tag", async () => {
      const run = copy(prod);
      Object.assign(valuesOf(run, "redis").metrics.image, { tag: "latest", digest: DIGEST });
      valuesOf(run, "postgresql").primary.initContainers[1].image = `docker.io/pgvector/pgvector@${DIGEST}`;
      assert.deepEqual(await check(pinnedImages, run, "prod"), []);
    });

    it("fails a backup job's image without a tag, reported on the CronJob", async () => {
      const run = copy(prod);
      backupContainer(run, "weaviate-backup-cronjob").image = "docker.io/curlimages/curl";
      const found = await check(pinnedImages, run, "prod");
      assert.equal(found.length, 1, messages(found));
      assert.equal(found[0].urn, urnOf(resource(run, CRONJOB, "weaviate-backup-cronjob")));
      assert.match(found[0].message, /initContainers\[0\]\.image docker.io\/curlimages\/curl has no tag/);
    });
  });

  describe("no-privileged-containers", () => {
    it("passes both stacks (the Weaviate sysctl init container is off)", async () => {
      assert.deepEqual(await check(noPrivilegedContainers, prod, "prod"), []);
      assert.deepEqual(await check(noPrivilegedContainers, dev, "dev"), []);
    });

    it("fails the charts' privileged init containers: Weaviate's by default, Redis's when switched on", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").initContainers;
      valuesOf(run, "redis").sysctl.enabled = true;
      const found = await check(noPrivilegedContainers, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "redis" sets sysctl.enabled: the chart runs container "init-sysctl" privileged.',
        'release "weaviate" leaves initContainers.sysctlInitContainer.enabled unset (the chart\'s default is on): the chart runs container "configure-sysctl" privileged.',
      ]);
    });

    it("fails privileged: true in values and in a backup job's container", async () => {
      const run = copy(prod);
      valuesOf(run, "postgresql").primary.initContainers[0].securityContext.privileged = true;
      valuesOf(run, "mongodb").containerSecurityContext = { privileged: true };
      backupContainer(run, "redis-backup-cronjob").securityContext = { privileged: true };
      const found = await check(noPrivilegedContainers, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "mongodb" sets containerSecurityContext.privileged to true.',
        'release "postgresql" sets primary.initContainers[0].securityContext.privileged to true.',
        "spec.jobTemplate.spec.template.spec.initContainers[0] (backup) sets securityContext.privileged.",
      ]);
    });
  });

  describe("pod-anti-affinity (production)", () => {
    it("passes prod: hard anti-affinity for MongoDB, Redis and Kafka; dev has no multi-replica service", async () => {
      assert.deepEqual(await check(podAntiAffinity, prod, "prod"), []);
      assert.deepEqual(await check(podAntiAffinity, dev, "prod"), []);
    });

    it("fails prod run with soft anti-affinity, naming each three-replica service", async () => {
      const run = runOk("prod", { "ai-platform-data:podAntiAffinity": "soft" });
      assert.deepEqual((await check(podAntiAffinity, run, "prod")).map((v) => v.message).sort(), [
        'release "kafka": 3 controller+broker pods with soft pod anti-affinity (controller.podAntiAffinityPreset): a node can hold two (stack config podAntiAffinity).',
        'release "mongodb": 3 mongod pods with soft pod anti-affinity (podAntiAffinityPreset): a node can hold two (stack config podAntiAffinity).',
        'release "redis": 3 redis node (with Sentinel) pods with soft pod anti-affinity (replica.podAntiAffinityPreset): a node can hold two (stack config podAntiAffinity).',
      ]);
    });

    it("reads a raw affinity, which replaces the preset, and Weaviate's chart default preference", async () => {
      const run = copy(prod);
      const mongo = valuesOf(run, "mongodb");
      mongo.affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
      const weaviate = valuesOf(run, "weaviate");
      weaviate.replicas = 3;
      delete weaviate.affinity;
      assert.deepEqual((await check(podAntiAffinity, run, "prod")).map((v) => v.message).sort(), [
        'release "mongodb": 3 mongod pods with soft pod anti-affinity (affinity): a node can hold two (stack config podAntiAffinity).',
        'release "weaviate": 3 weaviate pods with soft pod anti-affinity (affinity (chart default)): a node can hold two (stack config podAntiAffinity).',
      ]);
      delete mongo.affinity;
      weaviate.affinity = valuesOf(prod, "weaviate").affinity;
      assert.deepEqual(await check(podAntiAffinity, run, "prod"), []);
    });
  });

  describe("hardened-backup-pods (mandatory in prod)", () => {
    it("passes both stacks' backup jobs, and is mandatory in prod's policy config", async () => {
      assert.deepEqual(await check(hardenedBackupPods, prod, "prod"), []);
      assert.deepEqual(await check(hardenedBackupPods, dev, "dev"), []);
      assert.equal(enforcementOf(packConfig("prod"), hardenedBackupPods), "mandatory");
    });

    it("fails a backup container that may escalate, keeps capabilities, or runs without seccomp or as root", async () => {
      const run = copy(prod);
      const pod = (resource(run, CRONJOB, "postgres-backup-cronjob").inputs.spec as Json).jobTemplate.spec
        .template.spec;
      delete pod.securityContext.seccompProfile;
      pod.securityContext.runAsNonRoot = false;
      delete backupStep(pod).securityContext;
      assert.deepEqual((await check(hardenedBackupPods, run, "prod")).map((v) => v.message).sort(), [
        'backup CronJob "postgresql-backup": container "backup" has no seccomp profile (seccompProfile.type: RuntimeDefault).',
        'backup CronJob "postgresql-backup": container "backup" keeps its capabilities (capabilities.drop lacks ALL).',
        'backup CronJob "postgresql-backup": container "backup" may gain privileges (allowPrivilegeEscalation is not false).',
        'backup CronJob "postgresql-backup": container "backup" may run as root (runAsNonRoot is not true).',
        // The upload step (backup.s3) had its seccomp profile from the pod's context only.
        'backup CronJob "postgresql-backup": container "offsite" has no seccomp profile (seccompProfile.type: RuntimeDefault).',
      ]);
    });
  });

  describe("pod-disruption-budgets (production)", () => {
    it("passes prod: MongoDB, Redis and Kafka each let a drain evict one member at a time", async () => {
      assert.deepEqual(await check(podDisruptionBudgets, prod, "prod"), []);
      assert.deepEqual(await check(podDisruptionBudgets, dev, "prod"), []);
    });

    it("fails a missing budget, one that takes the majority, one that blocks drains, and both fields set", async () => {
      const run = copy(prod);
      valuesOf(run, "mongodb").pdb.create = false;
      // The chart's own default: minAvailable 1 of 3 lets two go at once.
      Object.assign(valuesOf(run, "redis").pdb, { minAvailable: 1, maxUnavailable: "" });
      Object.assign(valuesOf(run, "kafka").controller.pdb, { minAvailable: 3, maxUnavailable: "" });
      const found = await check(podDisruptionBudgets, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": 3 controller+broker pods: the PodDisruptionBudget allows no eviction, so a node drain never finishes (stack config kafka).',
        'release "mongodb": 3 mongod pods have no PodDisruptionBudget (pdb.create is not true) (stack config mongodb).',
        'release "redis": 3 redis node (with Sentinel) pods: the PodDisruptionBudget lets a drain evict 2 at once, leaving fewer than the majority (2) (stack config redis).',
      ]);
      Object.assign(valuesOf(run, "kafka").controller.pdb, { minAvailable: 2, maxUnavailable: 1 });
      assert.match(
        messages(await check(podDisruptionBudgets, run, "prod")),
        /sets both minAvailable and maxUnavailable/,
      );
    });

    it("counts percentages as Kubernetes does, rounding up", async () => {
      const run = copy(prod);
      valuesOf(run, "mongodb").pdb.maxUnavailable = "34%"; // 3 * 34% = 1.02 -> 2 pods
      assert.match(messages(await check(podDisruptionBudgets, run, "prod")), /evict 2 at once/);
      valuesOf(run, "mongodb").pdb.maxUnavailable = "33%"; // 0.99 -> 1 pod
      assert.deepEqual(await check(podDisruptionBudgets, run, "prod"), []);
    });
  });
});
