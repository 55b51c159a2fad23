/**
 * `backup.s3` (issue 23): every backup CronJob uploads its backups to the bucket after writing them, the
 * keys only from the user's Secret; Weaviate writes its backups there itself (backup-s3 module) instead
 * of onto the job's claim. Under Pulumi mocks, from the dev stack with `backup.s3` set.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupS3Values } from "../../components/weaviate/values";
import { offsitePrefix } from "../../components/shared/backup";
import { parseConfig } from "../../config";
import { jobContainers } from "../support/backup-job";
import { byType, releaseValues, runError, runOk, stackConfig } from "../support/program";
import { OFFSITE_SECRET, offsiteStack } from "../support/s3";
import { configProblems } from "../support/unit-config";

const SERVICES = ["postgres", "mongodb", "redis", "kafka", "weaviate"] as const;
const stack = offsiteStack();
const s3 = (stack.overrides["ai-platform-data:backup"] as { s3: Record<string, string> }).s3;

type Pod = {
  containers: { name: string; env: { name: string; value?: string; valueFrom?: unknown }[] }[];
  initContainers?: { name: string }[];
  affinity?: unknown;
  volumes?: unknown[];
};
const podOf = (inputs: Record<string, unknown>) =>
  (inputs.spec as { jobTemplate: { spec: { template: { spec: Pod } } } }).jobTemplate.spec.template.spec;

describe("off-site backup copies (backup.s3)", () => {
  it("runs each service's backup first, then its upload to <prefix>/<service>, the keys from the Secret", () => {
    for (const service of SERVICES) {
      const { backup, offsite } = jobContainers(service, stack.overrides, stack.secrets);
      assert.ok(offsite, `${service}: no upload step`);
      assert.deepEqual(offsite.command.slice(4), ["sync", "/backup", "7"], service);
      const env = Object.fromEntries(offsite.env.map((e) => [e.name, e]));
      assert.deepEqual(
        Object.fromEntries(
          ["S3_ENDPOINT", "S3_BUCKET", "S3_PREFIX", "S3_REGION"].map((k) => [k, env[k]?.value]),
        ),
        {
          S3_ENDPOINT: s3.endpoint,
          S3_BUCKET: s3.bucket,
          S3_PREFIX: `stacks/dev/${service}`,
          S3_REGION: "us-east-1",
        },
        service,
      );
      for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        assert.deepEqual(env[k], { name: k, valueFrom: { secretKeyRef: { name: OFFSITE_SECRET, key: k } } });
      }
      // The backup step is the one of a stack without backup.s3, but for Weaviate's backend.
      const plain = jobContainers(service).backup;
      const weaviateBackend = (c: typeof plain) =>
        c.env.find((e) => e.name === "WEAVIATE_BACKUP_BACKEND")?.value;
      if (service === "weaviate") {
        assert.equal(weaviateBackend(plain), "filesystem");
        assert.equal(weaviateBackend(backup), "s3");
      } else {
        assert.deepEqual(backup, plain);
      }
    }
  });

  it("waits for the Secret and never puts a key in a literal", () => {
    const run = runOk("dev", stack.overrides, stack.secrets);
    const read = run.resources.find((r) => r.name === "backup-s3-credentials");
    assert.equal(read?.readId, `ai-platform-data-dev/${OFFSITE_SECRET}`);
    const text = JSON.stringify(run.resources.filter((r) => r.name !== "backup-s3-credentials"));
    for (const v of Object.values(stack.secrets[`ai-platform-data-dev/${OFFSITE_SECRET}`])) {
      assert.ok(!text.includes(v), "an S3 key in a resource's inputs");
    }
  });

  it("refuses a Secret without both keys, naming the config key and the missing key", () => {
    const msg = runError("dev", stack.overrides, {
      [`ai-platform-data-dev/${OFFSITE_SECRET}`]: { AWS_ACCESS_KEY_ID: "MOCKSECRETonlyTheId" },
    });
    assert.match(
      msg,
      /ai-platform-data:backup\.s3\.existingSecret: Secret "ai-platform-data-dev\/backup-s3"/,
    );
    assert.match(msg, /has no value for key "AWS_SECRET_ACCESS_KEY"/);
    assert.ok(!msg.includes("MOCKSECRETonlyTheId"));
  });

  it("has Weaviate write its backups to <prefix>/weaviate itself, no claim in its pods", () => {
    const run = runOk("dev", stack.overrides, stack.secrets);
    const values = releaseValues(run, "weaviate") as {
      backups: Record<string, unknown>;
      extraVolumes?: unknown;
      command?: unknown;
    };
    assert.deepEqual(values.backups.s3, {
      enabled: true,
      envconfig: {
        BACKUP_S3_BUCKET: "aipd-offsite",
        BACKUP_S3_PATH: "stacks/dev/weaviate",
        BACKUP_S3_ENDPOINT: "s3.example.invalid",
        BACKUP_S3_USE_SSL: "true",
        AWS_REGION: "us-east-1",
      },
      envSecrets: { AWS_ACCESS_KEY_ID: OFFSITE_SECRET, AWS_SECRET_ACCESS_KEY: OFFSITE_SECRET },
    });
    // The job's records go where Weaviate writes, so retention prunes both together.
    const { offsite } = jobContainers("weaviate", stack.overrides, stack.secrets);
    assert.equal(
      offsite?.env.find((e) => e.name === "S3_PREFIX")?.value,
      (values.backups.s3 as { envconfig: Record<string, string> }).envconfig.BACKUP_S3_PATH,
    );
    assert.equal(values.extraVolumes, undefined);
    assert.equal(values.command, undefined);
    const job = byType(run, "kubernetes:batch/v1:CronJob").find((j) => j.name === "weaviate-backup-cronjob")!;
    assert.equal(podOf(job.inputs).affinity, undefined, "the job need not run beside Weaviate");

    const local = backupS3Values({
      ...parseConfig({ backup: { s3 } }).backup.s3!,
      endpoint: "http://minio.backup:9000/",
      prefix: "",
    });
    assert.deepEqual(
      [
        (local.envconfig as Record<string, string>).BACKUP_S3_ENDPOINT,
        (local.envconfig as Record<string, string>).BACKUP_S3_USE_SSL,
      ],
      ["minio.backup:9000", "false"],
    );
    assert.equal((local.envconfig as Record<string, string>).BACKUP_S3_PATH, "weaviate");
  });

  it("lets Weaviate back up a cluster of nodes to S3 (filesystem backups cannot)", () => {
    const weaviate = { ...(stackConfig("dev")["ai-platform-data:weaviate"] as object), replicas: 3 };
    assert.match(
      runError("dev", { "ai-platform-data:weaviate": weaviate }),
      /Weaviate refuses filesystem backups on a cluster of 3 nodes/,
    );
    runOk("dev", { ...stack.overrides, "ai-platform-data:weaviate": weaviate }, stack.secrets);
  });

  it("puts each service under <prefix>/<service>", () => {
    assert.equal(offsitePrefix({ prefix: "" }, "redis"), "redis");
    assert.equal(offsitePrefix({ prefix: "a/b" }, "redis"), "a/b/redis");
  });

  it("refuses a bad endpoint, bucket, prefix or missing Secret name, naming the key", () => {
    const bad = (over: Record<string, unknown>) => configProblems({ backup: { s3: { ...s3, ...over } } });
    assert.match(
      bad({ endpoint: "s3.amazonaws.com" }),
      /ai-platform-data:backup\.s3\.endpoint: .*must be http:\/\/ or https:\/\//,
    );
    assert.match(bad({ endpoint: "https://minio:9000/backups" }), /backup\.s3\.endpoint: .*no path/);
    assert.match(
      bad({ bucket: "My_Bucket" }),
      /ai-platform-data:backup\.s3\.bucket: "My_Bucket" is not an S3 bucket name/,
    );
    assert.match(
      bad({ prefix: "/prod/" }),
      /ai-platform-data:backup\.s3\.prefix: .*no leading or trailing '\/'/,
    );
    assert.match(bad({ prefix: "a b" }), /backup\.s3\.prefix/);
    assert.match(
      bad({ existingSecret: undefined }),
      /ai-platform-data:backup\.s3\.existingSecret: got nothing/,
    );
    assert.match(bad({ secretAccessKey: "x" }), /backup\.s3: unknown key "secretAccessKey"/);
  });
});
