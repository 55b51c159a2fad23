/** Finding one resource of a mock run by the name Kubernetes or Helm gives it (not the Pulumi name). */
import * as assert from "node:assert/strict";
import { byType, ProgramRun, RegisteredResource } from "./program";

/** The Kubernetes object of `type` whose metadata.name is `name`, if the run registers one. */
export function named(run: ProgramRun, type: string, name: string): RegisteredResource | undefined {
  return byType(run, type).find((r) => (r.inputs.metadata as { name?: string } | undefined)?.name === name);
}

/** The Secret whose metadata.name is `name`, if the run registers one. */
export function secretNamed(run: ProgramRun, name: string): RegisteredResource | undefined {
  return named(run, "kubernetes:core/v1:Secret", name);
}

/** The Helm release called `name` (the release's name, not the Pulumi resource's), if any. */
export function releaseNamed(run: ProgramRun, name: string): RegisteredResource | undefined {
  return byType(run, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs.name === name);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are untyped JSON here
type Json = any;

/**
 * The container named `backup` of a backup CronJob's pod spec: its one container, or its init container
 * when an upload step follows it (`backup.s3`).
 */
export function backupStep(podSpec: Json): Json {
  const all = [...(podSpec.initContainers ?? []), ...podSpec.containers];
  const step = all.find((c: Json) => c.name === "backup");
  assert.ok(step, "the pod has no container named backup");
  return step;
}

/** The backup CronJob of `service` (`<service>-backup-cronjob`): its spec and its backup container. */
export function backupJob(run: ProgramRun, service: string): { spec: Json; container: Json } {
  const job = byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === `${service}-backup-cronjob`);
  assert.ok(job, `the run registers no backup CronJob of ${service}`);
  const spec = job.inputs.spec as Json;
  return { spec, container: backupStep(spec.jobTemplate.spec.template.spec) };
}
