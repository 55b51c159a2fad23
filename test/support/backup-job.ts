/**
 * The backup CronJobs as the program declares them (dev stack under mocks), for the backup round-trip
 * tests: they run the container's very command with its environment against the loopback servers.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import { byType, runOk } from "./program";

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface JobContainer {
  command: string[];
  env: EnvVar[];
}

/** The backup container of the service's CronJob, as the program declares it (dev stack, mocks). */
export function backupContainer(service: string): JobContainer {
  const job = byType(runOk("dev"), "kubernetes:batch/v1:CronJob").find(
    (j) => j.name === `${service}-backup-cronjob`,
  );
  assert.ok(job, `the dev stack declares no ${service} backup CronJob`);
  const spec = job.inputs.spec as {
    jobTemplate: { spec: { template: { spec: { containers: JobContainer[] } } } };
  };
  const c = spec.jobTemplate.spec.template.spec.containers[0];
  // The very script of components/backup/<service>.sh, run by /bin/sh -c.
  const script = fs.readFileSync(path.join(BACKUP_SCRIPTS_DIR, `${service}.sh`), "utf8");
  assert.deepEqual(c.command, ["/bin/sh", "-c", script]);
  return c;
}

/**
 * The CronJob's environment for the loopback servers: every variable it sets, its literal value unless
 * `local` replaces it (each Secret-fed one must be given); `extra` are optional variables of the script
 * the CronJob leaves unset. Nothing else from this process but PATH and HOME.
 */
export function jobEnv(c: JobContainer, local: Record<string, string>, extra: Record<string, string> = {}) {
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
