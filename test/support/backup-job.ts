/**
 * The backup CronJobs as the program declares them (dev stack under mocks), for the backup round-trip
 * tests: they run the container's very command with its environment against the loopback servers.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { byType, ClusterSecrets, runOk } from "./program";

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface JobContainer {
  command: string[];
  env: EnvVar[];
}

type PodSpec = { containers: JobContainer[]; initContainers?: JobContainer[] };

/** The pod spec of the CronJob the dev stack registers as `resource` (under mocks, with `overrides` and `secrets`). */
function cronJobPod(resource: string, overrides: Record<string, unknown>, secrets: ClusterSecrets): PodSpec {
  const job = byType(runOk("dev", overrides, secrets), "kubernetes:batch/v1:CronJob").find(
    (j) => j.name === resource,
  );
  assert.ok(job, `the dev stack declares no CronJob ${resource}`);
  return (job.inputs.spec as { jobTemplate: { spec: { template: { spec: PodSpec } } } }).jobTemplate.spec
    .template.spec;
}

/** The text of components/backup/<name>.sh, as a container runs it. */
const script = (name: string) => fs.readFileSync(path.join(BACKUP_SCRIPTS_DIR, `${name}.sh`), "utf8");

/** The containers of a service's backup CronJob: the backup, and with `backup.s3` the upload after it. */
export interface JobContainers {
  backup: JobContainer;
  offsite?: JobContainer;
}

/**
 * The containers of the service's backup CronJob as the program declares them (the dev stack, under
 * mocks, with `overrides` and the cluster's `secrets`): each runs the very script of
 * components/backup/<name>.sh with /bin/sh -c.
 */
export function jobContainers(
  service: string,
  overrides: Record<string, unknown> = {},
  secrets: ClusterSecrets = {},
): JobContainers {
  const pod = cronJobPod(`${service}-backup-cronjob`, overrides, secrets);
  if (!pod.initContainers) {
    assert.equal(pod.containers.length, 1);
    assert.deepEqual(pod.containers[0].command, ["/bin/sh", "-c", script(service)]);
    return { backup: pod.containers[0] };
  }
  // Off-site copies: the backup first (init container), then the upload.
  assert.equal(pod.initContainers.length, 1);
  assert.equal(pod.containers.length, 1);
  const [backup, offsite] = [pod.initContainers[0], pod.containers[0]];
  assert.deepEqual(backup.command, ["/bin/sh", "-c", script(service)]);
  assert.deepEqual(offsite.command.slice(0, 4), ["/bin/sh", "-c", script("offsite"), "offsite"]);
  return { backup, offsite };
}

/** The backup container of the service's CronJob, as the program declares it (dev stack, mocks). */
export function backupContainer(service: string): JobContainer {
  return jobContainers(service).backup;
}

/**
 * The CronJob's environment for the loopback servers: every variable it sets, its literal value unless
 * `local` replaces it (each Secret-fed one must be given); `extra` are optional variables of the script
 * the CronJob leaves unset. Nothing else from this process but PATH and HOME.
 */
export function jobEnv(
  c: JobContainer,
  local: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env) {
    const v = local[e.name] ?? e.value;
    assert.ok(v !== undefined, `${e.name} comes from a Secret in the CronJob: give it a local value`);
    env[e.name] = v;
  }
  for (const k of Object.keys(local)) assert.ok(env[k] !== undefined, `the CronJob does not set ${k}`);
  for (const k of Object.keys(extra)) assert.ok(!(k in env), `the CronJob sets ${k} itself`);
  return { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env, ...extra };
}

/** The containers of a service's restore-drill CronJob: the drill, and with `backup.s3` the fetch before it. */
export interface DrillContainers {
  drill: JobContainer;
  fetch?: JobContainer;
}

/**
 * The restore-drill CronJob's containers as the program declares them (dev stack under mocks, with
 * `overrides` and the cluster's `secrets`): the drill runs the `drill` mode of the service's script.
 */
export function drillContainers(
  service: string,
  overrides: Record<string, unknown> = {},
  secrets: ClusterSecrets = {},
): DrillContainers {
  const pod = cronJobPod(`${service}-drill-cronjob`, overrides, secrets);
  assert.equal(pod.containers.length, 1);
  const drill = pod.containers[0];
  assert.deepEqual(drill.command, ["/bin/sh", "-c", script(service), service, "drill"]);
  return { drill, fetch: pod.initContainers?.[0] };
}

/**
 * Runs a drill container as declared, its DRILL_DIR and SCRATCH_DIR (and whatever `local` names)
 * replaced by this machine's; `path` goes first on PATH, `onlyPath` is the whole PATH; `user` runs it as
 * that OS user (initdb refuses root).
 */
export function runDrill(
  c: JobContainer,
  local: Record<string, string>,
  opts: { path?: string; onlyPath?: string; user?: string; timeout?: number } = {},
) {
  const env = jobEnv(c, local);
  if (opts.path) env.PATH = `${opts.path}:${env.PATH}`;
  // The image's tools alone (busybox's, see busyboxPath in s3.ts).
  if (opts.onlyPath) env.PATH = opts.onlyPath;
  const [cmd, ...args] = c.command;
  const r = opts.user
    ? spawnSync(
        "runuser",
        [
          "-u",
          opts.user,
          "--",
          "env",
          "-i",
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          cmd,
          ...args,
        ],
        {
          encoding: "utf8",
          timeout: opts.timeout ?? 300_000,
        },
      )
    : spawnSync(cmd, args, { env, encoding: "utf8", timeout: opts.timeout ?? 300_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
