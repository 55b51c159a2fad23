/**
 * `<service>.credentials.existingSecret`: credentials the user keeps in a Secret (External Secrets, Vault).
 * The program reads that Secret (mocked: test/support/program-child.ts answers `Secret.get` from the
 * cluster Secrets a run is given), points each chart at it, creates no password and no Secret of its own
 * for the service, hands the initialisers and `db-credentials` the kept values as secrets only, and stops
 * with a message naming the config key, the Secret and the key when the Secret cannot serve.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MONGODB_EXISTING_SECRET_KEYS, mongodbExistingSecretCheck } from "../../components/mongodb";
import { KAFKA_EXISTING_SECRET_KEYS, kafkaExistingSecretCheck } from "../../components/kafka";
import { postgresExistingSecretKeys } from "../../components/postgres";
import { redisExistingSecretKeys } from "../../components/redis";
import { weaviateExistingSecretCheck, weaviateExistingSecretKeys } from "../../components/weaviate";
import { decodeSecretData, existingSecretProblem } from "../../components/shared/existing-secret";
import { parseConfig } from "../../config";
import { isSecretInput, leakedPasswords } from "../support/assert-helpers";
import {
  byType,
  ClusterSecrets,
  ProgramRun,
  RegisteredResource,
  runOk,
  runProgram,
  stackConfig,
} from "../support/program";
import { configProblems as problems } from "../support/unit-config";
import { backupStep } from "../support/unit-resources";

const NS = "ai-platform-data"; // prod's namespace
const KEPT = {
  postgres: "pg-kept",
  mongodb: "mongo-kept",
  redis: "redis-kept",
  kafka: "kafka-kept",
  weaviate: "weaviate-kept",
} as const;
/** The Secrets "in the cluster"; every value carries the mock marker, so a leak anywhere is found. */
const SECRETS: ClusterSecrets = {
  [`${NS}/${KEPT.postgres}`]: {
    "postgres-password": "MOCKSECRETkeptPgAdmin",
    // Characters a URL's user-info must percent-encode.
    password: "MOCKSECRETkeptPg@App/:%",
    "metrics-password": "MOCKSECRETkeptPgMetrics",
    "backup-password": "MOCKSECRETkeptPgBackup",
  },
  [`${NS}/${KEPT.mongodb}`]: {
    "mongodb-root-password": "MOCKSECRETkeptMongoRoot",
    "mongodb-passwords": "MOCKSECRETkeptMongoApp",
    "mongodb-metrics-password": "MOCKSECRETkeptMongoMetrics",
    "mongodb-replica-set-key": "MOCKSECRETkeptMongoKey",
  },
  [`${NS}/${KEPT.redis}`]: {
    "redis-password": "MOCKSECRETkeptRedis",
    "acl-app-password": "MOCKSECRETkeptRedisApp",
    "metrics-password": "MOCKSECRETkeptRedisMetrics",
    "backup-password": "MOCKSECRETkeptRedisBackup",
  },
  [`${NS}/${KEPT.kafka}`]: {
    "client-passwords": "MOCKSECRETkeptKafkaAdmin,MOCKSECRETkeptKafkaApp,MOCKSECRETkeptKafkaObserver",
    "system-user-password": "MOCKSECRETkeptKafkaObserver",
    "inter-broker-password": "MOCKSECRETkeptKafkaBroker",
    "controller-password": "MOCKSECRETkeptKafkaController",
  },
  [`${NS}/${KEPT.weaviate}`]: {
    AUTHENTICATION_APIKEY_ALLOWED_KEYS: "MOCKSECRETkeptWvAdmin,MOCKSECRETkeptWvApp",
    AUTHENTICATION_APIKEY_USERS: "admin,app",
    "admin-api-key": "MOCKSECRETkeptWvAdmin",
    "app-api-key": "MOCKSECRETkeptWvApp",
    OPENAI_APIKEY: "MOCKSECRETkeptOpenai",
  },
};

