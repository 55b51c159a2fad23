import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { redisAlertRules } from "../../components/redis/alerts";
import {
  REDIS_ACL_FILE,
  REDIS_ACL_PREPARE,
  redisConfigProblems,
  redisMaxmemory,
  redisSizeBytes,
  renderRedisConf,
} from "../../components/redis/values";
import { assertKnownKeys, isSecretInput, leakedPasswords } from "../support/assert-helpers";
import { byType, ProgramRun, releaseValues, runError, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";
import { ALL_EXTERNAL } from "../support/unit-runs";
import { backupJob, named, releaseNamed } from "../support/unit-resources";
import { REDIS_KEYS } from "./chart-keys";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values and k8s objects are untyped here */

/**
 * {@link leakedPasswords}, less the inputs that were handed over as Pulumi secrets: the initialisers'
 * dynamic resources take the passwords that way (and Pulumi stores them encrypted).
 */
function unprotectedLeaks(run: ProgramRun): string[] {
  return leakedPasswords(run).filter((hit) => {
    const r = run.resources.find((x) => hit.startsWith(`${x.type} ${x.name}: `));
    return !(r && isSecretInput(r, hit.slice(`${r.type} ${r.name}: `.length)));
  });
}

const resources = (memory: string) => ({
  requests: { cpu: "100m", memory: "64Mi" },
  limits: { cpu: "1", memory },
});
const persistence = { rdb: true, rdbSave: "900 1 300 10 60 10000", aof: true };

describe("Redis component", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("pins bitnami/redis 17.17.1 by OCI", () => {
    const rel = releaseNamed(prod, "redis")!;
    assert.equal(rel.inputs.chart, "oci://registry-1.docker.io/bitnamicharts/redis");
    assert.equal(rel.inputs.version, "17.17.1");
    assert.equal(rel.inputs.atomic, true);
  });

  it("sets only keys the pinned chart reads", () => {
    const maps = ["replica.sidecars[]", "sentinel.extraVolumes[]", "sentinel.extraVolumeMounts[]"];
    assertKnownKeys(releaseValues(prod, "/redis"), REDIS_KEYS, maps);
    assertKnownKeys(releaseValues(dev, "/redis"), REDIS_KEYS, maps);
  });

  it("gives each Sentinel the users' logins at every start, from a Secret of its own", () => {
    const v = releaseValues(prod, "/redis") as any;
    const volume = v.sentinel.extraVolumes.find((x: any) => x.secret?.secretName === "redis-sentinel-users");
    assert.ok(volume, "no volume of the redis-sentinel-users Secret");
    const mount = v.sentinel.extraVolumeMounts.find((m: any) => m.name === volume.name);
    assert.equal(mount.readOnly, true);
    assert.match(v.sentinel.preExecCmds, new RegExp(`${mount.mountPath}/users\\.conf`));
    const secret = byType(prod, "kubernetes:core/v1:Secret").find(
      (s) => (s.inputs.metadata as { name?: string } | undefined)?.name === "redis-sentinel-users",
    );
    assert.ok(secret, "the program creates no redis-sentinel-users Secret");
    // Hashes of the passwords: secret in state like the passwords themselves.
    assert.ok(
      secret.secretPaths.some((p) => p.startsWith("stringData")),
      `secret paths: ${secret.secretPaths.join(", ")}`,
    );
  });

  it("runs every node with a Sentinel beside it, sized with replica.* (master.* is ignored then)", () => {
    const v = releaseValues(prod, "/redis") as any;
    assert.equal(v.architecture, "replication");
    assert.equal(v.sentinel.enabled, true);
    assert.equal(v.master, undefined);
    assert.equal(v.replica.replicaCount, 3);
    assert.equal(v.sentinel.quorum, 2);
    assert.equal(v.sentinel.masterSet, "mymaster");
    assert.equal(v.fullnameOverride, "redis");
    const d = releaseValues(dev, "/redis") as any;
    assert.equal(d.replica.replicaCount, 1);
    assert.equal(d.sentinel.quorum, 1);
  });

  it("carries the prod sizes of the design and bitnamilegacy images", () => {
    const v = releaseValues(prod, "/redis") as any;
    assert.deepEqual(v.replica.persistence, { enabled: true, size: "8Gi", storageClass: "ssd" });
    assert.deepEqual(v.replica.resources, {
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { cpu: "1", memory: "2Gi" },
    });
    for (const sidecar of [v.sentinel, ...v.replica.sidecars]) {
      assert.ok(
        sidecar.resources.requests.cpu && sidecar.resources.limits.memory,
        "sidecar without resources",
      );
    }
    assert.equal(v.image.repository, "bitnamilegacy/redis");
    assert.equal(v.sentinel.image.repository, "bitnamilegacy/redis-sentinel");
    assert.equal(v.metrics.image.repository, "bitnamilegacy/redis-exporter");
    assert.equal(v.volumePermissions.image.repository, "bitnamilegacy/os-shell");
    assert.equal(v.sysctl.image.repository, "bitnamilegacy/os-shell");
    assert.equal(v.image.tag, undefined, "the chart's own tag must stay unless config pins one");
    assert.equal(v.networkPolicy.enabled, false);
    // The chart's exporter would log in as `default`: off, the program's sidecar instead.
    assert.equal(v.metrics.enabled, false);
  });

  it("exports metrics from a sidecar of its own, logged in as the exporter's ACL user", () => {
    const v = releaseValues(prod, "/redis") as any;
    const [c] = v.replica.sidecars;
    assert.equal(c.image, "docker.io/bitnamilegacy/redis-exporter:1.52.0-debian-11-r25");
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.deepEqual(env, {
      REDIS_ADDR: "redis://127.0.0.1:6379",
      REDIS_ALIAS: "redis",
      REDIS_USER: "redis_exporter",
      REDIS_PASSWORD: { secretKeyRef: { name: "redis-credentials", key: "metrics-password" } },
      REDIS_EXPORTER_CONFIG_COMMAND: "-",
    });
    assert.deepEqual(c.ports, [{ name: "http-metrics", containerPort: 9121, protocol: "TCP" }]);
    const monitor = byType(prod, "kubernetes:monitoring.coreos.com/v1:PodMonitor").find(
      (r) => r.name === "redis-pod-monitor",
    )!;
    assert.deepEqual((monitor.inputs.spec as any).selector.matchLabels, {
      "app.kubernetes.io/name": "redis",
      "app.kubernetes.io/instance": "redis",
    });
    assert.equal(
      byType(dev, "kubernetes:monitoring.coreos.com/v1:PodMonitor").find(
        (r) => r.name === "redis-pod-monitor",
      ),
      undefined,
    );
    // The initialiser keeps the exporter's user: no key, no channel, no CONFIG (it would reveal requirepass).
    const acl = byType(prod, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "redis-acl-users")!;
    const user = (acl.inputs.users as any[]).find((u) => u.name === "redis_exporter");
    assert.deepEqual(user, {
      name: "redis_exporter",
      keys: [],
      channels: [],
      commands:
        "-@all +ping +info +client|setname +latency|latest +latency|histogram +slowlog|len +slowlog|get",
    });
    assert.ok(isSecretInput(acl, "userPasswords.redis_exporter"));
  });

  it("writes persistence, maxmemory and the ACL file into redis.conf", () => {
    const conf = (releaseValues(prod, "/redis") as any).commonConfiguration as string;
    assert.match(conf, /^appendonly yes$/m);
    assert.match(conf, /^save 900 1 300 10 60 10000$/m);
    assert.match(conf, /^maxmemory 1536mb$/m);
    assert.match(conf, /^maxmemory-policy allkeys-lru$/m);
    assert.match(conf, /^aclfile \/data\/users\.acl$/m);
    assert.doesNotMatch(conf, /\{\{/, "the chart renders commonConfiguration through tpl");
    const devConf = (releaseValues(dev, "/redis") as any).commonConfiguration as string;
    assert.match(devConf, /^maxmemory 192mb$/m);
    assert.equal((releaseValues(prod, "/redis") as any).replica.preExecCmds, REDIS_ACL_PREPARE);
  });

  it("reads the password from the credentials Secret, never from values", () => {
    const v = releaseValues(prod, "/redis") as any;
    assert.deepEqual(v.auth, {
      enabled: true,
      sentinel: true,
      existingSecret: "redis-credentials",
      existingSecretPasswordKey: "redis-password",
    });
    const secret = named(prod, "kubernetes:core/v1:Secret", "redis-credentials")!;
    const keys = Object.keys(secret.inputs.stringData as object).sort();
    assert.deepEqual(keys, ["acl-app-password", "backup-password", "metrics-password", "redis-password"]);
    for (const k of keys) assert.ok(isSecretInput(secret, `stringData.${k}`), `${k} is not a Pulumi secret`);
  });

  it("leaks no generated password outside Secret data", () => {
    assert.deepEqual(unprotectedLeaks(prod), []);
    assert.deepEqual(unprotectedLeaks(dev), []);
  });

  it("gives applications the Sentinels, the master set and an ACL user's login, never the default user's", () => {
    const creds = named(prod, "kubernetes:core/v1:Secret", "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["redis-sentinels"], "redis.ai-platform-data.svc.cluster.local:26379");
    assert.equal(data["redis-master-name"], "mymaster");
    assert.equal(data["redis-username"], "app");
    const server = named(prod, "kubernetes:core/v1:Secret", "redis-credentials")!;
    const serverData = server.inputs.stringData as Record<string, string>;
    assert.equal(data["redis-password"], serverData["acl-app-password"]);
    assert.notEqual(data["redis-password"], serverData["redis-password"], "applications got the superuser");
    assert.ok(isSecretInput(creds, "stringData.redis-password"));
    const endpoints = prod.outputs.endpoints;
    assert.equal((endpoints.value as any).redis, "redis.ai-platform-data.svc.cluster.local:26379");
    assert.equal(endpoints.secret, false);
    assert.equal(prod.outputs.connectionStrings.secret, true);
  });

  it("backs up the master's RDB found through Sentinel, as its own ACL user, password by secretKeyRef", () => {
    const { spec, container: c } = backupJob(prod, "redis");
    assert.equal(spec.schedule, "15 2 * * *");
    assert.equal(c.image, "docker.io/bitnamilegacy/redis:7.0.12-debian-11-r34");
    assert.match(c.command[2], /SENTINEL get-master-addr-by-name/);
    assert.match(c.command[2], /--rdb "\$out\.partial"/);
    const env = (n: string) => c.env.find((e: { name: string }) => e.name === n);
    assert.equal(env("REDIS_USER").value, "redis_backup");
    assert.deepEqual(env("REDISCLI_AUTH").valueFrom, {
      secretKeyRef: { name: "redis-credentials", key: "backup-password" },
    });
    const acl = byType(prod, "pulumi-nodejs:dynamic:Resource").find((r) => r.name === "redis-acl-users")!;
    assert.deepEqual(
      (acl.inputs.users as any[]).find((u) => u.name === "redis_backup"),
      { name: "redis_backup", keys: [], channels: [], commands: "-@all +ping +replconf +sync +psync" },
    );
    assert.equal(env("REDISCLI_AUTH").value, undefined);
    assert.equal(env("REDIS_SENTINEL_HOST").value, "redis");
    assert.equal(env("REDIS_SENTINEL_PORT").value, "26379");
    assert.equal(env("REDIS_MASTER_SET").value, "mymaster");
    assert.equal(env("RETENTION_DAYS").value, "14");
  });

  it("lets clients and peers in on 6379 and 26379, Prometheus alone on 9121", () => {
    const np = named(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "redis-clients")!;
    const spec = np.inputs.spec as any;
    assert.deepEqual(spec.podSelector.matchLabels, { "app.kubernetes.io/instance": "redis" });
    assert.deepEqual(
      spec.ingress[0].ports.map((p: { port: number }) => p.port),
      [6379, 26379],
    );
  });

  it("alerts on hit ratio, memory, clients, latency and replication in prod only", () => {
    const rule = named(prod, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "redis-alerts")!;
    const rules = (rule.inputs.spec as any).groups[0].rules as { alert: string; expr: string }[];
    const expr = (a: string) => rules.find((r) => r.alert === a)?.expr ?? assert.fail(`no ${a}`);
    assert.match(expr("RedisLowHitRatio"), /redis_keyspace_hits_total.*redis_keyspace_misses_total/);
    assert.match(expr("RedisMemoryNearMaxmemory"), /redis_memory_used_bytes.*redis_memory_max_bytes/);
    assert.match(expr("RedisTooManyClients"), /redis_connected_clients/);
    assert.match(expr("RedisHighLatency"), /redis_commands_duration_seconds_total/);
    assert.match(
      expr("RedisReplicasMissing"),
      /max\(redis_connected_slaves\{namespace="ai-platform-data"\}\) < 2$/,
    );
    assert.match(expr("RedisMasterLinkDown"), /redis_master_link_up/);
    assert.ok(rules.some((r) => r.alert === "redisVolumeAlmostFull"));
    assert.equal(named(dev, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "redis-alerts"), undefined);
    const single = redisAlertRules("ns", 1).map((r) => r.alert);
    assert.ok(!single.includes("RedisReplicasMissing") && !single.includes("RedisMasterLinkDown"));
  });

  it("deploys nothing in external mode and hands over the configured Sentinels", () => {
    // Every service external in one run, shared with the other components' files.
    const ext = runOk("dev", ALL_EXTERNAL);
    const charts = byType(ext, "kubernetes:helm.sh/v3:Release").map((r) => String(r.inputs.chart));
    assert.ok(!charts.some((c) => c.endsWith("/redis")), "a Redis release was deployed");
    assert.equal(named(ext, "kubernetes:core/v1:Secret", "redis-credentials"), undefined);
    assert.ok(!byType(ext, "kubernetes:batch/v1:CronJob").some((j) => j.name === "redis-backup-cronjob"));
    assert.equal((ext.outputs.endpoints.value as any).redis, "s1.example:26379,s2.example:26380");
    const creds = named(ext, "kubernetes:core/v1:Secret", "db-credentials")!;
    const data = creds.inputs.stringData as Record<string, string>;
    assert.equal(data["redis-sentinels"], "s1.example:26379,s2.example:26380");
    assert.equal(data["redis-master-name"], "cache");
    assert.equal(data["redis-username"], "app");
    assert.notEqual(data["redis-password"], "external-redis-password", "applications got the superuser");
    assert.ok(isSecretInput(creds, "stringData.redis-password"));
    // Without redisSentinelPassword the Sentinels get the nodes' password.
    const acl = ext.resources.find((r) => r.name === "redis-acl-users")!;
    assert.equal(acl.inputs.sentinelPassword, "external-redis-password");
    assert.ok(isSecretInput(acl, "sentinelPassword"));
  });

  it("uses redisSentinelPassword for external Sentinels that have their own", () => {
    const ext = runOk("dev", {
      "ai-platform-data:redis": {
        mode: "external",
        endpoint: { sentinels: [{ host: "s1.example", port: 26379 }] },
        aclUsers: [{ name: "app", keys: ["cache:*"] }],
      },
      "ai-platform-data:redisPassword": "node-password",
      "ai-platform-data:redisSentinelPassword": "sentinel-password",
    });
    const acl = ext.resources.find((r) => r.name === "redis-acl-users")!;
    assert.equal(acl.inputs.password, "node-password");
    assert.equal(acl.inputs.sentinelPassword, "sentinel-password");
    assert.ok(isSecretInput(acl, "sentinelPassword"));
  });

  it("stops before deploying when a save rule would crash Redis", () => {
    const message = runError(
      "dev",
      serviceOverride("dev", "redis", { persistence: { rdbSave: "900 1 300" } }),
    );
    assert.match(message, /redis\.persistence\.rdbSave: "900 1 300" must be pairs of whole numbers/);
  });
});

describe("Redis derived settings", () => {
  it("derives maxmemory as 75% of the memory limit, in whole mb", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 512 * 1024 }), (mi) => {
        const m = redisMaxmemory({ maxmemory: undefined, resources: resources(`${mi}Mi`) });
        const bytes = redisSizeBytes(m)!;
        const target = mi * 2 ** 20 * 0.75;
        return /^\d+mb$/.test(m) && bytes <= target && bytes > target - 2 ** 20;
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 256 }), (gi) => {
        return redisMaxmemory({ maxmemory: undefined, resources: resources(`${gi}Gi`) }) === `${gi * 768}mb`;
      }),
    );
    assert.equal(redisMaxmemory({ maxmemory: undefined, resources: resources("1000") }), "750");
  });

  it("keeps an explicit maxmemory", () => {
    assert.equal(redisMaxmemory({ maxmemory: "768MB", resources: resources("1Gi") }), "768mb");
  });

  it("reads Redis sizes with redis.conf units", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (n) => {
        return (
          redisSizeBytes(`${n}mb`) === n * 2 ** 20 &&
          redisSizeBytes(`${n}m`) === n * 1e6 &&
          redisSizeBytes(`${n}GB`) === n * 2 ** 30 &&
          redisSizeBytes(`${n}`) === n
        );
      }),
    );
    assert.equal(redisSizeBytes("12xb"), undefined);
  });

  it("renders each persistence choice", () => {
    const base = { maxmemory: "100mb", maxmemoryPolicy: "noeviction" as const, resources: resources("1Gi") };
    const rdbOnly = renderRedisConf({ ...base, persistence: { ...persistence, aof: false } });
    assert.match(rdbOnly, /^appendonly no$/m);
    assert.match(rdbOnly, /^save 900 1 300 10 60 10000$/m);
    const aofOnly = renderRedisConf({ ...base, persistence: { ...persistence, rdb: false } });
    assert.match(aofOnly, /^appendonly yes$/m);
    assert.match(aofOnly, /^save ""$/m);
    const spaced = renderRedisConf({ ...base, persistence: { ...persistence, rdbSave: "  60   5 " } });
    assert.match(spaced, /^save 60 5$/m);
    assert.match(spaced, /^maxmemory 100mb$/m);
    assert.match(spaced, /^maxmemory-policy noeviction$/m);
  });

  it("names the key of each cross-key problem", () => {
    const ok = {
      persistence,
      maxmemory: undefined,
      resources: resources("1Gi"),
      sentinel: { quorum: 1, masterSet: "m" },
    };
    assert.deepEqual(redisConfigProblems(ok), []);
    for (const bad of ["", "900", "0 1", "60 x", "900 1 300"]) {
      const p = redisConfigProblems({ ...ok, persistence: { ...persistence, rdbSave: bad } });
      assert.equal(p.length, 1, `save rule ${JSON.stringify(bad)} was accepted`);
      assert.match(p[0], /redis\.persistence\.rdbSave/);
    }
    assert.deepEqual(
      redisConfigProblems({ ...ok, persistence: { ...persistence, rdb: false, rdbSave: "" } }),
      [],
    );
    assert.match(redisConfigProblems({ ...ok, maxmemory: "2gb" })[0], /redis\.maxmemory: "2gb" is above/);
    assert.deepEqual(redisConfigProblems({ ...ok, maxmemory: "1gb" }), []);
    const mismatch = redisConfigProblems({
      ...ok,
      endpoint: { sentinels: [{ host: "h", port: 1 }], masterName: "x" },
    });
    assert.match(mismatch[0], /redis\.endpoint\.masterName: "x" differs/);
  });
});

