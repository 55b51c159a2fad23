/**
 * Loads and validates the stack configuration. Everything here runs before the program registers any
 * resource, so a bad value stops `pulumi preview` with one message that lists every problem.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { redisAclUserNameProblem, topicReplicationProblem } from "../policies/lib/data-rules";
import { cronMaxGapSeconds } from "./cron";
import { kafkaAccessProblems } from "./kafka-access";
import { parseBytes, parseMillicores } from "./quantities";
import { PlatformConfig, platformSchema, ResourcesConfig, SECRET_KEYS, SecretKey } from "./schema";

export * from "./schema";
export * from "./service-sources";
export { kafkaUserAccess } from "./kafka-access";
export type { KafkaUserAccess } from "./kafka-access";
export { parseBytes, parseMillicores } from "./quantities";
export { cronMaxGapSeconds } from "./cron";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "ai-platform-data";

/** Raised for bad stack config; every line names the key, the bad value and what is allowed. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const SERVICES = ["postgres", "mongodb", "weaviate", "redis", "kafka"] as const;
export type ServiceName = (typeof SERVICES)[number];

function keyName(path: PropertyKey[]): string {
  let s = `${PROJECT}:`;
  path.forEach((p, i) => {
    if (typeof p === "number") s += `[${p}]`;
    else s += i === 0 ? String(p) : `.${String(p)}`;
  });
  return s;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The object schema found at a config path, to list the keys allowed there. */
function objectKeysAt(path: PropertyKey[]): string[] {
  let s: z.ZodType = platformSchema;
  for (const p of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(p)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return [];
    if (!s) return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodOptional) {
      cur = cur.unwrap() as z.ZodType;
    } else break;
  }
  return cur;
}

function describeIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  const key = keyName(issue.path);
  const got = valueAt(raw, issue.path);
  const shown = got === undefined ? "nothing" : JSON.stringify(got);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = objectKeysAt(issue.path);
      return `${key}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys
        .map((k) => `"${k}"`)
        .join(", ")}; allowed: ${allowed.join(", ")}`;
    }
    case "too_small":
      return `${key}: ${shown} is too small; it must be ${issue.inclusive ? "at least" : "more than"} ${String(
        issue.minimum,
      )}`;
    case "too_big":
      return `${key}: ${shown} is too large; it must be ${issue.inclusive ? "at most" : "less than"} ${String(
        issue.maximum,
      )}`;
    case "invalid_type":
      return `${key}: got ${shown}, expected ${issue.expected}`;
    case "invalid_value":
      return `${key}: ${shown} is not allowed; use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "custom":
      return `${key}: ${issue.message}`;
    default:
      return `${key}: ${shown} ${issue.message}`;
  }
}

function checkResources(problems: string[], service: string, r: ResourcesConfig): void {
  const cpuReq = parseMillicores(r.requests.cpu) ?? 0;
  const cpuLim = parseMillicores(r.limits.cpu) ?? 0;
  if (cpuLim < cpuReq) {
    problems.push(
      `${PROJECT}:${service}.resources.limits.cpu: "${r.limits.cpu}" is below the request "${r.requests.cpu}"; a limit must be at least the request`,
    );
  }
  const memReq = parseBytes(r.requests.memory) ?? 0;
  const memLim = parseBytes(r.limits.memory) ?? 0;
  if (memLim < memReq) {
    problems.push(
      `${PROJECT}:${service}.resources.limits.memory: "${r.limits.memory}" is below the request "${r.requests.memory}"; a limit must be at least the request`,
    );
  }
}

function checkUnique(problems: string[], key: string, names: string[]): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n))
      problems.push(`${PROJECT}:${key}[${i}].name: "${n}" appears twice; names must be unique`);
    seen.add(n);
  });
}

/** Checks that span several keys, which the schema cannot express field by field. */
function crossChecks(c: PlatformConfig): string[] {
  const problems: string[] = [];
  for (const s of SERVICES) {
    const svc = c[s];
    if (!svc.enabled) continue;
    checkResources(problems, s, svc.resources);
    if (svc.mode === "external" && svc.endpoint === undefined) {
      problems.push(`${PROJECT}:${s}.endpoint: required when ${s}.mode is "external" (where is the server?)`);
    }
    if (svc.connect === "port-forward" && svc.mode === "external") {
      problems.push(
        `${PROJECT}:${s}.connect: "port-forward" reaches the pods of the release, and an external server has none; use "auto" or "in-cluster"`,
      );
    } else if (svc.connect === "port-forward" && svc.endpoint !== undefined) {
      problems.push(
        `${PROJECT}:${s}.connect: "port-forward" reaches the pods of the release, but ${s}.endpoint sends the initialiser to another address; remove ${s}.endpoint to use port-forwards, or set ${s}.connect to "auto"`,
      );
    }
    if (svc.mode === "external" && svc.chart !== undefined) {
      problems.push(
        `${PROJECT}:${s}.chart: only used when ${s}.mode is "helm"; no chart is installed for an external server, so remove it`,
      );
    }
    if (svc.mode === "external" && svc.credentials !== undefined) {
      problems.push(
        `${PROJECT}:${s}.credentials: only used when ${s}.mode is "helm"; an external server's password comes from secret config (pulumi config set --secret), so remove it`,
      );
    }
  }

  for (const s of SERVICES) {
    const b = c[s].backup;
    if (!c[s].enabled || c[s].mode !== "helm" || !b.enabled) continue;
    const schedules: [string, string][] = [["schedule", b.schedule]];
    if (b.drill.enabled) schedules.push(["drill.schedule", b.drill.schedule]);
    for (const [key, schedule] of schedules) {
      try {
        cronMaxGapSeconds(schedule);
      } catch (e) {
        problems.push(
          `${PROJECT}:${s}.backup.${key}: "${schedule}" cannot be read (${(e as Error).message}); write five cron fields such as "0 2 * * *"`,
        );
      }
    }
  }

  const r = c.redis;
  if (r.sentinel.quorum > r.nodes) {
    problems.push(
      `${PROJECT}:redis.sentinel.quorum: ${r.sentinel.quorum} is larger than redis.nodes (${r.nodes}); a failover could never be agreed. Use at most ${r.nodes} (a majority, ${Math.floor(r.nodes / 2) + 1}, is usual)`,
    );
  }
  if (!r.persistence.rdb && !r.persistence.aof) {
    problems.push(
      `${PROJECT}:redis.persistence: both rdb and aof are off; a restart would lose every key and the backup job copies the RDB file. Turn on at least rdb`,
    );
  }
  checkUnique(
    problems,
    "redis.aclUsers",
    r.aclUsers.map((u) => u.name),
  );
  r.aclUsers.forEach((u, i) => {
    const problem = redisAclUserNameProblem(u.name);
    if (problem) problems.push(`${PROJECT}:redis.aclUsers[${i}].name: ${problem}`);
  });

  const k = c.kafka;
  checkUnique(
    problems,
    "kafka.topics",
    k.topics.map((t) => t.name),
  );
  k.topics.forEach((t, i) => {
    const replication = topicReplicationProblem(t.name, t.replicationFactor, k.nodes);
    if (replication)
      problems.push(`${PROJECT}:kafka.topics[${i}].replicationFactor: ${replication} (kafka.nodes)`);
    const isr = t.configs["min.insync.replicas"];
    if (isr !== undefined && (!/^\d+$/.test(isr) || Number(isr) > t.replicationFactor || Number(isr) < 1)) {
      problems.push(
        `${PROJECT}:kafka.topics[${i}].configs.min.insync.replicas: "${isr}" for topic "${t.name}" must be a whole number from 1 to the replication factor (${t.replicationFactor})`,
      );
    }
    const policy = t.configs["cleanup.policy"];
    if (policy !== undefined && !/^(delete|compact)(,(delete|compact))?$/.test(policy)) {
      problems.push(
        `${PROJECT}:kafka.topics[${i}].configs.cleanup.policy: "${policy}" is not allowed; use delete, compact or "compact,delete"`,
      );
    }
  });
  problems.push(...kafkaAccessProblems({ ...k, access: k.access ?? {} }, PROJECT));
  if (!k.sasl.enabledMechanisms.includes(k.sasl.clientMechanism)) {
    problems.push(
      `${PROJECT}:kafka.sasl.clientMechanism: "${k.sasl.clientMechanism}" is not in kafka.sasl.enabledMechanisms (${k.sasl.enabledMechanisms.join(", ")}); add it there or pick one of those`,
    );
  }

  const m = c.mongodb;
  checkUnique(
    problems,
    "mongodb.collections",
    m.collections.map((x) => x.name),
  );
  if (m.arbiter && m.replicas < 2) {
    problems.push(
      `${PROJECT}:mongodb.arbiter: an arbiter needs at least 2 data-bearing replicas (got ${m.replicas})`,
    );
  }

  const w = c.weaviate;
  checkUnique(
    problems,
    "weaviate.classes",
    w.classes.map((x) => x.name),
  );
  w.classes.forEach((cls, i) => {
    if (cls.vectorizer === "none") return;
    const mod = (w.modules as Record<string, { enabled: boolean } | undefined>)[cls.vectorizer];
    if (mod === undefined) {
      problems.push(
        `${PROJECT}:weaviate.classes[${i}].vectorizer: "${cls.vectorizer}" for class "${cls.name}" is not a module this program deploys; use "none" or one of ${Object.keys(w.modules).join(", ")}`,
      );
    } else if (!mod.enabled && w.mode === "helm") {
      problems.push(
        `${PROJECT}:weaviate.classes[${i}].vectorizer: class "${cls.name}" uses "${cls.vectorizer}", which is off; set weaviate.modules.${cls.vectorizer}.enabled to true or use "none"`,
      );
    }
  });
  return problems;
}

