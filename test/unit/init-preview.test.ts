/**
 * Every initialiser as the engine meets it when the real program runs (under mocks): in a preview of a
 * new stack its credentials are not known yet, and `check`, loaded from the `__provider` text the
 * program registered, must accept that (issue 9: `kafka-scram-users` failed a first preview with
 * `no password for user "admin"`). With known values, every input that is a secret is also named in
 * the resource's `additionalSecretOutputs` (issue 8 item 9), since each initialiser returns its inputs.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type * as pulumi from "@pulumi/pulumi";
import { UNKNOWN } from "../../init/shared/unknown";
import { codeVersion } from "../../init/shared/version";
import type { WireRegistration } from "../support/initialiser-child";
import { byType, projectDefaults, ROOT, runOk, stackConfig } from "../support/program";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const requireFromString: (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
} = require("require-from-string");

/** The initialisers of a preview of a new stack with the stack's shipped config, in wire form. */
async function previewRegistrations(stack: string): Promise<WireRegistration[]> {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...projectDefaults(), ...stackConfig(stack) }))
    config[k] = typeof v === "string" ? v : JSON.stringify(v);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", path.join(__dirname, "..", "support", "initialiser-child.ts")],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(config),
        AIPD_STACK: stack,
        AIPD_PREVIEW: "true",
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as WireRegistration[];
}

function isSecret(v: unknown): boolean {
  return v !== null && typeof v === "object" && SECRET_SIG in (v as object);
}

/** What the dynamic-provider host hands `check`: secrets unwrapped (it does not accept secrets). */
function asProviderSees(v: unknown): unknown {
  if (isSecret(v)) return asProviderSees((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(asProviderSees);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asProviderSees(x)]));
  return v;
}

/** Each initialiser and the file of its code. */
const FILES: Record<string, string> = {
  "kafka-acls": "kafka-acls.ts",
  "kafka-scram-users": "kafka-users.ts",
  "kafka-topics": "kafka.ts",
  "mongodb-collections": "mongodb.ts",
  "postgres-schema": "postgres.ts",
  "redis-acl-users": "redis.ts",
  "weaviate-classes": "weaviate.ts",
};
const ALL = Object.keys(FILES).sort();

describe("initialisers as the engine meets them", () => {
  // Both previews start at once, each a program run in a process of its own. A failure is reported by
  // the test that awaits it, not first as an unhandled rejection.
  const previews = new Map(["dev", "prod"].map((stack) => [stack, previewRegistrations(stack)]));
  for (const p of previews.values()) p.catch(() => undefined);

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: a preview of a new stack passes every initialiser's check (unknown credentials deferred)`, async () => {
      const regs = await previews.get(stack)!;
      assert.deepEqual(regs.map((r) => r.name).sort(), ALL, "every initialiser is registered");
      const unknownSomewhere = regs.filter((r) => JSON.stringify(r.wire).includes(UNKNOWN));
      assert.ok(unknownSomewhere.length >= 5, "the preview has unknown inputs: the test would prove nothing");
      for (const r of regs) {
        const news = asProviderSees(r.wire) as Record<string, unknown>;
        const provider = requireFromString(String(news.__provider)).handler();
        const result = await provider.check!({}, news);
        assert.deepEqual(result.failures ?? [], [], `${r.name}: check refused a preview`);
        assert.equal(
          (result.inputs as Record<string, unknown>).password ?? UNKNOWN,
          news.password ?? UNKNOWN,
          `${r.name}: an unknown stays unknown`,
        );
      }
    });
  }

  it("with known values every check passes and every secret input is an explicit secret output", async () => {
    const regs = byType(runOk("dev"), DYNAMIC);
    assert.deepEqual(regs.map((r) => r.name).sort(), ALL);
    for (const r of regs) {
      // Issue 8 item 2: the code's version is an input, so a release of new code is a change.
      const file = path.join(ROOT, "init", FILES[r.name]);
      assert.equal(r.inputs.codeVersion, codeVersion(file), `${r.name}: codeVersion of ${FILES[r.name]}`);
      const provider = requireFromString(String(r.inputs.__provider)).handler();
      assert.deepEqual((await provider.check!({}, r.inputs)).failures ?? [], [], r.name);
      const secretInputs = [...new Set(r.secretPaths.map((p) => p.split(/[.[]/)[0]))];
      assert.ok(secretInputs.length > 0, `${r.name} has no secret input: the test would prove nothing`);
      for (const k of secretInputs) {
        assert.ok(
          (r.options.additionalSecretOutputs ?? []).includes(k),
          `${r.name}: input "${k}" is a secret but not in additionalSecretOutputs`,
        );
      }
    }
  });
});