/** Prod's service objects with `credentials` (and generative-openai on, its key from the Secret only). */
function keptOverrides(): Record<string, unknown> {
  const cfg = stackConfig("prod");
  const out: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(KEPT)) {
    const own = { ...((cfg[`ai-platform-data:${key}`] ?? {}) as Record<string, unknown>) };
    if (key === "weaviate") {
      own.modules = {
        ...(own.modules as Record<string, unknown>),
        "generative-openai": { enabled: true },
      };
    }
    out[`ai-platform-data:${key}`] = { ...own, credentials: { existingSecret: name } };
  }
  return out;
}

const at = (obj: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);

function named(run: ProgramRun, type: string, name: string): RegisteredResource {
  const r = run.resources.find((x) => x.type === type && x.name === name);
  assert.ok(r, `no ${type} ${name}`);
  return r;
}

function releaseValues(run: ProgramRun, release: string): Record<string, unknown> {
  const r = byType(run, "kubernetes:helm.sh/v3:Release").find((x) => x.inputs.name === release);
  assert.ok(r, `no release ${release}`);
  return r.inputs.values as Record<string, unknown>;
}

/** `valueFrom.secretKeyRef` of an env var of a CronJob's container. */
function cronSecretRef(run: ProgramRun, job: string, env: string): unknown {
  const c = [
    backupStep(
      at(named(run, "kubernetes:batch/v1:CronJob", job).inputs, "spec.jobTemplate.spec.template.spec"),
    ),
  ] as {
    env: { name: string; valueFrom?: unknown }[];
  }[];
  return c[0].env.find((e) => e.name === env)?.valueFrom;
}

