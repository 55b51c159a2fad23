/**
 * The real servers started by `npm run services:start` (scripts/services.sh), described in its
 * services.json. Under CI=true a missing server fails the test; locally the test is skipped with the
 * reason printed.
 */
import * as fs from "fs";
import * as net from "net";
import type { TestContext } from "node:test";

export const RUN_DIR = process.env.AIPD_RUN ?? "/tmp/ai-platform-data/services";

export interface Services {
  postgres: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    /**
     * The server's own client tools (psql, pg_dump, pg_restore), same major version as the server;
     * absent in a services.json of the PostgreSQL 15 era (scripts/services.sh before PostgreSQL 16).
     */
    bin?: string;
    /** The server's log file (its statement log, when `log_statement` is on). */
    log?: string;
  };
  mongodb: {
    host: string;
    port: number;
    /** FerretDB's debug HTTP port (Prometheus metrics, readyz). */
    metricsPort: number;
    username: string;
    password: string;
    authSource: string;
    authMechanism: string;
    /** The FerretDB binary: the scratch server of the restore drill's test (test/support/mongo-drill.ts). */
    ferretdb: string;
    uri: string;
  };
  redis: {
    password: string;
    masterName: string;
    sentinelPassword: string;
    nodes: { host: string; port: number }[];
    sentinels: { host: string; port: number }[];
  };
  kafka: { brokers: string[]; mechanism: string; username: string; password: string };
  weaviate: {
    scheme: string;
    host: string;
    port: number;
    grpcPort: number;
    /** The admin's key. */
    apiKey: string;
    /** The applications' key: a read-only user, as the chart's default (`weaviate.appAccess`). */
    appApiKey: string;
    /** The cluster API's port (CLUSTER_DATA_BIND_PORT) and its basic auth, as the chart's Secret sets it. */
    dataPort: number;
    clusterUser: string;
    clusterPassword: string;
    backupPath: string;
    /** Where its backup-s3 module writes on the S3 server (`s3`): bucket and path. */
    s3Bucket: string;
    s3Path: string;
  };
  /** The Kubernetes API of scripts/kube.sh (no secret here: the kubeconfig file is 0600). */
  kube: { server: string; kubeconfig: string; context: string; node: string; storageClass: string };
  /** The S3 server of the off-site backup copies (scripts/services/s3.sh: SeaweedFS, SigV4). */
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** The tests' bucket (each test process writes under its own folder, see testPrefix in s3.ts). */
    bucket: string;
    log: string;
  };
  /** Helm and the published pinned charts (scripts/services/helm.sh); no server. */
  helm: { bin: string; version: string; charts: string };
  /** promtool of Prometheus (scripts/services/promtool.sh), for the alert rules' tests; no server. */
  promtool: { bin: string; version: string };
}

/** The five database services, without the Kubernetes API, Helm and the S3 server. */
export type DataServices = Omit<Services, "kube" | "helm" | "s3" | "promtool">;

/** True when something accepts a TCP connection on host:port within 2 s. */
export function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * The service's description as services.json records it, without asking the server (for an `after`
 * hook's clean-up); undefined when there is no services.json.
 */
export function recordedService<K extends keyof Services>(name: K): Services[K] | undefined {
  const file = `${RUN_DIR}/services.json`;
  if (!fs.existsSync(file)) return undefined;
  return (JSON.parse(fs.readFileSync(file, "utf8")) as Services)[name];
}

/**
 * The service's description when its server answers; otherwise fails (CI) or skips (local).
 * Returns undefined when skipped: the caller returns.
 */
export async function requireServer<K extends keyof Services>(
  t: TestContext,
  name: K,
): Promise<Services[K] | undefined> {
  const file = `${RUN_DIR}/services.json`;
  let reason: string | undefined;
  let svc: Services[K] | undefined;
  if (!fs.existsSync(file)) reason = `${file} is missing: run 'npm run services:start'`;
  else {
    svc = (JSON.parse(fs.readFileSync(file, "utf8")) as Services)[name];
    const probe = endpointOf(name, svc);
    if (!(await portOpen(probe.host, probe.port)))
      reason = `${name} is not answering on ${probe.host}:${probe.port}`;
  }
  if (reason) return missing(t, "real server", reason);
  return svc;
}

/** A test's missing prerequisite: fails under CI=true, skips with the reason locally. */
export function missing(t: TestContext, what: string, reason: string): undefined {
  if (process.env.CI === "true") throw new Error(`${what} required under CI=true: ${reason}`);
  t.skip(reason);
  return undefined;
}

function endpointOf(name: keyof Services, svc: unknown): { host: string; port: number } {
  if (name === "kube" || name === "s3") {
    const u = new URL(name === "kube" ? (svc as Services["kube"]).server : (svc as Services["s3"]).endpoint);
    return { host: u.hostname, port: Number(u.port) };
  }
  if (name === "redis") return (svc as Services["redis"]).sentinels[0];
  if (name === "kafka") {
    const [host, port] = (svc as Services["kafka"]).brokers[0].split(":");
    return { host, port: Number(port) };
  }
  const s = svc as { host: string; port: number };
  return { host: s.host, port: s.port };
}

/** A free loopback port nothing listens on (for "server down" tests). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A TCP proxy to a real server that only starts listening after `delayMs`: a server that starts late.
 */
export async function lateProxy(
  target: { host: string; port: number },
  delayMs: number,
): Promise<{ port: number; close: () => void; accepted: () => number }> {
  const port = await closedPort();
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  const timer = setTimeout(() => server.listen(port, "127.0.0.1"), delayMs);
  return {
    port,
    accepted: () => accepted,
    close: () => {
      clearTimeout(timer);
      sockets.forEach((s) => s.destroy());
      server.close();
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs admin from an untyped require
export type KafkaAdmin = any;

/** A kafkajs client for the test broker, logged in as `login` (default: the admin). */
export function testKafka(
  svc: Services["kafka"],
  login: { mechanism: string; username: string; password: string } = svc,
  retries?: number,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs from an untyped require
): any {
  const { Kafka, logLevel } = require("kafkajs");
  return new Kafka({
    clientId: "ai-platform-data-tests",
    brokers: svc.brokers,
    sasl: { mechanism: login.mechanism, username: login.username, password: login.password },
    ...(retries === undefined ? {} : { retry: { retries } }),
    logLevel: logLevel.NOTHING,
  });
}

/** A kafkajs admin client (not connected) for the test broker, as `username` (default: the admin). */
function testKafkaAdmin(
  svc: Services["kafka"],
  login: { mechanism: string; username: string; password: string } = svc,
  retries?: number,
): KafkaAdmin {
  return testKafka(svc, login, retries).admin();
}

/** A connected kafkajs admin client for the test broker, disconnected after `fn`. */
export async function withKafkaAdmin<T>(
  svc: Services["kafka"],
  fn: (admin: KafkaAdmin) => Promise<T>,
): Promise<T> {
  const admin = testKafkaAdmin(svc);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Whether `user` can log in to the test broker with `password` (a SASL failure is a plain `false`). */
export async function kafkaCanLogin(
  svc: Services["kafka"],
  user: string,
  password: string,
  mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512" = "SCRAM-SHA-512",
): Promise<boolean> {
  const admin = testKafkaAdmin(svc, { mechanism: mechanism.toLowerCase(), username: user, password }, 0);
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch (e) {
    if (/SASL|Authentication/i.test(String((e as Error).message) + String((e as Error).name))) return false;
    throw e;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