/**
 * Validates raw config (top-level keys without the project prefix, values already JSON-decoded).
 * Pure: the unit tests call it directly.
 */
export function parseConfig(raw: Record<string, unknown>): PlatformConfig {
  const result = platformSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => describeIssue(raw, i)));
  }
  const problems = crossChecks(result.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data;
}

/**
 * Secret keys the stack sets in plain text (`pulumi config set` without `--secret`), one problem each. The
 * language host lists the keys set as secrets in `PULUMI_CONFIG_SECRET_KEYS` (a JSON array of
 * `project:key`, which every Pulumi language host passes to the program it runs); without that list (an
 * inline Automation API program) nothing can be told apart and nothing is refused. Never shows a value.
 */
export function plaintextSecretProblems(
  all: Record<string, string>,
  secretKeysJson: string | undefined,
): string[] {
  if (secretKeysJson === undefined) return [];
  let listed: unknown;
  try {
    listed = JSON.parse(secretKeysJson);
  } catch {
    return [];
  }
  const secret = new Set(Array.isArray(listed) ? listed : []);
  return SECRET_KEYS.filter(
    (k) => (all[`${PROJECT}:${k}`] ?? "") !== "" && !secret.has(`${PROJECT}:${k}`),
  ).map(
    (k) =>
      `${PROJECT}:${k}: set in plain text, but it is a secret (Pulumi.yaml: secret: true) and the stack file now holds it in clear; run 'pulumi config rm ${k}' and 'pulumi config set --secret ${k} <value>', and change the credential if that file was shared`,
  );
}

/** Secret config values the program may need; undefined when the stack does not set them. */
export type PlatformSecrets = Record<SecretKey, pulumi.Output<string> | undefined>;

/** The validated configuration plus the secret values, as the program consumes them. */
export interface LoadedConfig {
  config: PlatformConfig;
  secrets: PlatformSecrets;
}

/**
 * Reads the stack's config, validates it (schema, cross-key checks, then `extraChecks`: the
 * components' chart-specific checks) and returns it; on a problem it throws a `pulumi.RunError`,
 * which Pulumi prints without a stack trace.
 */
export function loadConfig(extraChecks: (c: PlatformConfig) => string[] = () => []): LoadedConfig {
  const all = pulumi.runtime.allConfig();
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  const secretNames = new Set<string>(SECRET_KEYS);
  for (const [fullKey, value] of Object.entries(all)) {
    const [ns, key] = fullKey.split(":", 2);
    if (ns !== PROJECT || key === undefined || secretNames.has(key)) continue;
    try {
      raw[key] = JSON.parse(value);
    } catch {
      // Plain strings arrive unquoted.
      raw[key] = value;
    }
  }
  const cfg = new pulumi.Config(PROJECT);
  // Pulumi.yaml declares each secret key with an empty default, so "unset" arrives as "".
  const secrets = Object.fromEntries(
    SECRET_KEYS.map((k) => [k, all[`${PROJECT}:${k}`] ? cfg.requireSecret(k) : undefined]),
  ) as PlatformSecrets;

  let config: PlatformConfig;
  try {
    config = parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }

  problems.push(...plaintextSecretProblems(all, process.env.PULUMI_CONFIG_SECRET_KEYS));
  problems.push(...extraChecks(config));

  const externalSecret: Record<ServiceName, SecretKey> = {
    postgres: "postgresPassword",
    mongodb: "mongodbPassword",
    redis: "redisPassword",
    kafka: "kafkaPassword",
    weaviate: "weaviateApiKey",
  };
  for (const s of SERVICES) {
    const key = externalSecret[s];
    if (config[s].enabled && config[s].mode === "external" && secrets[key] === undefined) {
      problems.push(
        `${PROJECT}:${key}: required when ${s}.mode is "external"; set it with 'pulumi config set --secret ${key} <value>'`,
      );
    }
  }
  const openai = config.weaviate.modules["generative-openai"];
  // With weaviate.credentials the key comes from that Secret (OPENAI_APIKEY), checked when it is read.
  const openaiFromSecret = config.weaviate.credentials !== undefined;
  if (
    config.weaviate.enabled &&
    config.weaviate.mode === "helm" &&
    openai.enabled &&
    !openaiFromSecret &&
    !secrets.openaiApiKey
  ) {
    problems.push(
      `${PROJECT}:openaiApiKey: required when weaviate.modules.generative-openai.enabled is true; set it with 'pulumi config set --secret openaiApiKey <key>'`,
    );
  }
  if (problems.length > 0) throw new pulumi.RunError(new ConfigError(problems).message);
  return { config, secrets };
}
