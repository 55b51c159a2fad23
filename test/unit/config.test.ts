import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { parseBytes, parseConfig, parseMillicores } from "../../config";
import { runError, runOk, stackConfig } from "../support/program";
import { configProblems as problems } from "../support/unit-config";

const dev = stackConfig("dev") as Record<string, unknown>;

describe("stack configuration", () => {
  it("accepts both shipped stacks", () => {
    for (const stack of ["dev", "prod"]) {
      const raw = Object.fromEntries(
        Object.entries(stackConfig(stack)).map(([k, v]) => [k.replace("ai-platform-data:", ""), v]),
      );
      const c = parseConfig(raw);
      assert.equal(c.postgres.database, "ai_platform");
    }
  });

  it("fills defaults from one schema", () => {
    const c = parseConfig({});
    assert.equal(c.namespace, "ai-platform-data");
    assert.equal(c.postgres.backup.schedule, "0 2 * * *");
    assert.equal(c.kafka.sasl.clientMechanism, "SCRAM-SHA-512");
    assert.equal(c.weaviate.httpPort, 8088);
  });

  it("rejects an unknown key, naming it and listing the allowed ones", () => {
    const m = problems({ postgres: { storageSize: "8Gi", replicaz: 2 } });
    assert.match(m, /ai-platform-data:postgres: unknown key "replicaz"; allowed: enabled, mode, /);
  });

  it("rejects an unknown top-level key", () => {
    assert.match(problems({ postgress: {} }), /unknown key "postgress"/);
  });

  it("rejects 20GB and says to write 20Gi", () => {
    assert.match(
      problems({ mongodb: { storageSize: "20GB" } }),
      /ai-platform-data:mongodb.storageSize: "20GB" is not a Kubernetes quantity; write 20Gi/,
    );
  });

  it("rejects zero and negative replicas", () => {
    assert.match(
      problems({ mongodb: { replicas: 0 } }),
      /ai-platform-data:mongodb.replicas: 0 is too small; it must be at least 1/,
    );
    assert.match(problems({ kafka: { nodes: -1 } }), /ai-platform-data:kafka.nodes: -1 is too small/);
  });

  it("rejects names that the charts would write into their shell scripts and mongosh JavaScript", () => {
    const m = problems({
      redis: { sentinel: { masterSet: "my'master;" } },
      mongodb: { database: "ai$platform", appUser: "x');db.dropDatabase();('", replicaSetName: "rs 0" },
    });
    assert.match(
      m,
      /ai-platform-data:redis.sentinel.masterSet: "my'master;" must be 1-64 letters, digits, '_' or '-'/,
    );
    assert.match(
      m,
      /ai-platform-data:mongodb.database: "ai\$platform" must be 1-64 letters, digits, '_' or '-'/,
    );
    assert.match(
      m,
      /ai-platform-data:mongodb.appUser: "x'\);db.dropDatabase\(\);\('" must be 1-64 letters, digits/,
    );
    assert.match(m, /ai-platform-data:mongodb.replicaSetName: "rs 0" must be/);
    assert.equal(parseConfig({ mongodb: { appUser: "svc.app@corp" } }).mongodb.appUser, "svc.app@corp");
  });

  it("rejects limits below requests", () => {
    const m = problems({
      weaviate: { resources: { requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "1", memory: "2Gi" } } },
    });
    assert.match(m, /weaviate.resources.limits.cpu: "1" is below the request "2"/);
    assert.match(m, /weaviate.resources.limits.memory: "2Gi" is below the request "4Gi"/);
  });

  it("rejects a Sentinel quorum larger than the node count", () => {
    assert.match(
      problems({ redis: { nodes: 3, sentinel: { quorum: 4 } } }),
      /ai-platform-data:redis.sentinel.quorum: 4 is larger than redis.nodes \(3\)/,
    );
  });

  it("rejects a topic replication factor above the Kafka node count", () => {
    assert.match(
      problems({ kafka: { nodes: 1, topics: [{ name: "t", replicationFactor: 3 }] } }),
      /ai-platform-data:kafka.topics\[0\].replicationFactor: topic "t" asks for replication factor 3 on 1 Kafka node\(s\); use at most 1 \(kafka.nodes\)/,
    );
  });

  it("rejects min.insync.replicas above the replication factor", () => {
    assert.match(
      problems({
        kafka: {
          nodes: 3,
          topics: [{ name: "t", replicationFactor: 2, configs: { "min.insync.replicas": "3" } }],
        },
      }),
      /min.insync.replicas: "3" for topic "t" must be a whole number from 1 to the replication factor \(2\)/,
    );
  });

  it("rejects a class whose vectorizer module is off", () => {
    assert.match(
      problems({ weaviate: { classes: [{ name: "Doc", vectorizer: "text2vec-transformers" }] } }),
      /weaviate.classes\[0\].vectorizer: class "Doc" uses "text2vec-transformers", which is off; set weaviate.modules.text2vec-transformers.enabled to true/,
    );
  });

  it("rejects duplicate names, bad enums, bad cron and bad types", () => {
    assert.match(
      problems({ kafka: { topics: [{ name: "a" }, { name: "a" }] } }),
      /kafka.topics\[1\].name: "a" appears twice/,
    );
    assert.match(
      problems({ redis: { maxmemoryPolicy: "lru" } }),
      /redis.maxmemoryPolicy: "lru" is not allowed; use one of "noeviction"/,
    );
    assert.match(
      problems({ postgres: { backup: { schedule: "daily" } } }),
      /postgres.backup.schedule: .*cron schedule/,
    );
    assert.match(
      problems({ postgres: { readReplicas: "two" } }),
      /postgres.readReplicas: got "two", expected number/,
    );
    assert.match(
      problems({ postgres: { mode: "managed" } }),
      /postgres.mode: "managed" is not allowed; use one of "helm", "external"/,
    );
  });

  it("requires an endpoint in external mode", () => {
    assert.match(
      problems({ postgres: { mode: "external" } }),
      /postgres.endpoint: required when postgres.mode is "external"/,
    );
  });

  it("lists every problem at once", () => {
    const m = problems({ mongodb: { replicas: 0, storageSize: "1GB" } });
    assert.match(m, /replicas/);
    assert.match(m, /storageSize/);
  });

  it("stops the program before any resource is registered, without a stack trace", () => {
    const message = runError("dev", {
      "ai-platform-data:postgres": { ...(dev["ai-platform-data:postgres"] as object), storageSize: "20GB" },
    });
    assert.match(
      message,
      /ai-platform-data:postgres.storageSize: "20GB" is not a Kubernetes quantity; write 20Gi/,
    );
    assert.doesNotMatch(message, /\n\s+at /);
  });

  it("requires the secret password of an external service", () => {
    const message = runError("dev", {
      "ai-platform-data:postgres": { mode: "external", endpoint: { host: "db.example.com", port: 5432 } },
    });
    assert.match(message, /ai-platform-data:postgresPassword: required when postgres.mode is "external"/);
  });

  it("parses quantities", () => {
    assert.equal(parseBytes("4Gi"), 4 * 2 ** 30);
    assert.equal(parseBytes("1G"), 1e9);
    assert.equal(parseBytes("20GB"), undefined);
    assert.equal(parseMillicores("500m"), 500);
    assert.equal(parseMillicores("1.5"), 1500);
    fc.assert(fc.property(fc.integer({ min: 1, max: 1 << 20 }), (n) => parseBytes(`${n}Mi`) === n * 2 ** 20));
    fc.assert(fc.property(fc.integer({ min: 1, max: 64000 }), (m) => parseMillicores(`${m}m`) === m));
  });

  it("keeps Pulumi.yaml's declared keys in step with the schema", async () => {
    const { platformSchema, SECRET_KEYS } = await import("../../config");
    const { parse } = await import("yaml");
    const fs = await import("fs");
    const doc = parse(fs.readFileSync("Pulumi.yaml", "utf8")) as { config: Record<string, unknown> };
    const declared = Object.keys(doc.config).sort();
    const expected = [...Object.keys(platformSchema.shape), ...SECRET_KEYS].sort();
    assert.deepEqual(declared, expected);
  });

  it("a dev run registers resources", () => {
    assert.ok(runOk("dev").resources.length > 5);
  });
});
