/**
 * The CrossGuard pack (policies/) against what the program really registers, part 3: production topology and
 * the advisory rules: the dev and prod stacks run under mocks (test/support/program.ts), their resources
 * handed to each policy the way the pack hands them over (test/support/policy-harness.ts), with the pack's
 * own config files (policies/config/<stack>.json). Failing cases are real resources with one thing changed.
 * The other policies are in policies*.test.ts; those on pods (images, privilege, anti-affinity, disruption
 * budgets) in policies-pods.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  atomicRelease,
  kafkaAuthorizer,
  kafkaReplication,
  mongodbReplicaSet,
  redisSentinelHa,
  saslPlainWithoutTls,
  ssdStorageClass,
  weaviateAppKeyReadOnly,
} from "../../policies/rules";
import { check, checkWith, Json, messages } from "../support/policy-harness";
import { copy, resource, urnOf, valuesOf } from "../support/policy-harness";
import { runOk } from "../support/program";
import { PROD_EXTERNAL_POSTGRES_KAFKA } from "../support/unit-runs";
import { releaseNamed } from "../support/unit-resources";

const RELEASES = ["postgresql", "mongodb", "redis", "kafka", "weaviate"];

describe("policy pack: production and advisory", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

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

  describe("weaviate-app-key-read-only (production)", () => {
    it("passes both stacks (the app key is read-only by default) and fails an app key that is an admin", async () => {
      assert.deepEqual(await check(weaviateAppKeyReadOnly, prod, "prod"), []);
      assert.deepEqual(await check(weaviateAppKeyReadOnly, dev, "prod"), []);
      const run = copy(prod);
      valuesOf(run, "weaviate").authorization.admin_list = { enabled: true, users: ["admin", "app"] };
      assert.match(
        messages(await check(weaviateAppKeyReadOnly, run, "prod")),
        /admin_list.users names \["admin","app"\]; only the initialiser's user may be an admin/,
      );
      valuesOf(run, "weaviate").authorization.admin_list = { enabled: false };
      assert.match(messages(await check(weaviateAppKeyReadOnly, run, "prod")), /every API key is an admin/);
    });
  });

  describe("kafka-authorizer (production)", () => {
    it("passes both stacks' Kafka releases (the program sets the StandardAuthorizer)", async () => {
      assert.deepEqual(await check(kafkaAuthorizer, prod, "prod"), []);
      assert.deepEqual(await check(kafkaAuthorizer, dev, "prod"), []);
    });

    it("fails SASL listeners without an authorizer, another authorizer, and allow.everyone.if.no.acl.found", async () => {
      const run = copy(prod);
      const kafka = valuesOf(run, "kafka");
      const lines = (kafka.extraConfig as string).split("\n");
      kafka.extraConfig = lines.filter((l) => !l.startsWith("authorizer.class.name=")).join("\n");
      assert.match(
        messages(await check(kafkaAuthorizer, run, "prod")),
        /clients log in with SASL \(CLIENT, INTERNAL, CONTROLLER\) but the brokers set no authorizer.class.name/,
      );
      kafka.extraConfig = lines
        .map((l) => (l.startsWith("allow.everyone") ? "allow.everyone.if.no.acl.found=true" : l))
        .map((l) =>
          l.startsWith("authorizer.class.name")
            ? "authorizer.class.name=kafka.security.authorizer.AclAuthorizer"
            : l,
        )
        .join("\n");
      const text = messages(await check(kafkaAuthorizer, run, "prod"));
      assert.match(text, /authorizer.class.name is "kafka.security.authorizer.AclAuthorizer", not KRaft's/);
      assert.match(text, /allow.everyone.if.no.acl.found is true/);
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
      const run = runOk("prod", PROD_EXTERNAL_POSTGRES_KAFKA);
      assert.equal(releaseNamed(run, "kafka"), undefined);
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
