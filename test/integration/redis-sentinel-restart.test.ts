/**
 * A Sentinel restarted as the published chart restarts it keeps the ACL users' discovery logins, and
 * `pulumi up` repairs a login deleted by hand without a refresh.
 *
 * The Sentinel is started by the chart's own `start-sentinel.sh` and `sentinel.conf`, rendered from the
 * program's values by `helm template`, unmodified, in a private mount namespace where the container's
 * paths are folders of this test: the ConfigMap's files, the sentinel-users Secret's file (its content
 * made by the program's own function), an emptyDir for the live config. What a pod has and this machine
 * does not is stood in for, and only that: the pod's DNS names (an /etc/hosts naming 127.0.0.1), the
 * Service-link env var with the master's port, and the bitnami image's shell libraries (info, retry_while,
 * replace_in_file, is_boolean_yes). Its master set has a name of its own, so the shared Sentinels of
 * scripts/services.sh never learn of it; it watches their master. Needs root (unshare, mount) and Helm.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  SENTINEL_USERS_DIR,
  SENTINEL_USERS_KEY,
  sentinelUsersConf,
} from "../../components/redis/sentinel-users";
import { RedisAclUsersInputs, RedisAclUsersOutputs, RedisAclUsersProvider } from "../../init/redis";
import { containersOf, inPrivateMounts, Manifest, renderRelease, requireHelm } from "../support/chart-render";
import { viaSerialization } from "../support/dynamic";
import { byType, runOk } from "../support/program";
import { aclScenarios, currentMaster, onRedis } from "../support/redis-fixtures";
import { closedPort, requireServer } from "../support/servers";
import { until } from "../support/wait";

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped */

const SENTINEL_ETC = "/opt/bitnami/redis-sentinel/etc";

/** The bitnami image's shell helpers the script sources: same names and contracts, written here. */
const LIBS: Record<string, string> = {
  "libos.sh": [
    'info() { echo "INFO  ==> $*" >&2; }',
    "debug() { :; }",
    'warn() { echo "WARN  ==> $*" >&2; }',
    'error() { echo "ERROR ==> $*" >&2; }',
    "retry_while() {",
    '  local cmd="${1:?cmd is missing}" retries="${2:-12}" sleep_time="${3:-5}" i; local -a args',
    '  read -r -a args <<<"$cmd"',
    '  for ((i = 1; i <= retries; i++)); do "${args[@]}" && return 0; sleep "$sleep_time"; done',
    "  return 1",
    "}",
  ].join("\n"),
  "libvalidations.sh": 'is_boolean_yes() { [[ "${1,,}" =~ ^(yes|true|1)$ ]]; }',
  "libfile.sh": [
    "replace_in_file() {",
    '  local file="$1" match="$2" subst="$3" posix="${4:-true}" del=$\'\\001\' out',
    '  if [[ $posix = true ]]; then out=$(sed -E "s${del}${match}${del}${subst}${del}g" "$file")',
    '  else out=$(sed "s${del}${match}${del}${subst}${del}g" "$file"); fi',
    '  echo "$out" >"$file"',
    "}",
  ].join("\n"),
};

/** The program's Redis release rendered with this test's Sentinel port and master set. */
function renderSentinel(helm: any, port: number, masterSet: string) {
  const run = runOk("dev");
  const rel = byType(run, "kubernetes:helm.sh/v3:Release").find((r) =>
    /\/redis$/.test(String(r.inputs.chart)),
  );
  const values = rel!.inputs.values as any;
  // Port and name only; `bind`: the chart's file listens on every interface, this test on loopback only.
  // `useHostnames: false`: Sentinel hands out the addresses /etc/hosts gives (127.0.0.1), which the
  // initialiser, outside the pod's mount namespace, can reach; the start script is the same otherwise.
  values.useHostnames = false;
  values.sentinel = {
    ...values.sentinel,
    masterSet,
    containerPorts: { sentinel: port },
    configuration: "bind 127.0.0.1",
  };
  const manifests = renderRelease(helm, run, "redis");
  const configMap = (name: string) =>
    manifests.find((m: Manifest) => m.kind === "ConfigMap" && m.metadata.name === name)!.data;
  const sentinel = containersOf(manifests).find(
    (c) => c.workload === "StatefulSet/redis-node" && c.container.name === "sentinel",
  )!;
  return {
    namespace: String(rel!.inputs.namespace),
    script: configMap("redis-scripts")["start-sentinel.sh"] as string,
    conf: configMap("redis-configuration")["sentinel.conf"] as string,
    container: sentinel.container,
    volumes: sentinel.volumes,
  };
}

