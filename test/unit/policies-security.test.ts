/**
 * The CrossGuard pack (policies/) against what the program really registers, part 1: authentication,
 * credentials, chart versions and exposure: the dev and prod stacks run under mocks
 * (test/support/program.ts), their resources handed to each policy the way the pack hands them over
 * (test/support/policy-harness.ts), with the pack's own config files (policies/config/<stack>.json). Failing
 * cases are real resources with one thing changed. The other policies are in policies*.test.ts; those on
 * pods (images, privilege, anti-affinity, disruption budgets) in policies-pods.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  chartVersionPinned,
  databaseAuthentication,
  noExternalServices,
  noLiteralCredentials,
} from "../../policies/rules";
import { check, checkWith, Json, messages } from "../support/policy-harness";
import { copy, release, resource, urnOf, valuesOf, withUnknowns } from "../support/policy-harness";
import { runOk } from "../support/program";
import { backupStep } from "../support/unit-resources";

describe("policy pack: security", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  describe("database-authentication", () => {
    it("passes the auth values every component sets", async () => {
      assert.deepEqual(await check(databaseAuthentication, prod, "prod"), []);
      assert.deepEqual(await check(databaseAuthentication, dev, "dev"), []);
    });

    it("fails a release that turns authentication off, one service at a time", async () => {
      const cases: Array<[string, (v: Json) => void, RegExp]> = [
        [
          "postgresql",
          (v) => {
            v.auth.enablePostgresUser = false;
            delete v.auth.username;
          },
          /no role has a password/,
        ],
        ["mongodb", (v) => (v.auth.enabled = false), /auth.enabled is false/],
        ["redis", (v) => (v.auth.sentinel = false), /auth.sentinel is false/],
        ["kafka", (v) => (v.listeners.client.protocol = "PLAINTEXT"), /listener "CLIENT" uses PLAINTEXT/],
        [
          "weaviate",
          (v) => delete v.authentication.anonymous_access,
          /anonymous_access.enabled is not false \(the chart's default is true\)/,
        ],
        [
          "weaviate",
          (v) => {
            delete v.env.AUTHENTICATION_APIKEY_ENABLED;
            delete v.authentication.apikey;
          },
          /API-key authentication is off/,
        ],
      ];
      for (const [name, mutate, expected] of cases) {
        const run = copy(prod);
        mutate(valuesOf(run, name));
        const found = await check(databaseAuthentication, run, "prod");
        assert.equal(found.length, 1, `${name}: ${messages(found)}`);
        assert.equal(found[0].urn, urnOf(release(run, name)));
        assert.match(found[0].message, new RegExp(`^release "${name}": `));
        assert.match(found[0].message, expected);
      }
    });
  });

  describe("no-literal-credentials", () => {
    it("passes: every chart reads its passwords from a Secret, backup jobs use secretKeyRef", async () => {
      assert.deepEqual(await check(noLiteralCredentials, prod, "prod"), []);
      assert.deepEqual(await check(noLiteralCredentials, dev, "dev"), []);
    });

    it("fails a password written into Helm values", async () => {
      const run = copy(prod);
      valuesOf(run, "mongodb").auth.rootPassword = "hunter2hunter2";
      valuesOf(run, "kafka").sasl.client.passwords = "p1,p2";
      valuesOf(run, "weaviate").env.AUTHENTICATION_APIKEY_ALLOWED_KEYS = "admin-key";
      const found = await check(noLiteralCredentials, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "kafka": values.sasl.client.passwords holds a literal credential.',
        'release "mongodb": values.auth.rootPassword holds a literal credential.',
        'release "weaviate": values.env.AUTHENTICATION_APIKEY_ALLOWED_KEYS holds a literal credential.',
      ]);
    });

    it("skips values unknown during preview and still checks the rest", async () => {
      const run = copy(prod);
      const v = valuesOf(run, "mongodb");
      v.auth.rootPassword = "hunter2hunter2";
      release(run, "mongodb").inputs.values = withUnknowns(v, ["metrics", "tls"]);
      assert.deepEqual(
        (await check(noLiteralCredentials, run, "prod")).map((x) => x.message),
        ['release "mongodb": values.auth.rootPassword holds a literal credential.'],
      );
    });

    it("fails a literal password in a container's env", async () => {
      const run = copy(prod);
      const job = resource(run, "kubernetes:batch/v1:CronJob", "postgres-backup-cronjob");
      const env: Json[] = backupStep((job.inputs.spec as Json).jobTemplate.spec.template.spec).env;
      const pw = env.find((e) => e.name === "PGPASSWORD");
      delete pw.valueFrom;
      pw.value = "hunter2";
      const found = await check(noLiteralCredentials, run, "prod");
      assert.equal(found.length, 1, messages(found));
      assert.equal(found[0].urn, urnOf(job));
      assert.match(
        found[0].message,
        /initContainers\[0\]\.env\[\d+\] \(PGPASSWORD\) has a literal value; use valueFrom.secretKeyRef/,
      );
    });

    it("fails the connection details published as a ConfigMap instead of a Secret", async () => {
      const run = copy(prod);
      const secret = resource(run, "kubernetes:core/v1:Secret", "db-credentials-secret");
      secret.type = "kubernetes:core/v1:ConfigMap";
      secret.inputs = { ...secret.inputs, kind: "ConfigMap", data: secret.inputs.stringData };
      delete secret.inputs.stringData;
      delete secret.inputs.type;
      const found = await check(noLiteralCredentials, run, "prod");
      const text = messages(found);
      assert.match(text, /data.postgres-password holds a literal credential/);
      assert.match(text, /data.postgres-url contains a URL with a password in it/);
      assert.match(text, /data.mongodb-uri contains a URL with a password in it/);
      assert.ok(found.every((v) => v.urn === urnOf(secret)));
    });
  });

  describe("chart-version-pinned", () => {
    it("passes the exact versions of components/shared/charts.ts", async () => {
      assert.deepEqual(await check(chartVersionPinned, prod, "prod"), []);
    });

    it("fails a range, a wildcard and a missing version", async () => {
      for (const version of ["^15.5.38", "~15.5", ">=15.0.0", "15.x", "*", "", undefined]) {
        const run = copy(prod);
        const rel = release(run, "postgresql");
        if (version === undefined) delete rel.inputs.version;
        else rel.inputs.version = version;
        const found = await check(chartVersionPinned, run, "prod");
        assert.equal(found.length, 1, `${String(version)}: ${messages(found)}`);
        assert.match(
          found[0].message,
          /^release "postgresql" \(oci:\/\/registry-1.docker.io\/bitnamicharts\/postgresql\) has /,
        );
      }
    });
  });

  describe("no-external-services", () => {
    it("passes ClusterIP everywhere (Weaviate's LoadBalancer default overridden)", async () => {
      assert.deepEqual(await check(noExternalServices, prod, "prod"), []);
      assert.deepEqual(await check(noExternalServices, dev, "dev"), []);
    });

    it("fails a NodePort, and the Weaviate chart's LoadBalancer default when service.type is unset", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").service.type;
      valuesOf(run, "postgresql").primary.service = { type: "NodePort" };
      const found = await check(noExternalServices, run, "prod");
      assert.deepEqual(found.map((v) => v.message).sort(), [
        'release "postgresql" sets primary.service.type to NodePort.',
        'release "weaviate" leaves service.type unset, and the chart then uses LoadBalancer.',
      ]);
    });

    it("lets config allow a type or a release", async () => {
      const run = copy(prod);
      delete valuesOf(run, "weaviate").service.type;
      assert.deepEqual(await checkWith(noExternalServices, run, { allowedTypes: ["LoadBalancer"] }), []);
      assert.deepEqual(await checkWith(noExternalServices, run, { allowedNames: ["weaviate"] }), []);
      assert.equal((await checkWith(noExternalServices, run, { allowedNames: ["redis"] })).length, 1);
    });
  });
});