describe("Redis ACL file preparation (replica.preExecCmds)", () => {
  const run = (file: string, password: string) =>
    execFileSync("sh", ["-c", REDIS_ACL_PREPARE.replace(`acl_file=${REDIS_ACL_FILE}`, `acl_file=${file}`)], {
      env: { PATH: process.env.PATH, REDIS_PASSWORD: password },
    });
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");

  it("creates the file with the default user's password hash, never an empty file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-acl-"));
    const file = path.join(dir, "users.acl");
    run(file, "first password");
    assert.equal(fs.readFileSync(file, "utf8"), `user default on #${sha("first password")} ~* &* +@all\n`);
    assert.equal(fs.statSync(file).mode & 0o077, 0, "the ACL file is readable by others");
  });

  it("keeps the saved users and replaces a stale default line with the current password", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-acl-"));
    const file = path.join(dir, "users.acl");
    const app = "user app on #abc ~cache:* resetchannels -@all +@read";
    fs.writeFileSync(file, `${app}\nuser default on #${sha("old")} ~* &* +@all\n`);
    run(file, "rotated");
    const lines = fs.readFileSync(file, "utf8").trim().split("\n");
    assert.deepEqual(lines, [`user default on #${sha("rotated")} ~* &* +@all`, app]);
    assert.ok(!fs.existsSync(`${file}.tmp`));
  });
});
