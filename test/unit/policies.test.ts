/**
 * The CrossGuard pack (policies/) against what the program really registers: the dev and prod stacks run
 * under mocks (test/support/program.ts), their resources handed to each policy the way the pack hands
 * them over (test/support/policy-harness.ts), with the pack's own config files
 * (policies/config/<stack>.json). Failing cases are real resources with one thing changed. The policies
 * on pods (images, privilege, anti-affinity, disruption budgets) are in policies-pods.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  advisoryPolicies,
  allPolicies,
  atomicRelease,
  backupCronJob,
  chartVersionPinned,
  databaseAuthentication,
  databaseResources,
  kafkaReplication,
  mandatoryPolicies,
  mongodbReplicaSet,
  noExternalServices,
  noLiteralCredentials,
  persistentStorage,
  productionPolicies,
  redisSentinelHa,
  saslPlainWithoutTls,
  ssdStorageClass,
} from "../../policies/rules";
import {
  check,
  checkWith,
  configFor,
  copy,
  enforcementOf,
  Json,
  messages,
  packConfig,
  release,
  RELEASE,
  resource,
  urnOf,
  valuesOf,
  without,
  withUnknowns,
} from "../support/policy-harness";
import { runOk, stackConfig } from "../support/program";

const RELEASES = ["postgresql", "mongodb", "redis", "kafka", "weaviate"];

describe("policy pack", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  describe("the shipped stacks", () => {
    it("the program registers the five releases, their backup CronJobs and the Kafka topics", () => {
      for (const run of [prod, dev]) {
        for (const name of RELEASES) release(run, name);
        assert.equal(run.resources.filter((r) => r.type === "kubernetes:batch/v1:CronJob").length, 5);
        assert.ok(run.resources.some((r) => Array.isArray(r.inputs.topics)));
      }
    });

    for (const stack of ["prod", "dev"] as const) {
      it(`${stack} passes every policy its config enforces`, async () => {
        const run = stack === "prod" ? prod : dev;
        const config = packConfig(stack);
        const enforced = allPolicies.filter((p) => enforcementOf(config, p) === "mandatory");
        const found = (await Promise.all(enforced.map((p) => check(p, run, stack)))).flat();
        assert.deepEqual(found, [], messages(found));
      });
    }

    it("prod's only advisory finding is the KRaft controller listener's SASL PLAIN", async () => {
      const config = packConfig("prod");
      const advisory = allPolicies.filter((p) => enforcementOf(config, p) === "advisory");
      const found = (await Promise.all(advisory.map((p) => check(p, prod, "prod")))).flat();
      assert.deepEqual(
        found.map((v) => v.policy),
        ["sasl-plain-without-tls"],
        messages(found),
      );
      assert.match(found[0].message, /listener "CONTROLLER" accepts SASL PLAIN/);
    });
  });

  describe("pack definition", () => {
    it("has unique names and a description that says how to fix a violation", () => {
      const names = allPolicies.map((p) => p.name);
      assert.equal(new Set(names).size, names.length);
      assert.equal(names.length, 17);
      for (const p of allPolicies) {
        assert.match(p.name, /^[a-z0-9-]+$/);
        assert.match(p.description, /Fix: \S/, `${p.name}: no fix in its description`);
      }
    });

    it("enforces the mandatory rules, leaves production rules to config and only warns for the advisory ones", () => {
      for (const p of mandatoryPolicies) assert.equal(p.enforcementLevel, "mandatory", p.name);
      for (const p of productionPolicies) assert.equal(p.enforcementLevel, "disabled", p.name);
      for (const p of advisoryPolicies) assert.equal(p.enforcementLevel, "advisory", p.name);
      const prodConfig = packConfig("prod");
      const devConfig = packConfig("dev");
      for (const p of productionPolicies) {
        assert.equal(enforcementOf(prodConfig, p), "mandatory", `${p.name} in prod.json`);
        assert.equal(enforcementOf(devConfig, p), "disabled", `${p.name} in dev.json`);
      }
    });

    for (const stack of ["dev", "prod"] as const) {
      it(`config/${stack}.json names only policies of the pack and keys of their configSchema`, () => {
        const config = packConfig(stack);
        const levels = ["advisory", "mandatory", "remediate", "disabled"];
        for (const [name, entry] of Object.entries(config)) {
          const policy = allPolicies.find((p) => p.name === name);
          assert.ok(policy, `${stack}.json: no policy "${name}"`);
          if (typeof entry === "string") {
            assert.ok(levels.includes(entry), `${stack}.json: ${name}: "${entry}"`);
            continue;
          }
          if (entry.enforcementLevel !== undefined) assert.ok(levels.includes(entry.enforcementLevel));
          for (const [key, value] of Object.entries(configFor(config, policy))) {
            const schema = policy.configSchema?.properties[key];
            assert.ok(
              schema && typeof schema === "object",
              `${stack}.json: ${name}.${key} is not in its configSchema`,
            );
            const type = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
            assert.ok(
              schema.type === type || (schema.type === "number" && type === "integer"),
              `${stack}.json: ${name}.${key} is ${type}, schema says ${String(schema.type)}`,
            );
            if (schema.pattern) assert.match(String(value), new RegExp(schema.pattern), `${name}.${key}`);
          }
        }
      });
    }

    it("gives every config key a default and never declares enforcementLevel (the pack server refuses it)", () => {
      for (const p of allPolicies) {
        for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
          assert.notEqual(key, "enforcementLevel");
          assert.ok(
            typeof schema === "object" && schema.default !== undefined,
            `${p.name}.${key} has no default`,
          );
        }
      }
    });
  });

  describe("database-authentication", () => {
    it("passes the auth values every component sets", async () => {
      assert.deepEqual(await check(databaseAuthentication, prod, "prod"), []);
      assert.deepEqual(await check(databaseAuthentication, dev, "dev"), []);
    });

    it("fails a release that turns authentication off, one service at a time", async () => {
      const cases: Array<[string, (v: Json) => void, RegExp]> = [
        [
          "postgresql",
          (v) => {
            v.auth.enablePostgresUser = false;
            delete v.auth.username;
          },
          /no role has a password/,
        ],
        ["mongodb", (v) => (v.auth.enabled = false), /auth.enabled is false/],
        ["redis", (v) => (v.auth.sentinel = false), /auth.sentinel is false/],
        ["kafka", (v) => (v.listeners.client.protocol = "PLAINTEXT"), /listener "CLIENT" uses PLAINTEXT/],
        [
          "weaviate",
          (v) => delete v.authentication.anonymous_access,
          /anonymous_access.enabled is not false \(the chart's default is true\)/,
        ],
        [
          "weaviate",
          (v) => {
            delete v.env.AUTHENTICATION_APIKEY_ENABLED;
            delete v.authentication.apikey;
          },
          /API-key authentication is off/,
        ],
      ];
      for (const [name, mutate, expected] of cases) {
        const run = copy(prod);
        mutate(valuesOf(run, name));
        const found = await check(databaseAuthentication, run, "prod");
        assert.equal(found.length, 1, `${name}: ${messages(found)}`);
        assert.equal(found[0].urn, urnOf(release(run, name)));
        assert.match(found[0].message, new RegExp(`^release "${name}": `));
        assert.match(found[0].message, expected);
      }
    });
  });

  describe("no-literal-credentials", () => {
    it("passes: every chart reads its passwords from a Secret, backup jobs use secretKeyRef", async () => {
      assert.deepEqual(await check(noLiteralCredentials, prod, "prod"), []);
      assert.deepEqual(await check(noLiteralCredentials, dev, "dev"), []);
    });

    it("fails a password written into Helm values", async () => {
      const run = copy(prod);
      valuesOf(run, "mongodb").auth.rootPassword = "hunter2hunter2";
      valuesOf(run, "kafka").sasl.client.passwords = "p1,p2";
      valuesOf(run, "weaviate").env.AUTHENTICATION_APIKEY_ALLOWED_KEYS = "admin-key";
      const found = await check(noLiteralCredentials, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": values.sasl.client.passwords holds a literal credential.',
        'release "mongodb": values.auth.rootPassword holds a literal credential.',
        'release "weaviate": values.env.AUTHENTICATION_APIKEY_ALLOWED_KEYS holds a literal credential.',
      ]);
    });

    it("skips values unknown during preview and still checks the rest", async () => {
      const run = copy(prod);
      const v = valuesOf(run, "mongodb");
      v.auth.rootPassword = "hunter2hunter2";
      release(run, "mongodb").inputs.values = withUnknowns(v, ["metrics", "tls"]);
      assert.deepEqual(
        (await check(noLiteralCredentials, run, "prod")).map((x) => x.message),
        ['release "mongodb": values.auth.rootPassword holds a literal credential.'],
      );
    });

    it("fails a literal password in a container's env", async () => {
      const run = copy(prod);
      const job = resource(run, "kubernetes:batch/v1:CronJob", "postgres-backup-cronjob");
      const env: Json[] = (job.inputs.spec as Json).jobTemplate.spec.template.spec.containers[0].env;
      const pw = env.find((e) => e.name === "PGPASSWORD");
      delete pw.valueFrom;
      pw.value = "hunter2";
      const found = await check(noLiteralCredentials, run, "prod");
      assert.equal(found.length, 1, messages(found));
      assert.equal(found[0].urn, urnOf(job));
      assert.match(
        found[0].message,
        /containers\[0\]\.env\[\d+\] \(PGPASSWORD\) has a literal value; use valueFrom.secretKeyRef/,
      );
    });

    it("fails the connection details published as a ConfigMap instead of a Secret", async () => {
      const run = copy(prod);
      const secret = resource(run, "kubernetes:core/v1:Secret", "db-credentials-secret");
      secret.type = "kubernetes:core/v1:ConfigMap";
      secret.inputs = { ...secret.inputs, kind: "ConfigMap", data: secret.inputs.stringData };
      delete secret.inputs.stringData;
      delete secret.inputs.type;
      const found = await check(noLiteralCredentials, run, "prod");
      const text = messages(found);
      assert.match(text, /data.postgres-password holds a literal credential/);
      assert.match(text, /data.postgres-url contains a URL with a password in it/);
      assert.match(text, /data.mongodb-uri contains a URL with a password in it/);
      assert.ok(found.every((v) => v.urn === urnOf(secret)));
    });
  });

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

  describe("chart-version-pinned", () => {
    it("passes the exact versions of components/shared/charts.ts", async () => {
      assert.deepEqual(await check(chartVersionPinned, prod, "prod"), []);
    });

    it("fails a range, a wildcard and a missing version", async () => {
      for (const version of ["^15.5.38", "~15.5", ">=15.0.0", "15.x", "*", "", undefined]) {
        const run = copy(prod);
        const rel = release(run, "postgresql");
        if (version === undefined) delete rel.inputs.version;
        else rel.inputs.version = version;
        const found = await check(chartVersionPinned, run, "prod");
        assert.equal(found.length, 1, `${String(version)}: ${messages(found)}`);
        assert.match(
          found[0].message,
          /^release "postgresql" \(oci:\/\/registry-1.docker.io\/bitnamicharts\/postgresql\) has /,
        );
      }
    });
  });

  describe("no-external-services", () => {
    it("passes ClusterIP everywhere (Weaviate's LoadBalancer default overridden)", async () => {
      assert.deepEqual(await check(noExternalServices, prod, "prod"), []);
      assert.deepEqual(await check(noExternalServices, dev, "dev"), []);
    });

    it("fails a NodePort, and the Weaviate chart's LoadBalancer default when service.type is unset", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").service.type;
      valuesOf(run, "postgresql").primary.service = { type: "NodePort" };
      const found = await check(noExternalServices, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "postgresql" sets primary.service.type to NodePort.',
        'release "weaviate" leaves service.type unset, and the chart then uses LoadBalancer.',
      ]);
    });

    it("lets config allow a type or a release", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").service.type;
      assert.deepEqual(await checkWith(noExternalServices, run, { allowedTypes: ["LoadBalancer"] }), []);
      assert.deepEqual(await checkWith(noExternalServices, run, { allowedNames: ["weaviate"] }), []);
      assert.equal((await checkWith(noExternalServices, run, { allowedNames: ["redis"] })).length, 1);
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
      spec.jobTemplate.spec.template.spec.containers[0].env.find(
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
      const run = runOk("prod", {
        "ai-platform-data:postgres": {
          ...(stackConfig("prod")["ai-platform-data:postgres"] as object),
          mode: "external",
          endpoint: { host: "db.example.com", port: 5432 },
        },
        "ai-platform-data:postgresPassword": "external-pw",
      });
      assert.equal(
        run.resources.find((r) => r.type === RELEASE && r.inputs.name === "postgresql"),
        undefined,
      );
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

  describe("mongodb-replica-set (production)", () => {
    it("passes prod's three data-bearing members without an arbiter", async () => {
      assert.deepEqual(await check(mongodbReplicaSet, prod, "prod"), []);
    });

    it("fails dev's single member under prod's config", async () => {
      const found = await check(mongodbReplicaSet, dev, "prod");
      assert.deepEqual(
        found.map((v) => v.message),
        ['release "mongodb": values.replicaCount is 1, fewer than 3 data-bearing members.'],
      );
    });

    it("does not count an arbiter as a member, nor accept a standalone server", async () => {
      const run = copy(prod);
      Object.assign(valuesOf(run, "mongodb"), { replicaCount: 2 });
      valuesOf(run, "mongodb").arbiter.enabled = true;
      assert.match(
        messages(await check(mongodbReplicaSet, run, "prod")),
        /values.replicaCount is 2, fewer than 3 data-bearing members \(the arbiter holds no data and is not counted\)/,
      );
      valuesOf(run, "mongodb").architecture = "standalone";
      assert.match(messages(await check(mongodbReplicaSet, run, "prod")), /not "replicaset"/);
    });
  });

  describe("redis-sentinel (production)", () => {
    it("passes prod's three nodes with Sentinel (a master and two replicas)", async () => {
      assert.deepEqual(await check(redisSentinelHa, prod, "prod"), []);
    });

    it("fails dev's single node under prod's config, and Redis without Sentinel", async () => {
      assert.deepEqual(
        (await check(redisSentinelHa, dev, "prod")).map((v) => v.message),
        ['release "redis": values.replica.replicaCount is 1: one master and 0 replica(s), fewer than 2.'],
      );
      const run = copy(prod);
      valuesOf(run, "redis").sentinel.enabled = false;
      assert.match(messages(await check(redisSentinelHa, run, "prod")), /sentinel.enabled is not true/);
    });
  });

  describe("kafka-replication (production, stack)", () => {
    it("passes prod: three nodes, topics with RF 3 and min.insync.replicas 2", async () => {
      assert.deepEqual(await check(kafkaReplication, prod, "prod"), []);
    });

    it("fails dev under prod's config: one node, RF 1, min.insync.replicas 1 from the broker config", async () => {
      const found = await check(kafkaReplication, dev, "prod");
      const text = messages(found);
      assert.match(text, /release "kafka" runs 1 Kafka node\(s\), fewer than 3/);
      for (const topic of ["data-ingestion", "model-events", "system-logs"]) {
        assert.match(
          text,
          new RegExp(`topic "${topic}" \\(kafka-topics\\) has replicationFactor 1, below 2`),
        );
        assert.match(
          text,
          new RegExp(
            `topic "${topic}" \\(kafka-topics\\) has min.insync.replicas 1 \\(broker default\\), below 2`,
          ),
        );
        assert.match(
          text,
          new RegExp(
            `topic "${topic}" \\(kafka-topics\\) has min.insync.replicas 1 \\(broker default\\), not below its replicationFactor 1`,
          ),
        );
      }
      const topics = resource(dev, "pulumi-nodejs:dynamic:Resource", "kafka-topics");
      assert.ok(found.filter((v) => v.message.startsWith("topic")).every((v) => v.urn === urnOf(topics)));
    });

    it("fails a replication factor above the node count and min.insync.replicas not below it", async () => {
      const run = copy(prod);
      const topics = resource(run, "pulumi-nodejs:dynamic:Resource", "kafka-topics").inputs.topics as Json[];
      topics[0].replicationFactor = 4;
      topics[1].configs["min.insync.replicas"] = "3";
      const found = await check(kafkaReplication, run, "prod");
      assert.deepEqual(
        found.map((v) => v.message),
        [
          'kafka-topics: topic "data-ingestion" asks for replication factor 4 on 3 Kafka node(s); use at most 3.',
          'topic "model-events" (kafka-topics) has min.insync.replicas 3, not below its replicationFactor 3: one node down stops acks=all writes.',
        ],
      );
    });

    it("checks topics of an external Kafka against the node count the initialiser declares, when it does", async () => {
      const run = runOk("prod", {
        "ai-platform-data:kafka": {
          ...(stackConfig("prod")["ai-platform-data:kafka"] as object),
          mode: "external",
          endpoint: { brokers: ["k1.example.com:9092"] },
        },
        "ai-platform-data:kafkaPassword": "external-pw",
      });
      assert.equal(
        run.resources.find((r) => r.type === RELEASE && r.inputs.name === "kafka"),
        undefined,
      );
      assert.deepEqual(await check(kafkaReplication, run, "prod"), []);
      const holder = resource(run, "pulumi-nodejs:dynamic:Resource", "kafka-topics");
      holder.inputs.nodes = 2;
      const text = messages(await check(kafkaReplication, run, "prod"));
      assert.match(text, /replication factor 3 on 2 Kafka node\(s\); use at most 2/);
      assert.match(text, /kafka-topics declares 2 Kafka node\(s\) \(kafka\.nodes\), fewer than 3/);
    });
  });

  describe("ssd-storage-class (advisory)", () => {
    it("passes prod's ssd class", async () => {
      assert.deepEqual(await check(ssdStorageClass, prod, "prod"), []);
    });

    it("warns for dev's cluster-default class and for a class not known as SSD", async () => {
      const found = await checkWith(ssdStorageClass, dev, {});
      assert.equal(found.length, 5, messages(found));
      assert.match(found[0].message, /storageClass is "", so the volume gets the cluster's default class/);
      const run = copy(prod);
      valuesOf(run, "weaviate").storage.storageClassName = "standard";
      assert.deepEqual(
        (await check(ssdStorageClass, run, "prod")).map((v) => v.message),
        ['release "weaviate": values.storage.storageClassName is "standard", not a known SSD class.'],
      );
      assert.deepEqual(await checkWith(ssdStorageClass, run, { ssdStorageClasses: ["ssd", "standard"] }), []);
    });
  });

  describe("sasl-plain-without-tls (advisory)", () => {
    it("passes once the controller listener uses TLS", async () => {
      const run = copy(prod);
      valuesOf(run, "kafka").listeners.controller.protocol = "SASL_SSL";
      assert.deepEqual(await check(saslPlainWithoutTls, run, "prod"), []);
    });

    it("warns for the client listener when the per-listener SCRAM-only override goes", async () => {
      const run = copy(prod);
      const v = valuesOf(run, "kafka");
      v.listeners.controller.protocol = "SASL_SSL";
      v.extraConfig = (v.extraConfig as string)
        .split("\n")
        .filter((l) => !l.startsWith("listener.name.client."))
        .join("\n");
      assert.deepEqual(
        (await check(saslPlainWithoutTls, run, "prod")).map((v) => v.message),
        [
          'release "kafka": listener "CLIENT" accepts SASL PLAIN over SASL_PLAINTEXT (listeners.client.protocol): passwords cross the network in clear.',
        ],
      );
    });
  });

  describe("atomic-release (advisory)", () => {
    it("passes the atomic releases", async () => {
      assert.deepEqual(await check(atomicRelease, prod, "prod"), []);
    });

    it("warns for every release when helm.atomic is false", async () => {
      const run = runOk("prod", { "ai-platform-data:helm": { atomic: false } });
      const found = await check(atomicRelease, run, "prod");
      assert.deepEqual(
        found.map((v) => v.message).sort(),
        RELEASES.map((n) => `release "${n}" has atomic false; a failed upgrade is not rolled back.`).sort(),
      );
    });
  });
});
