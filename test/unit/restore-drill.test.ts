/**
 * Restore drills (issue 23, item 3): a CronJob per service restores the newest backup into a scratch
 * instance in its pod (the `drill` mode of components/backup/<service>.sh), from the claim read-only or,
 * with `backup.s3`, from the bucket through a checked fetch; it holds no login to the live server but
 * Weaviate's read-only key. Policies `offsite-backups` and `restore-drills`. Under Pulumi mocks.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { offsiteBackups, restoreDrills } from "../../policies/rules";
import { drillContainers } from "../support/backup-job";
import { check, copy, enforcementOf, Json, packConfig, resource } from "../support/policy-harness";
import { byType, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";
import { OFFSITE_SECRET, offsiteStack } from "../support/s3";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const SERVICES = {
  postgres: { release: "postgresql", pattern: "postgres-ai_platform-*.dump" },
  mongodb: { release: "mongodb", pattern: "mongodb-*.archive.gz" },
  redis: { release: "redis", pattern: "redis-mymaster-*.rdb" },
  kafka: { release: "kafka", pattern: "kafka-topics-*.txt" },
  weaviate: { release: "weaviate", pattern: "weaviate-*.json" },
} as const;
const stack = offsiteStack();

const podOf = (run: ReturnType<typeof runOk>, service: string): Json =>
  (resource(run, CRONJOB, `${service}-drill-cronjob`).inputs.spec as Json).jobTemplate.spec.template.spec;

describe("restore drills", () => {
  const dev = runOk("dev");
  const prod = runOk("prod");
  const withS3 = runOk("dev", stack.overrides, stack.secrets);

  it("drills each service's newest backup from its claim, read-only, into a scratch volume", () => {
    for (const [service, { release }] of Object.entries(SERVICES)) {
      const job = resource(dev, CRONJOB, `${service}-drill-cronjob`);
      const meta = job.inputs.metadata as Json;
      assert.equal(meta.name, `${release}-restore-drill`);
      assert.equal(meta.labels["ai-platform.io/drill-for"], service);
      assert.equal(meta.labels["ai-platform.io/backup-for"], undefined, "not a backup job");
      assert.equal((job.inputs.spec as Json).schedule, "0 6 * * *");
      const pod = podOf(dev, service);
      assert.equal(pod.restartPolicy, "Never");
      assert.equal(pod.initContainers, undefined);
      const { drill } = drillContainers(service);
      const env = Object.fromEntries(drill.env.map((e) => [e.name, e]));
      assert.equal(env.DRILL_DIR.value, "/backup");
      assert.equal(env.SCRATCH_DIR.value, "/scratch");
      assert.deepEqual(pod.volumes, [
        { name: "scratch", emptyDir: {} },
        { name: "backup", persistentVolumeClaim: { claimName: `${release}-backup`, readOnly: true } },
      ]);
      assert.deepEqual(pod.containers[0].volumeMounts, [
        { name: "scratch", mountPath: "/scratch" },
        { name: "backup", mountPath: "/backup", readOnly: true },
      ]);
      // No login to the live server; Weaviate's drill reads a backup's status with the read-only key.
      const fromSecrets = drill.env.filter((e) => e.valueFrom !== undefined);
      if (service === "weaviate") {
        assert.deepEqual(fromSecrets, [
          {
            name: "WEAVIATE_API_KEY",
            valueFrom: { secretKeyRef: { name: "weaviate-credentials", key: "app-api-key" } },
          },
        ]);
      } else {
        assert.deepEqual(fromSecrets, [], service);
      }
    }
  });

  it("restores PostgreSQL with the pgvector image as its postgres user, Weaviate's beside its pod", () => {
    const pg = podOf(dev, "postgres");
    assert.equal(pg.containers[0].image, "docker.io/pgvector/pgvector:0.8.0-pg16");
    assert.equal(pg.securityContext.runAsUser, 999);
    assert.equal(pg.securityContext.runAsNonRoot, true);
    // The Weaviate pod mounts the same ReadWriteOnce claim.
    assert.deepEqual(
      podOf(dev, "weaviate").affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]
        .labelSelector,
      { matchLabels: { app: "weaviate" } },
    );
    assert.equal(podOf(dev, "redis").affinity, undefined);
  });

  it("with backup.s3, fetches the newest backup from the bucket first, checked, and mounts no claim", () => {
    for (const [service, { pattern }] of Object.entries(SERVICES)) {
      const { fetch, drill } = drillContainers(service, stack.overrides, stack.secrets);
      assert.ok(fetch, service);
      assert.deepEqual(fetch.command.slice(3), ["offsite", "latest", pattern, "/scratch/backup"]);
      const env = Object.fromEntries(fetch.env.map((e) => [e.name, e]));
      assert.equal(env.S3_PREFIX.value, `stacks/dev/${service}`);
      assert.deepEqual(env.AWS_SECRET_ACCESS_KEY.valueFrom, {
        secretKeyRef: { name: OFFSITE_SECRET, key: "AWS_SECRET_ACCESS_KEY" },
      });
      assert.equal(drill.env.find((e) => e.name === "DRILL_DIR")?.value, "/scratch/backup");
      const pod = podOf(withS3, service);
      assert.deepEqual(pod.volumes, [{ name: "scratch", emptyDir: {} }]);
      assert.equal(pod.affinity, undefined);
    }
  });

  it("makes no drill when it or the backup is off", () => {
    const drills = (run: ReturnType<typeof runOk>) =>
      byType(run, CRONJOB)
        .map((j) => j.name)
        .filter((n) => n.endsWith("-drill-cronjob"));
    const noDrill = runOk("dev", serviceOverride("dev", "redis", { backup: { drill: { enabled: false } } }));
    assert.ok(!drills(noDrill).includes("redis-drill-cronjob"));
    assert.ok(drills(noDrill).includes("kafka-drill-cronjob"));
    const noBackup = runOk("dev", serviceOverride("dev", "kafka", { backup: { enabled: false } }));
    assert.ok(!drills(noBackup).includes("kafka-drill-cronjob"));
  });

  describe("policies", () => {
    it("prod passes offsite-backups and restore-drills, both mandatory there and advisory in dev", async () => {
      for (const p of [offsiteBackups, restoreDrills]) {
        assert.deepEqual(await check(p, prod, "prod"), [], p.name);
        assert.equal(enforcementOf(packConfig("prod"), p), "mandatory");
        assert.equal(enforcementOf(packConfig("dev"), p), "advisory");
      }
    });

    it("offsite-backups names every backup job of a stack without backup.s3", async () => {
      const found = await check(offsiteBackups, dev, "dev");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        ...["kafka", "mongodb", "postgresql", "redis", "weaviate"].map(
          (r) =>
            `backup CronJob "${r}-backup" copies no backup off the cluster; set backup.s3 in the stack config (README, "Off-site copies").`,
        ),
      ]);
      // An upload step whose key is a literal does not count.
      const run = copy(withS3);
      const pod = (resource(run, CRONJOB, "redis-backup-cronjob").inputs.spec as Json).jobTemplate.spec
        .template.spec;
      const key = pod.containers[0].env.find((e: Json) => e.name === "AWS_SECRET_ACCESS_KEY");
      delete key.valueFrom;
      key.value = "literal";
      assert.deepEqual(
        (await check(offsiteBackups, run, "dev")).map((v) => v.message),
        [
          'backup CronJob "redis-backup" has an upload step ("offsite") that does not read AWS_SECRET_ACCESS_KEY from a Secret; set backup.s3 in the stack config (README, "Off-site copies").',
        ],
      );
    });

    it("restore-drills names a backup job without its drill, and a suspended drill", async () => {
      const noDrill = runOk(
        "prod",
        serviceOverride("prod", "mongodb", { backup: { drill: { enabled: false } } }),
      );
      assert.deepEqual(
        (await check(restoreDrills, noDrill, "prod")).map((v) => v.message),
        [
          'backup CronJob "mongodb-backup" has no restore drill; set mongodb.backup.drill.enabled to true in the stack config (README, "Restore drills").',
        ],
      );
      const run = copy(prod);
      (resource(run, CRONJOB, "kafka-drill-cronjob").inputs.spec as Json).suspend = true;
      assert.deepEqual(
        (await check(restoreDrills, run, "prod")).map((v) => v.message),
        [
          'restore drill "kafka-restore-drill" of backup CronJob "kafka-backup" is suspended (spec.suspend: true).',
        ],
      );
    });
  });
});