describe("user-managed credentials (<service>.credentials.existingSecret)", () => {
  const run = runOk("prod", keptOverrides(), SECRETS);

  it("generates no password and creates no credentials Secret of its own for those services", () => {
    assert.deepEqual(
      byType(run, "random:index/randomPassword:RandomPassword").map((r) => r.name),
      [],
    );
    const created = byType(run, "kubernetes:core/v1:Secret").filter((s) => !s.readId);
    // The Sentinels' copy of the users' logins (hashes of the kept passwords), not a credentials Secret.
    assert.deepEqual(
      created.map((s) => (s.inputs.metadata as { name?: string } | undefined)?.name),
      ["redis-sentinel-users", "db-credentials"],
    );
  });

  it("reads each Secret once, its metadata secret in state too", () => {
    const reads = byType(run, "kubernetes:core/v1:Secret").filter((s) => s.readId);
    assert.deepEqual(
      reads.map((s) => s.readId).sort(),
      // prod's backup.s3 keys are a Secret the user keeps too.
      [...Object.values(KEPT), "backup-s3"].map((n) => `${NS}/${n}`).sort(),
    );
    for (const r of reads) {
      assert.match(r.name, /^((postgres|mongodb|redis|kafka|weaviate)-existing|backup-s3)-credentials$/);
      assert.ok(r.options.additionalSecretOutputs?.includes("metadata"), r.name);
    }
  });

  it("points every chart and backup job at the user's Secret", () => {
    assert.equal(at(releaseValues(run, "postgresql"), "auth.existingSecret"), KEPT.postgres);
    assert.equal(at(releaseValues(run, "mongodb"), "auth.existingSecret"), KEPT.mongodb);
    assert.equal(at(releaseValues(run, "redis"), "auth.existingSecret"), KEPT.redis);
    assert.equal(at(releaseValues(run, "kafka"), "sasl.existingSecret"), KEPT.kafka);
    for (const place of ["primary", "readReplicas"]) {
      const exporter = at(releaseValues(run, "postgresql"), `${place}.sidecars`) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- chart input
      assert.deepEqual(
        exporter[0].env.find((e: { name: string }) => e.name === "DATA_SOURCE_PASS").valueFrom,
        { secretKeyRef: { name: KEPT.postgres, key: "metrics-password" } },
      );
    }
    assert.deepEqual(at(releaseValues(run, "weaviate"), "envSecrets"), {
      AUTHENTICATION_APIKEY_ALLOWED_KEYS: KEPT.weaviate,
      AUTHENTICATION_APIKEY_USERS: KEPT.weaviate,
      OPENAI_APIKEY: KEPT.weaviate,
    });
    const backups: [job: string, env: string, secret: string, key: string][] = [
      ["postgres-backup-cronjob", "PGPASSWORD", KEPT.postgres, "backup-password"],
      ["mongodb-backup-cronjob", "MONGODB_PASSWORD", KEPT.mongodb, "mongodb-root-password"],
      ["redis-backup-cronjob", "REDISCLI_AUTH", KEPT.redis, "backup-password"],
      ["kafka-backup-cronjob", "KAFKA_PASSWORD", KEPT.kafka, "system-user-password"],
      ["weaviate-backup-cronjob", "WEAVIATE_API_KEY", KEPT.weaviate, "admin-api-key"],
    ];
    for (const [job, env, name, key] of backups) {
      assert.deepEqual(cronSecretRef(run, job, env), { secretKeyRef: { name, key } }, `${job} ${env}`);
    }
  });

  it("hands the initialisers the kept values, as secret inputs", () => {
    const expect: [string, string, string][] = [
      ["postgres-schema", "password", "MOCKSECRETkeptPgAdmin"],
      ["postgres-schema", "appPassword", "MOCKSECRETkeptPg@App/:%"],
      ["postgres-schema", "serviceRolePasswords.postgres_exporter", "MOCKSECRETkeptPgMetrics"],
      ["postgres-schema", "serviceRolePasswords.postgres_backup", "MOCKSECRETkeptPgBackup"],
      ["mongodb-collections", "password", "MOCKSECRETkeptMongoRoot"],
      ["mongodb-collections", "appPassword", "MOCKSECRETkeptMongoApp"],
      ["weaviate-classes", "apiKey", "MOCKSECRETkeptWvAdmin"],
      ["redis-acl-users", "password", "MOCKSECRETkeptRedis"],
      ["redis-acl-users", "sentinelPassword", "MOCKSECRETkeptRedis"],
      ["redis-acl-users", "userPasswords.app", "MOCKSECRETkeptRedisApp"],
      ["redis-acl-users", "userPasswords.redis_exporter", "MOCKSECRETkeptRedisMetrics"],
      ["redis-acl-users", "userPasswords.redis_backup", "MOCKSECRETkeptRedisBackup"],
      ["kafka-scram-users", "password", "MOCKSECRETkeptKafkaAdmin"],
      ["kafka-scram-users", "userPasswords.admin", "MOCKSECRETkeptKafkaAdmin"],
      ["kafka-scram-users", "userPasswords.app", "MOCKSECRETkeptKafkaApp"],
      ["kafka-scram-users", "userPasswords.kafka_observer", "MOCKSECRETkeptKafkaObserver"],
      ["kafka-topics", "password", "MOCKSECRETkeptKafkaAdmin"],
    ];
    for (const [name, path, value] of expect) {
      const r = named(run, "pulumi-nodejs:dynamic:Resource", name);
      assert.equal(at(r.inputs, path), value, `${name} ${path}`);
      assert.ok(isSecretInput(r, path), `${name} ${path} is not secret`);
    }
  });

  it("gives applications the kept app logins in db-credentials, and leaks no value anywhere else", () => {
    const creds = byType(run, "kubernetes:core/v1:Secret").find(
      (s) => (s.inputs.metadata as { name: string } | undefined)?.name === "db-credentials",
    )!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["postgres-password"], "MOCKSECRETkeptPg@App/:%");
    assert.match(
      data["postgres-url"],
      /^postgresql:\/\/[a-z_]+:MOCKSECRETkeptPg%40App%2F%3A%25@[^/@]+:5432\/[a-z_]+$/,
    );
    assert.equal(new URL(data["postgres-url"]).password, "MOCKSECRETkeptPg%40App%2F%3A%25");
    assert.equal(data["mongodb-password"], "MOCKSECRETkeptMongoApp");
    assert.equal(data["redis-password"], "MOCKSECRETkeptRedisApp");
    assert.equal(data["kafka-password"], "MOCKSECRETkeptKafkaApp");
    assert.equal(data["weaviate-apikey"], "MOCKSECRETkeptWvApp");
    for (const k of Object.keys(data)) assert.ok(isSecretInput(creds, `stringData.${k}`), k);
    assert.deepEqual(leakedPasswords(run), []);
    assert.equal(run.outputs.connectionStrings.secret, true);
  });

  it("stops with the config key, the Secret and every missing key when the Secret lacks one", () => {
    const dev = stackConfig("dev");
    const r = runProgram(
      "dev",
      {
        "ai-platform-data:postgres": {
          ...(dev["ai-platform-data:postgres"] as object),
          credentials: { existingSecret: "pg-kept" },
        },
      },
      { "ai-platform-data-dev/pg-kept": { password: "MOCKSECRETonlyApp", other: "x" } },
    );
    assert.ok("error" in r, "the run did not fail");
    assert.equal(r.error.name, "RunError"); // printed without a stack trace
    assert.match(
      r.error.message,
      /ai-platform-data:postgres\.credentials\.existingSecret: Secret "ai-platform-data-dev\/pg-kept" has no value for keys "postgres-password", "metrics-password", "backup-password" \(keys it has: "other", "password"\); it must hold "postgres-password", "password", "metrics-password", "backup-password"/,
    );
    assert.doesNotMatch(r.error.message, /MOCKSECRET/);
  });
});

