/**
 * The CrossGuard pack (policies/) against what the program really registers, part 2: storage, resources and
 * backups: the dev and prod stacks run under mocks (test/support/program.ts), their resources handed to each
 * policy the way the pack hands them over (test/support/policy-harness.ts), with the pack's own config files
 * (policies/config/<stack>.json). Failing cases are real resources with one thing changed. The other
 * policies are in policies*.test.ts; those on pods (images, privilege, anti-affinity, disruption budgets) in
 * policies-pods.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupCronJob, databaseResources, persistentStorage } from "../../policies/rules";
import { check, checkWith, Json, messages } from "../support/policy-harness";
import { copy, release, resource, urnOf, valuesOf, without, withUnknowns } from "../support/policy-harness";
import { runOk } from "../support/program";
import { PROD_EXTERNAL_POSTGRES_KAFKA } from "../support/unit-runs";
import { backupStep, releaseNamed } from "../support/unit-resources";

describe("policy pack: storage and backups", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  describe("persistent-storage", () => {
    it("passes each stack's volumes with its own minimum (dev 1Gi, prod 8Gi)", async () => {
      assert.deepEqual(await check(persistentStorage, prod, "prod"), []);
      assert.deepEqual(await check(persistentStorage, dev, "dev"), []);
    });

    it("fails dev's small volumes under prod's minimum, naming the stack config key", async () => {
      const found = await check(persistentStorage, dev, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": values.controller.persistence.size is 2Gi, below the minimum 8Gi (stack config kafka.storageSize).',
        'release "mongodb": values.persistence.size is 2Gi, below the minimum 8Gi (stack config mongodb.storageSize).',
        'release "postgresql": values.primary.persistence.size is 2Gi, below the minimum 8Gi (stack config postgres.storageSize).',
        'release "redis": values.replica.persistence.size is 1Gi, below the minimum 8Gi (stack config redis.storageSize).',
        'release "weaviate": values.storage.size is 2Gi, below the minimum 8Gi (stack config weaviate.storageSize).',
      ]);
    });

    it("reads per-service minimums from config, by chart or stack config name", async () => {
      const found = await checkWith(persistentStorage, prod, {
        minStorageSize: "8Gi",
        minStorageSizeByService: { kafka: "50Gi", postgres: "30Gi" },
      });
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": values.controller.persistence.size is 20Gi, below the minimum 50Gi (stack config kafka.storageSize).',
        'release "postgresql": values.primary.persistence.size is 20Gi, below the minimum 30Gi (stack config postgres.storageSize).',
      ]);
    });

    it("fails persistence switched off, and judges an unset size by the chart's default", async () => {
      const run = copy(prod);
      valuesOf(run, "redis").replica.persistence.enabled = false;
      delete valuesOf(run, "weaviate").storage.size; // chart default 32Gi
      delete valuesOf(run, "mongodb").persistence.size; // chart default 8Gi
      const found = await checkWith(persistentStorage, run, { minStorageSize: "10Gi" });
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "mongodb": values.persistence.size is unset (chart default 8Gi), below the minimum 10Gi (stack config mongodb.storageSize).',
        'release "redis": values.replica.persistence.enabled is false: the data lives on an emptyDir and is lost with the pod.',
      ]);
    });
  });

  describe("database-resources", () => {
    it("passes: servers, Sentinels and the arbiter's block all carry requests and limits", async () => {
      assert.deepEqual(await check(databaseResources, prod, "prod"), []);
      assert.deepEqual(await check(databaseResources, dev, "dev"), []);
    });

    it("fails missing limits and a limit below its request", async () => {
      const run = copy(prod);
      delete valuesOf(run, "redis").sentinel.resources.limits;
      valuesOf(run, "postgresql").primary.resources.limits.memory = "1Gi"; // request is 2Gi
      const mongo = valuesOf(run, "mongodb");
      mongo.arbiter.enabled = true;
      delete mongo.arbiter.resources;
      const found = await check(databaseResources, run, "prod");
      // Sorted: the order the releases register in is not the policy's concern.
      assert.deepEqual(
        found.map((v) => v.message).sort(),
        [
          'release "redis": values.sentinel.resources.limits.cpu is not set (sentinel) (stack config redis.resources).',
          'release "redis": values.sentinel.resources.limits.memory is not set (sentinel) (stack config redis.resources).',
          'release "postgresql": values.primary.resources.limits.memory 1Gi is below requests.memory 2Gi (primary) (stack config postgres.resources).',
          'release "mongodb": values.arbiter.resources.requests.cpu is not set (arbiter) (stack config mongodb.resources).',
          'release "mongodb": values.arbiter.resources.limits.cpu is not set (arbiter) (stack config mongodb.resources).',
          'release "mongodb": values.arbiter.resources.requests.memory is not set (arbiter) (stack config mongodb.resources).',
          'release "mongodb": values.arbiter.resources.limits.memory is not set (arbiter) (stack config mongodb.resources).',
        ].sort(),
      );
    });
  });

  describe("backup-cronjob (stack)", () => {
    it("passes: every release has its labelled CronJob with schedule and retention", async () => {
      assert.deepEqual(await check(backupCronJob, prod, "prod"), []);
      assert.deepEqual(await check(backupCronJob, dev, "dev"), []);
    });

    it("fails a release without its CronJob, reported on the release", async () => {
      const run = without(prod, "kubernetes:batch/v1:CronJob", "mongodb-backup-cronjob");
      const found = await check(backupCronJob, run, "prod");
      assert.equal(found.length, 1, messages(found));
      assert.equal(found[0].urn, urnOf(release(run, "mongodb")));
      assert.match(
        found[0].message,
        /^release "mongodb" has no backup CronJob .*enable stack config mongodb.backup\.$/,
      );
    });

    it("fails a CronJob with no valid schedule, suspended, or keeping backups too briefly", async () => {
      const run = copy(prod);
      const job = resource(run, "kubernetes:batch/v1:CronJob", "redis-backup-cronjob");
      const spec = job.inputs.spec as Json;
      spec.schedule = "every night";
      spec.suspend = true;
      backupStep(spec.jobTemplate.spec.template.spec).env.find(
        (e: Json) => e.name === "RETENTION_DAYS",
      ).value = "3";
      const found = await check(backupCronJob, run, "prod"); // prod.json: minRetentionDays 7
      assert.ok(found.every((v) => v.urn === urnOf(job)));
      assert.deepEqual(
        found.map((v) => v.message),
        [
          'backup CronJob "redis-backup" of release "redis" has no valid schedule ("every night"); set stack config redis.backup.schedule.',
          'backup CronJob "redis-backup" of release "redis" is suspended (spec.suspend: true).',
          'backup CronJob "redis-backup" of release "redis" keeps backups 3 days, below the minimum 7; raise stack config redis.backup.retentionDays.',
        ],
      );
    });

    it("exempts a service in external mode: no release, no CronJob, no violation", async () => {
      const run = runOk("prod", PROD_EXTERNAL_POSTGRES_KAFKA);
      assert.equal(releaseNamed(run, "postgresql"), undefined);
      assert.deepEqual(await check(backupCronJob, run, "prod"), []);
    });

    it("asks a release of another chart for a backup too, or an exemption", async () => {
      const run = copy(prod);
      const extra = structuredClone(release(run, "redis"));
      Object.assign(extra, { name: "cache-release" });
      Object.assign(extra.inputs, {
        name: "cache",
        chart: "oci://registry-1.docker.io/bitnamicharts/valkey",
      });
      run.resources.push(extra);
      const found = await check(backupCronJob, run, "prod");
      assert.deepEqual(
        found.map((v) => v.message),
        [
          'release "cache" has no backup CronJob (none labelled ai-platform.io/backup-for=cache or ai-platform.io/release=cache); add one, or list "cache" in policy config exemptReleases if it holds no data.',
        ],
      );
      assert.deepEqual(await checkWith(backupCronJob, run, { exemptReleases: ["cache"] }), []);
    });

    it("in preview, checks neither a CronJob's unknown spec nor, while some CronJob's labels are unknown, missing jobs", async () => {
      const run = copy(prod);
      const redisJob = resource(run, "kubernetes:batch/v1:CronJob", "redis-backup-cronjob");
      redisJob.inputs = withUnknowns(redisJob.inputs, ["spec"]);
      assert.deepEqual(await check(backupCronJob, run, "prod"), []);
      const mongoJob = resource(run, "kubernetes:batch/v1:CronJob", "mongodb-backup-cronjob");
      mongoJob.inputs = withUnknowns(mongoJob.inputs, ["metadata"]);
      assert.deepEqual(await check(backupCronJob, run, "prod"), []);
    });

    it("lets config exempt a release backed up by other means", async () => {
      const run = without(prod, "kubernetes:batch/v1:CronJob", "kafka-backup-cronjob");
      assert.deepEqual(await checkWith(backupCronJob, run, { exemptReleases: ["kafka"] }), []);
    });
  });
});
