/**
 * The S3 server of scripts/services/s3.sh for the off-site copy tests: a bucket of their own, the
 * environment components/backup/offsite.sh reads, and the script run with it.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { BACKUP_SCRIPTS_DIR } from "../../components/shared/backup";
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

/** A new bucket on the server, for one test file. */
export function newBucket(s3: Services["s3"]): string {
  const bucket = `aipd-test-${randomBytes(4).toString("hex")}`;
  assert.equal(s3Request(s3, "PUT", `/${bucket}`), 200, `could not create bucket ${bucket}`);
  return bucket;
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