describe("Redis Sentinel restarted by the published chart's start script", () => {
  it("keeps the users' logins, and `up` repairs one deleted by hand", async (t) => {
    const helm = requireHelm(t);
    const svc = await requireServer(t, "redis");
    if (!helm || !svc) return;
    const port = await closedPort();
    const masterSet = `aipd-${randomBytes(3).toString("hex")}`;
    const rendered = renderSentinel(helm, port, masterSet);
    // The rendered pod mounts the Secret the program creates, where the preExecCmds read it.
    const mount = rendered.container.volumeMounts.find((m: any) => m.mountPath === SENTINEL_USERS_DIR);
    const volume = rendered.volumes.find((v: any) => v.name === mount?.name);
    assert.equal(volume?.secret?.secretName, "redis-sentinel-users");
    assert.match(rendered.script, /sentinel-users\/users\.conf/);

    const { user, inputs } = aclScenarios();
    const app = user("sentinel-app");
    const inp: RedisAclUsersInputs = {
      ...inputs(svc, [app]),
      sentinels: [{ host: "127.0.0.1", port }],
      masterName: masterSet,
      timeoutSeconds: 60,
    };
    const password = inp.userPasswords[app.name];

    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-sentinel-"));
    const dirs = {
      libs: path.join(root, "scripts"),
      start: path.join(root, "scripts", "start-scripts"), // inside the libs' folder, as in the image
      etc: path.join(root, "etc"), // the emptyDir: kept across container restarts, as in a pod
      mounted: path.join(root, "mounted-etc"),
      users: path.join(root, "sentinel-users"),
    };
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    for (const [f, text] of Object.entries(LIBS)) fs.writeFileSync(path.join(dirs.libs, f), `${text}\n`);
    fs.writeFileSync(path.join(dirs.start, "start-sentinel.sh"), rendered.script, { mode: 0o755 });
    fs.writeFileSync(path.join(dirs.mounted, "sentinel.conf"), rendered.conf);
    const usersFile = path.join(dirs.users, SENTINEL_USERS_KEY);
    fs.writeFileSync(usersFile, sentinelUsersConf([{ name: app.name, password }]));
    const headless = `redis-headless.${rendered.namespace}.svc.cluster.local`;
    fs.writeFileSync(
      path.join(root, "hosts"),
      `127.0.0.1 localhost\n127.0.0.1 redis-node-0.${headless}\n127.0.0.1 redis.${rendered.namespace}.svc.cluster.local\n`,
    );

    let proc: ChildProcess | undefined;
    const log = path.join(root, "sentinel.log");
    const start = async () => {
      const master = await currentMaster(svc);
      const env: Record<string, string> = {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOSTNAME: "redis-node-0",
        // The Service link Kubernetes sets for the pod's own name: the master's port here.
        REDIS_NODE_0_SERVICE_PORT_REDIS: String(master.port),
      };
      for (const e of rendered.container.env ?? []) {
        env[e.name] = e.valueFrom?.secretKeyRef ? svc.password : String(e.value ?? "");
      }
      const mounts = [
        [dirs.libs, "/opt/bitnami/scripts"],
        [dirs.etc, SENTINEL_ETC],
        [dirs.mounted, "/opt/bitnami/redis-sentinel/mounted-etc"],
        [dirs.users, SENTINEL_USERS_DIR],
        [path.join(root, "hosts"), "/etc/hosts"],
      ];
      const setup = [
        "mount -t tmpfs aipd /opt",
        ...mounts.filter(([, to]) => to.startsWith("/opt/")).map(([, to]) => `mkdir -p ${to}`),
        ...mounts.map(([from, to]) => `mount --bind ${from} ${to}`),
        'exec "$@"',
      ].join("; ");
      const out = fs.openSync(log, "a");
      proc = spawn(
        "unshare",
        inPrivateMounts(setup, [...rendered.container.command, ...(rendered.container.args ?? [])]),
        { env, stdio: ["ignore", out, out] },
      );
      fs.closeSync(out);
      try {
        await until(`the Sentinel on ${port} to name the master`, () =>
          onRedis({ host: "127.0.0.1", port }, svc.password, (c) =>
            c.call("SENTINEL", "get-master-addr-by-name", masterSet),
          ).then((m) => m ?? undefined),
        );
      } catch (e) {
        const tail = fs.readFileSync(log, "utf8").split("\n").slice(-30).join("\n");
        throw new Error(`${(e as Error).message}; its start script and log:\n${tail}`);
      }
    };
    const stop = async () => {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    };
    /** What the user may do on the Sentinel: find the master, or the error that stops it. */
    const discovery = () =>
      onRedis<string[]>(
        { host: "127.0.0.1", port },
        password,
        (c) => c.call("SENTINEL", "get-master-addr-by-name", masterSet),
        app.name,
      ).then(
        (m: string[]) => `master ${m.join(":")}`,
        (e: Error) => e.message,
      );

    const { provider } = await viaSerialization(new RedisAclUsersProvider());
    let outs: RedisAclUsersOutputs | undefined;
    try {
      await start();
      const created = await provider.create!(inp);
      outs = created.outs as RedisAclUsersOutputs;
      assert.deepEqual(outs.sentinelNodes, [`127.0.0.1:${port}`]);
      assert.match(await discovery(), /^master /);

      // A container restart: the script copies the ConfigMap's file over the saved one, then appends ours.
      await stop();
      await start();
      assert.match(await discovery(), /^master /, "login lost across a restart");
      assert.match(
        fs.readFileSync(path.join(dirs.etc, "sentinel.conf"), "utf8"),
        new RegExp(`^user ${app.name} on `, "m"),
      );

      // What the chart alone does (no Secret file): the login saved by SENTINEL FLUSHCONFIG is gone.
      fs.rmSync(usersFile);
      await stop();
      await start();
      assert.doesNotMatch(await discovery(), /^master /, "the login outlived a restart without the file");
      assert.equal(
        await onRedis({ host: "127.0.0.1", port }, svc.password, (c) => c.call("ACL", "GETUSER", app.name)),
        null,
      );

      // The next `up` sees that without a refresh (check reads, diff compares) and repairs it.
      const checked = await provider.check!(inp, { ...inp, observe: true });
      assert.equal((await provider.diff!(created.id, outs, checked.inputs)).changes, true);
      const repaired = await provider.update!(created.id, outs, checked.inputs);
      outs = repaired.outs as RedisAclUsersOutputs;
      assert.deepEqual(outs.log, [`set ACL user ${app.name} on Sentinel 127.0.0.1:${port}`]);
      assert.equal(outs.observed, undefined, "observations stay out of the outputs");
      assert.match(await discovery(), /^master /);

      // A user deleted by hand on the master: the same, and a clean run after it shows no change.
      const master = await currentMaster(svc);
      await onRedis(master, svc.password, (c) => c.call("ACL", "DELUSER", app.name));
      const again = await provider.check!(inp, { ...inp, observe: true });
      assert.equal((await provider.diff!(created.id, outs, again.inputs)).changes, true);
      outs = (await provider.update!(created.id, outs, again.inputs)).outs as RedisAclUsersOutputs;
      assert.deepEqual(outs.log, [`set ACL user ${app.name} on ${master.host}:${master.port}`]);
      const clean = await provider.check!(inp, { ...inp, observe: true });
      assert.ok(clean.inputs.observed, "the servers were read");
      assert.equal((await provider.diff!(created.id, outs, clean.inputs)).changes, false);
    } finally {
      if (outs) await provider.delete!("redis-acl", outs).catch(() => undefined);
      await stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
