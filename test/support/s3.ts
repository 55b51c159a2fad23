/**
 * The S3 server of scripts/services/s3.sh for the off-site copy tests: a bucket of their own, the
 * environment components/backup/offsite.sh reads, and the script run with it.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
import * as fs from "node:fs";
import { JobContainer, jobContainers, jobEnv } from "./backup-job";
import type { ClusterSecrets } from "./program";
import type { Services } from "./servers";

export const OFFSITE_SCRIPT = path.join(BACKUP_SCRIPTS_DIR, "offsite.sh");

/** A signed request with curl (the keys on its stdin, as the script does); returns the HTTP status. */
export function s3Request(s3: Services["s3"], method: string, urlPath: string, args: string[] = []): number {
  const r = spawnSync(
    "curl",
    [
      "-sS",
      "-K",
      "-",
      "--aws-sigv4",
      `aws:amz:${s3.region}:s3`,
      "-X",
      method,
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      ...args,
      `${s3.endpoint}${urlPath}`,
    ],
    { input: `user = "${s3.accessKeyId}:${s3.secretAccessKey}"\n`, encoding: "utf8" },
  );
  return Number(r.stdout);
}

/**
 * The folder of this test process in the server's test bucket (`s3.bucket`, made by scripts/services.sh):
 * `runs/<random>/<name>`. One bucket for every run: SeaweedFS gives each bucket volumes of its own, and
 * a bucket per test file per run used them all up after some fifty runs.
 */
const RUN_ROOT = `runs/${randomBytes(4).toString("hex")}`;
export function testPrefix(name: string): string {
  return `${RUN_ROOT}/${name}`;
}

/** The script's environment for `bucket` and `prefix` (keys of the server unless overridden). */
export function offsiteEnv(
  s3: Services["s3"],
  bucket: string,
  prefix: string,
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH!,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: bucket,
    S3_PREFIX: prefix,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...over,
  };
}

/** Runs offsite.sh with `args`; its status and both outputs. */
export function offsite(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync("sh", [OFFSITE_SCRIPT, ...args], { env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The Secret `backup.s3.existingSecret` names in the test stacks. */
export const OFFSITE_SECRET = "backup-s3";

/**
 * `backup.s3` for a mock run of the dev stack (an endpoint nothing contacts: the tests put this machine's
 * server in its place), and the Secret it names as the cluster would hold it.
 */
export function offsiteStack(namespace = "ai-platform-data-dev"): {
  overrides: Record<string, unknown>;
  secrets: ClusterSecrets;
} {
  return {
    overrides: {
      "ai-platform-data:backup": {
        s3: {
          endpoint: "https://s3.example.invalid",
          bucket: "aipd-offsite",
          prefix: "stacks/dev",
          region: "us-east-1",
          existingSecret: OFFSITE_SECRET,
        },
      },
    },
    secrets: {
      [`${namespace}/${OFFSITE_SECRET}`]: {
        AWS_ACCESS_KEY_ID: "MOCKSECRETofsiteKeyId",
        AWS_SECRET_ACCESS_KEY: "MOCKSECRETofsiteKey",
      },
    },
  };
}

/**
 * Runs a backup CronJob's upload step as declared (its command and environment; see jobContainers)
 * over `dir` instead of the claim, against `bucket` of the test server: this machine's endpoint, bucket
 * and keys replace the stack's; the prefix stays the declared `<prefix>/<service>` unless `over` sets it.
 */
export function runUploadStep(
  step: JobContainer,
  s3: Services["s3"],
  bucket: string,
  dir: string,
  over: Record<string, string> = {},
) {
  const [cmd, ...args] = step.command;
  assert.equal(args[3], "sync");
  const env = jobEnv(step, {
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: bucket,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...over,
  });
  const r = spawnSync(cmd, [...args.slice(0, 4), dir, ...args.slice(5)], {
    env,
    encoding: "utf8",
    timeout: 300_000,
  });
  assert.ok(!`${r.stdout}${r.stderr}`.includes(s3.secretAccessKey), "no S3 key in the output");
  return { status: r.status, out: r.stdout, err: r.stderr, prefix: env.S3_PREFIX };
}

/**
 * Brings every backup of `prefix` (offsite.sh list) back from the bucket into `dir` with offsite.sh
 * fetch, which checks each against its recorded size and SHA-256; returns their names.
 */
export function fetchAll(s3: Services["s3"], bucket: string, prefix: string, dir: string): string[] {
  const env = offsiteEnv(s3, bucket, prefix);
  const listed = offsite(env, "list");
  assert.equal(listed.status, 0, listed.err);
  const names = listed.out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[0]);
  for (const name of names) {
    const r = offsite(env, "fetch", name, path.join(dir, name));
    assert.equal(r.status, 0, r.err);
  }
  return names;
}

/**
 * The off-site leg of a service's backup round trip: the service's CronJob as declared with backup.s3
 * (dev stack, mocks) runs its upload step over what its backup wrote into `dir`, into a new bucket of
 * the test server; then each uploaded file is lost locally and what comes back from the bucket (each
 * checked by size and SHA-256) is what the test goes on to restore. Returns the names brought back.
 */
export function offsiteRoundTrip(service: string, s3: Services["s3"], dir: string): string[] {
  const stack = offsiteStack();
  const { offsite: upload } = jobContainers(service, stack.overrides, stack.secrets);
  assert.ok(upload, `the ${service} backup CronJob has no upload step with backup.s3`);
  const bucket = s3.bucket;
  const up = runUploadStep(upload, s3, bucket, dir, { S3_PREFIX: testPrefix(service) });
  assert.equal(up.status, 0, up.err);
  const backups = fs
    .readdirSync(dir)
    .filter((f) => fs.statSync(path.join(dir, f)).isFile() && !/\.(offsite|partial)$/.test(f))
    .sort();
  assert.ok(backups.length > 0, `no backup in ${dir}`);
  for (const f of backups) {
    assert.ok(fs.existsSync(path.join(dir, `${f}.offsite`)), `${f} has no checked copy`);
    fs.rmSync(path.join(dir, f));
    fs.rmSync(path.join(dir, `${f}.offsite`));
  }
  const fetched = fetchAll(s3, bucket, up.prefix, dir).sort();
  assert.deepEqual(fetched, backups);
  return fetched;
}

/**
 * A PATH of busybox's applets and this machine's curl alone, for running offsite.sh as the curl image
 * (Alpine: busybox sh, sed, sha256sum, ...) runs it; undefined without busybox (scripts/services.sh
 * installs it). Made once per `dir`.
 */
export function busyboxPath(dir: string): string | undefined {
  const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
  const curl = spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim();
  if (!busybox || !curl) return undefined;
  fs.mkdirSync(dir, { recursive: true });
  const applets = spawnSync(busybox, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  for (const a of applets) {
    if (a !== "curl" && !fs.existsSync(path.join(dir, a))) fs.symlinkSync(busybox, path.join(dir, a));
  }
  if (!fs.existsSync(path.join(dir, "curl"))) fs.symlinkSync(curl, path.join(dir, "curl"));
  return dir;
}
