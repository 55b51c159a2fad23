/**
 * The CrossGuard pack (policies/) against what the program really registers, as a whole (the shipped stacks
 * and the pack's definition): the dev and prod stacks run under mocks (test/support/program.ts), their
 * resources handed to each policy the way the pack hands them over (test/support/policy-harness.ts), with
 * the pack's own config files (policies/config/<stack>.json). Failing cases are real resources with one
 * thing changed. The other policies are in policies*.test.ts; those on pods (images, privilege,
 * anti-affinity, disruption budgets) in policies-pods.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { advisoryPolicies, allPolicies, mandatoryPolicies, productionPolicies } from "../../policies/rules";
import { check, configFor, enforcementOf, messages, packConfig, release } from "../support/policy-harness";
import { runOk } from "../support/program";

const RELEASES = ["postgresql", "mongodb", "redis", "kafka", "weaviate"];

describe("policy pack", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  describe("the shipped stacks", () => {
    it("the program registers the five releases, their backup and drill CronJobs and the Kafka topics", () => {
      for (const run of [prod, dev]) {
        for (const name of RELEASES) release(run, name);
        const jobs = run.resources.filter((r) => r.type === "kubernetes:batch/v1:CronJob").map((r) => r.name);
        assert.equal(jobs.filter((n) => n.endsWith("-backup-cronjob")).length, 5);
        assert.equal(jobs.filter((n) => n.endsWith("-drill-cronjob")).length, 5);
        assert.ok(run.resources.some((r) => Array.isArray(r.inputs.topics)));
      }
    });

    for (const stack of ["prod", "dev"] as const) {
      it(`${stack} passes every policy its config enforces`, async () => {
        const run = stack === "prod" ? prod : dev;
        const config = packConfig(stack);
        const enforced = allPolicies.filter((p) => enforcementOf(config, p) === "mandatory");
        const found = (await Promise.all(enforced.map((p) => check(p, run, stack)))).flat();
        assert.deepEqual(found, [], messages(found));
      });
    }

    it("prod's only advisory finding is the KRaft controller listener's SASL PLAIN", async () => {
      const config = packConfig("prod");
      const advisory = allPolicies.filter((p) => enforcementOf(config, p) === "advisory");
      const found = (await Promise.all(advisory.map((p) => check(p, prod, "prod")))).flat();
      assert.deepEqual(
        found.map((v) => v.policy),
        ["sasl-plain-without-tls"],
        messages(found),
      );
      assert.match(found[0].message, /listener "CONTROLLER" accepts SASL PLAIN/);
    });
  });

  describe("pack definition", () => {
    it("has unique names and a description that says how to fix a violation", () => {
      const names = allPolicies.map((p) => p.name);
      assert.equal(new Set(names).size, names.length);
      assert.equal(names.length, 22);
      for (const p of allPolicies) {
        assert.match(p.name, /^[a-z0-9-]+$/);
        assert.match(p.description, /Fix: \S/, `${p.name}: no fix in its description`);
      }
    });

    it("enforces the mandatory rules, leaves production rules to config and only warns for the advisory ones", () => {
      for (const p of mandatoryPolicies) assert.equal(p.enforcementLevel, "mandatory", p.name);
      for (const p of productionPolicies) assert.equal(p.enforcementLevel, "disabled", p.name);
      for (const p of advisoryPolicies) assert.equal(p.enforcementLevel, "advisory", p.name);
      const prodConfig = packConfig("prod");
      const devConfig = packConfig("dev");
      // Off-site copies: a dev stack without a bucket is warned, not stopped.
      const advisoryInDev = new Set(["offsite-backups", "restore-drills"]);
      for (const p of productionPolicies) {
        assert.equal(enforcementOf(prodConfig, p), "mandatory", `${p.name} in prod.json`);
        const dev = advisoryInDev.has(p.name) ? "advisory" : "disabled";
        assert.equal(enforcementOf(devConfig, p), dev, `${p.name} in dev.json`);
      }
    });

    for (const stack of ["dev", "prod"] as const) {
      it(`config/${stack}.json names only policies of the pack and keys of their configSchema`, () => {
        const config = packConfig(stack);
        const levels = ["advisory", "mandatory", "remediate", "disabled"];
        for (const [name, entry] of Object.entries(config)) {
          const policy = allPolicies.find((p) => p.name === name);
          assert.ok(policy, `${stack}.json: no policy "${name}"`);
          if (typeof entry === "string") {
            assert.ok(levels.includes(entry), `${stack}.json: ${name}: "${entry}"`);
            continue;
          }
          if (entry.enforcementLevel !== undefined) assert.ok(levels.includes(entry.enforcementLevel));
          for (const [key, value] of Object.entries(configFor(config, policy))) {
            const schema = policy.configSchema?.properties[key];
            assert.ok(
              schema && typeof schema === "object",
              `${stack}.json: ${name}.${key} is not in its configSchema`,
            );
            const type = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
            assert.ok(
              schema.type === type || (schema.type === "number" && type === "integer"),
              `${stack}.json: ${name}.${key} is ${type}, schema says ${String(schema.type)}`,
            );
            if (schema.pattern) assert.match(String(value), new RegExp(schema.pattern), `${name}.${key}`);
          }
        }
      });
    }

    it("gives every config key a default and never declares enforcementLevel (the pack server refuses it)", () => {
      for (const p of allPolicies) {
        for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
          assert.notEqual(key, "enforcementLevel");
          assert.ok(
            typeof schema === "object" && schema.default !== undefined,
            `${p.name}.${key} has no default`,
          );
        }
      }
    });
  });
});