describe("what each service's kept Secret must hold", () => {
  const args = (keys: string[], check?: (v: Record<string, string>) => string | undefined) => ({
    namespace: "ns",
    name: "kept",
    configKey: "svc.credentials.existingSecret",
    keys,
    check,
  });
  const full = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, `v-${k}`]));

  it("PostgreSQL: the admin, app and exporter passwords, the replication and backup passwords when used", () => {
    const off = { enabled: false };
    assert.deepEqual(postgresExistingSecretKeys({ readReplicas: 0, backup: off }), [
      "postgres-password",
      "password",
      "metrics-password",
    ]);
    assert.deepEqual(postgresExistingSecretKeys({ readReplicas: 2, backup: { enabled: true } }), [
      "postgres-password",
      "password",
      "metrics-password",
      "replication-password",
      "backup-password",
    ]);
    const keys = postgresExistingSecretKeys({ readReplicas: 1, backup: off });
    assert.match(
      existingSecretProblem(args(keys), {
        "postgres-password": "a",
        password: "b",
        "metrics-password": "c",
        "replication-password": "",
      })!,
      /^ai-platform-data:svc\.credentials\.existingSecret: Secret "ns\/kept" has no value for key "replication-password"/,
    );
  });

  it("MongoDB: all four chart keys, the app password alone (the chart splits on commas)", () => {
    const keys = MONGODB_EXISTING_SECRET_KEYS;
    assert.deepEqual([...keys].sort(), [
      "mongodb-metrics-password",
      "mongodb-passwords",
      "mongodb-replica-set-key",
      "mongodb-root-password",
    ]);
    assert.equal(existingSecretProblem(args(keys, mongodbExistingSecretCheck), full(keys)), undefined);
    const m = existingSecretProblem(args(keys, mongodbExistingSecretCheck), {
      ...full(keys),
      "mongodb-passwords": "secret-one,secret-two",
    })!;
    assert.match(m, /key "mongodb-passwords" holds a comma-separated list/);
    assert.doesNotMatch(m, /secret-one/);
  });

  it("Redis: the default user's password, one per ACL user, the exporter's and the backup job's", () => {
    assert.deepEqual(redisExistingSecretKeys({ aclUsers: [], backup: { enabled: false } }), [
      "redis-password",
      "metrics-password",
    ]);
    assert.deepEqual(
      redisExistingSecretKeys({
        aclUsers: [
          { name: "app", keys: [], channels: [], commands: "+@read" },
          { name: "jobs", keys: [], channels: [], commands: "+@read" },
        ],
        backup: { enabled: true },
      }),
      ["redis-password", "acl-app-password", "acl-jobs-password", "metrics-password", "backup-password"],
    );
  });

  it("Kafka: the four chart keys, a password per client user then the observer's, the observer's also alone", () => {
    const keys = KAFKA_EXISTING_SECRET_KEYS;
    const check = kafkaExistingSecretCheck(["admin", "app"]);
    const good = { ...full(keys), "client-passwords": "pa,pb,po", "system-user-password": "po" };
    assert.equal(existingSecretProblem(args(keys, check), good), undefined);
    assert.match(
      existingSecretProblem(args(keys, check), { ...good, "client-passwords": "pa,pb" })!,
      /key "client-passwords" holds 2 comma-separated password\(s\); the chart pairs them with its client users \(admin, app, kafka_observer: kafka\.clientUsers, then the read-only kafka_observer of the exporter and backup job\): it must hold 3/,
    );
    assert.match(
      existingSecretProblem(args(keys, check), { ...good, "client-passwords": "pa,,po" })!,
      /it must hold 3, non-empty, in that order/,
    );
    const m = existingSecretProblem(args(keys, check), { ...good, "system-user-password": "pa" })!;
    assert.match(
      m,
      /key "system-user-password" differs from the last entry of "client-passwords"; it must be the password of kafka_observer/,
    );
    assert.doesNotMatch(m, /\bpa\b/);
    // The layout before the observer: the admin's password in system-user-password, handed to the exporter.
    assert.match(
      existingSecretProblem(args(keys, check), {
        ...good,
        "client-passwords": "pa,pb,pa",
        "system-user-password": "pa",
      })!,
      /is also the password of a client user; the exporter and backup job would hold that user's login/,
    );
  });

  it("Weaviate: both env keys in the order the admin list expects, each key alone, OpenAI's when on", () => {
    const off = {
      "text2vec-transformers": { enabled: false },
      "img2vec-neural": { enabled: false },
      "generative-openai": { enabled: false },
      "backup-filesystem": { enabled: true },
    };
    assert.deepEqual(weaviateExistingSecretKeys({ modules: off }), [
      "AUTHENTICATION_APIKEY_ALLOWED_KEYS",
      "AUTHENTICATION_APIKEY_USERS",
      "admin-api-key",
      "app-api-key",
    ]);
    const on = { ...off, "generative-openai": { enabled: true } };
    assert.ok(weaviateExistingSecretKeys({ modules: on }).includes("OPENAI_APIKEY"));
    const good = {
      AUTHENTICATION_APIKEY_ALLOWED_KEYS: "ka,kb",
      AUTHENTICATION_APIKEY_USERS: "admin,app",
      "admin-api-key": "ka",
      "app-api-key": "kb",
    };
    assert.equal(weaviateExistingSecretCheck(good), undefined);
    assert.match(
      weaviateExistingSecretCheck({ ...good, AUTHENTICATION_APIKEY_USERS: "app,admin" })!,
      /must be "admin,app"/,
    );
    const m = weaviateExistingSecretCheck({ ...good, AUTHENTICATION_APIKEY_ALLOWED_KEYS: "kb,ka" })!;
    assert.match(
      m,
      /key "AUTHENTICATION_APIKEY_ALLOWED_KEYS" must be the value of "admin-api-key", a comma, then the value of "app-api-key"/,
    );
    assert.doesNotMatch(m, /\bka\b|\bkb\b/);
  });

  it("decodes the API's base64 data", () => {
    assert.deepEqual(decodeSecretData({ a: Buffer.from("pässword").toString("base64") }), { a: "pässword" });
    assert.deepEqual(decodeSecretData(undefined), {});
  });
});

describe("credentials config", () => {
  it("takes a Secret name, and nothing else", () => {
    assert.equal(
      parseConfig({ redis: { credentials: { existingSecret: "redis.kept-1" } } }).redis.credentials
        ?.existingSecret,
      "redis.kept-1",
    );
    assert.match(
      problems({ redis: { credentials: { existingSecret: "Redis_Kept" } } }),
      /ai-platform-data:redis\.credentials\.existingSecret: "Redis_Kept" is not a Kubernetes Secret name/,
    );
    assert.match(
      problems({ redis: { credentials: { existingSecret: "k", password: "x" } } }),
      /ai-platform-data:redis\.credentials: unknown key "password"; allowed: existingSecret/,
    );
  });

  it("is refused for a service in external mode (its password comes from secret config)", () => {
    const m = problems({
      kafka: { mode: "external", endpoint: { brokers: ["k:9092"] }, credentials: { existingSecret: "k" } },
    });
    assert.match(
      m,
      /ai-platform-data:kafka\.credentials: only used when kafka\.mode is "helm"; an external server's password comes from secret config/,
    );
  });
});
