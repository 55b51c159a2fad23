/**
 * Secret config keys are secret (issue 8, item 9): Pulumi.yaml declares every password and key
 * `secret: true`, and a value set without `--secret` stops the program before any resource, naming the
 * key and never showing the value.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { plaintextSecretProblems, PROJECT, SECRET_KEYS } from "../../config";
import { projectDefaults, ROOT, runOk, stackConfig } from "../support/program";
import { serviceOverride } from "../support/unit-config";

interface Declared {
  type?: string;
  secret?: boolean;
  default?: unknown;
}

const declared = (
  parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, Declared> }
).config;

/** Key names that say they hold a credential (`credentialsSecret` names a Secret object, not a secret). */
const CREDENTIAL_NAME = /(password|passphrase|apikey|token|credential)$/i;

const EXTERNAL_POSTGRES = {
  ...serviceOverride("dev", "postgres", {
    mode: "external",
    endpoint: { host: "db.example.com", port: 5432 },
  }),
  "ai-platform-data:postgresPassword": "plain-text-pw-4711",
};

describe("secret config keys", () => {
  it("declares every password and key in Pulumi.yaml with secret: true", () => {
    for (const k of SECRET_KEYS) {
      assert.ok(declared[k], `Pulumi.yaml does not declare ${k}`);
      assert.equal(declared[k].secret, true, `Pulumi.yaml: ${k} is not declared secret: true`);
    }
    const named = Object.keys(declared).filter((k) => CREDENTIAL_NAME.test(k));
    assert.deepEqual(named.sort(), [...SECRET_KEYS].sort(), "a credential-named key outside SECRET_KEYS");
  });

  it("keeps them optional: no type (a typed secret key with a default refuses every stack that leaves it unset)", () => {
    for (const k of SECRET_KEYS) {
      assert.equal(declared[k].type, undefined, `${k}: Pulumi 3.248 would refuse stacks that do not set it`);
      assert.equal(declared[k].default, "", `${k}: without a default the engine requires it on every stack`);
    }
  });

  it("names each secret key set in plain text, never its value", () => {
    const all = { [`${PROJECT}:postgresPassword`]: "hunter2", [`${PROJECT}:kafkaPassword`]: "s3cr3t" };
    const problems = plaintextSecretProblems(all, JSON.stringify([`${PROJECT}:kafkaPassword`]));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      /^ai-platform-data:postgresPassword: set in plain text, .* run 'pulumi config rm postgresPassword' and 'pulumi config set --secret postgresPassword <value>'/,
    );
    assert.doesNotMatch(problems.join("\n"), /hunter2|s3cr3t/);
    // Unset keys arrive as Pulumi.yaml's "" default; an inline program has no list at all.
    assert.deepEqual(plaintextSecretProblems({ [`${PROJECT}:openaiApiKey`]: "" }, "[]"), []);
    assert.deepEqual(plaintextSecretProblems(all, undefined), []);
  });

  it("accepts the same value set with --secret", () => {
    runOk("dev", EXTERNAL_POSTGRES);
  });

  it("stops the program before any resource when the host lists it as plain", () => {
    const config = { ...projectDefaults(), ...stackConfig("dev"), ...EXTERNAL_POSTGRES };
    const asStrings = Object.fromEntries(
      Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    let out: string;
    try {
      out = execFileSync(
        process.execPath,
        ["--import", "tsx", path.join(ROOT, "test", "support", "program-child.ts")],
        {
          cwd: ROOT,
          encoding: "utf8",
          env: {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(asStrings),
            PULUMI_CONFIG_SECRET_KEYS: "[]",
            AIPD_STACK: "dev",
          },
        },
      );
    } catch (e) {
      // A child that reports a RunError may exit non-zero; its stdout holds the report either way.
      out = (e as { stdout?: string }).stdout ?? "";
    }
    const run = JSON.parse(out) as { error?: { message: string }; resources?: unknown[] };
    assert.ok(run.error, "the program ran with a plain-text secret");
    assert.match(run.error.message, /ai-platform-data:postgresPassword: set in plain text/);
    assert.doesNotMatch(run.error.message, /plain-text-pw-4711/);
  });
});
