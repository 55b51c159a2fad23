import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { postgresSettings, renderPostgresConf } from "../../components/postgres";
import { componentConfigProblems } from "../../components/validation";
import { parseConfig } from "../../config";
import { assertKnownKeys, isSecretInput } from "../support/assert-helpers";
import { byType, releaseValues, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";
import { backupStep, named } from "../support/unit-resources";
import { POSTGRESQL_KEYS, POSTGRESQL_MAP_KEYS } from "./chart-keys";

describe("PostgreSQL component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/postgresql 15.5.38 by OCI", () => {
    const rel = byType(prod, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === "postgresql")!;
    assert.equal(rel.inputs.chart, "oci://registry-1.docker.io/bitnamicharts/postgresql");
    assert.equal(rel.inputs.version, "15.5.38");
    assert.equal(rel.inputs.atomic, true);
  });

  it("sets only keys the pinned chart reads", () => {
    assertKnownKeys(releaseValues(prod, "/postgresql"), POSTGRESQL_KEYS, POSTGRESQL_MAP_KEYS);
    assertKnownKeys(releaseValues(dev, "/postgresql"), POSTGRESQL_KEYS, POSTGRESQL_MAP_KEYS);
  });

  it("carries the prod sizes of the design", () => {
    const v = releaseValues(prod, "/postgresql") as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- values are untyped chart input
    assert.equal(v.primary.persistence.size, "20Gi");
    assert.equal(v.primary.persistence.storageClass, "ssd");
    assert.deepEqual(v.primary.resources, {
      requests: { cpu: "1", memory: "2Gi" },
      limits: { cpu: "2", memory: "4Gi" },
    });
    assert.equal(v.primary.initdb.args, "--data-checksums");
    assert.match(v.primary.extendedConfiguration, /^shared_buffers = '1024MB'$/m);
    assert.match(v.primary.extendedConfiguration, /^effective_cache_size = '3072MB'$/m);
    assert.match(v.primary.extendedConfiguration, /^max_connections = 200$/m);
    assert.equal(v.auth.database, "ai_platform");
    assert.equal(v.image.repository, "bitnamilegacy/postgresql");
    assert.equal(v.metrics.image.repository, "bitnamilegacy/postgres-exporter");
    assert.equal(v.volumePermissions.image.repository, "bitnamilegacy/os-shell");
    assert.equal(v.primary.networkPolicy.enabled, false);
    // The chart's exporter would hold the admin's password: off, the program's sidecar instead.
    assert.equal(v.metrics.enabled, false);
  });

  it("exports metrics from a sidecar of its own that logs in as the pg_monitor role", () => {
    const v = releaseValues(prod, "/postgresql") as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- values are untyped chart input
    for (const place of ["primary", "readReplicas"]) {
      const [c] = v[place].sidecars;
      assert.equal(c.image, "docker.io/bitnamilegacy/postgres-exporter:0.15.0-debian-12-r43");
      const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom])); // eslint-disable-line @typescript-eslint/no-explicit-any -- chart input
      assert.deepEqual(env, {
        DATA_SOURCE_URI: "127.0.0.1:5432/postgres?sslmode=disable",
        DATA_SOURCE_USER: "postgres_exporter",
        DATA_SOURCE_PASS: { secretKeyRef: { name: "postgresql-credentials", key: "metrics-password" } },
      });
      assert.deepEqual(c.ports, [{ name: "http-metrics", containerPort: 9187, protocol: "TCP" }]);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
    }
    const monitor = named(prod, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "postgresql")!;
    const spec = monitor.inputs.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- CRD
    assert.deepEqual(spec.selector.matchLabels, {
      "app.kubernetes.io/name": "postgresql",
      "app.kubernetes.io/instance": "postgresql",
    });
    assert.equal(spec.podMetricsEndpoints[0].port, "http-metrics");
    assert.equal(named(dev, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "postgresql"), undefined);
  });

  it("refuses the exporter's name for the app, the Redis one for an ACL user, and an unquotable log_statement", () => {
    const config = parseConfig({
      postgres: { appUser: "postgres_exporter", settings: { log_statement: "ddl'; DROP" } },
      redis: { aclUsers: [{ name: "redis_exporter", keys: ["*"], commands: "+@read" }] },
    });
    const problems = componentConfigProblems(config);
    assert.ok(
      problems.includes(
        `ai-platform-data:postgres.appUser: "postgres_exporter" is the exporter's login, which the program creates itself; choose another name`,
      ),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.startsWith(`ai-platform-data:postgres.settings.log_statement: "ddl'; DROP"`)),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(`ai-platform-data:redis.aclUsers: "redis_exporter" is the exporter's user`),
      ),
    );
  });

  it("connects to the primary's own Service once there are read replicas (the chart renames it)", () => {
    const run = runOk("prod", serviceOverride("prod", "postgres", { readReplicas: 1 }));
    const ns = "ai-platform-data";
    const schema = byType(run, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "postgres-schema")!;
    assert.equal(schema.inputs.host, `postgresql-primary.${ns}.svc.cluster.local`);
    const job = byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === "postgres-backup-cronjob")!;
    const env = backupStep((job.inputs.spec as any).jobTemplate.spec.template.spec).env; // eslint-disable-line @typescript-eslint/no-explicit-any -- k8s object
    assert.equal(env.find((e: { name: string }) => e.name === "PGHOST").value, "postgresql-primary");
    // Without replicas the chart's primary Service is the release's name.
    const standalone = byType(prod, "pulumi-nodejs:dynamic:Resource").find(
      (r) => r.name === "postgres-schema",
    )!;
    assert.equal(standalone.inputs.host, `postgresql.${ns}.svc.cluster.local`);
  });

  it("keeps log_statement out of conf.d: the initialiser sets it after the first boot", () => {
    const v = releaseValues(prod, "/postgresql") as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- values are untyped chart input
    assert.doesNotMatch(v.primary.extendedConfiguration, /log_statement/);
    const schema = byType(prod, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "postgres-schema")!;
    assert.deepEqual(schema.inputs.serverSettings, { log_statement: "ddl" });
    assert.deepEqual(schema.inputs.serviceRoles, [
      { name: "postgres_exporter", grant: "pg_monitor" },
      { name: "postgres_backup", grant: "pg_read_all_data" },
    ]);
  });

  it("reads passwords from the credentials Secret, never from values", () => {
    const v = releaseValues(prod, "/postgresql") as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- values are untyped chart input
    assert.equal(v.auth.existingSecret, "postgresql-credentials");
    assert.equal(v.auth.password, undefined);
    assert.equal(v.auth.postgresPassword, undefined);
    const secret = byType(prod, "kubernetes:core/v1:Secret").find(
      (s) => (s.inputs.metadata as { name?: string } | undefined)?.name === "postgresql-credentials",
    )!;
    const keys = Object.keys(secret.inputs.stringData as object).sort();
    assert.deepEqual(keys, [
      "backup-password",
      "metrics-password",
      "password",
      "postgres-password",
      "replication-password",
    ]);
    for (const k of keys) assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
  });

  it("backs up with pg_dump in custom format on the configured schedule, as its read-only role", () => {
    const job = byType(prod, "kubernetes:batch/v1:CronJob").find(
      (j) => j.name === "postgres-backup-cronjob",
    )!;
    const spec = job.inputs.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- k8s object
    assert.equal(spec.schedule, "0 2 * * *");
    const c = backupStep(spec.jobTemplate.spec.template.spec);
    assert.match(c.command[2], /pg_dump --format=custom/);
    const pw = c.env.find((e: { name: string }) => e.name === "PGPASSWORD");
    assert.deepEqual(pw.valueFrom, {
      secretKeyRef: { name: "postgresql-credentials", key: "backup-password" },
    });
    assert.equal(c.env.find((e: { name: string }) => e.name === "PGUSER").value, "postgres_backup");
    assert.equal(c.env.find((e: { name: string }) => e.name === "RETENTION_DAYS").value, "14");
  });

  it("lets only labelled clients, its own pods and backups in, and Prometheus to the exporter only", () => {
    const policy = (run: typeof prod) =>
      byType(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
        (p) => p.name === "postgres-network-policy",
      )!.inputs.spec as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- k8s object
    const p = policy(prod);
    assert.deepEqual(p.podSelector, { matchLabels: { "app.kubernetes.io/instance": "postgresql" } });
    assert.deepEqual(p.ingress[0].from[0], {
      podSelector: { matchLabels: { "ai-platform.io/data-client": "true" } },
    });
    assert.deepEqual(p.ingress[1], {
      from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
      ports: [{ port: 9187, protocol: "TCP" }],
    });
    assert.equal(policy(dev).ingress.length, 1, "dev declares no monitoring namespace");
  });

  it("derives shared_buffers and effective_cache_size from the memory limit unless set", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 256 }), (gi) => {
        const s = postgresSettings({
          settings: {},
          resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: `${gi}Gi` } },
        });
        return s.shared_buffers === `${gi * 256}MB` && s.effective_cache_size === `${gi * 768}MB`;
      }),
    );
    const s = postgresSettings({
      settings: { shared_buffers: "2GB" },
      resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "4Gi" } },
    });
    assert.equal(s.shared_buffers, "2GB");
  });

  it("quotes string settings and escapes quotes", () => {
    assert.equal(renderPostgresConf({ a: "1.1", b: "ddl", c: "it's" }), "a = 1.1\nb = 'ddl'\nc = 'it''s'\n");
  });
});
