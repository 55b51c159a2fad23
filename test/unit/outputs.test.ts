import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MOCK_SECRET } from "../support/assert-helpers";
import { runOk } from "../support/program";

describe("stack outputs", () => {
  for (const stack of ["dev", "prod"]) {
    it(`${stack}: every output that carries a generated credential is a Pulumi secret; endpoints are clear`, () => {
      const run = runOk(stack);
      const carrying = Object.entries(run.outputs).filter(([, o]) =>
        JSON.stringify(o.value).includes(MOCK_SECRET),
      );
      assert.ok(carrying.length > 0, "no output carries a credential: the check would prove nothing");
      for (const [name, o] of carrying)
        assert.equal(o.secret, true, `output ${name} carries a credential in clear`);
      assert.equal(run.outputs.endpoints.secret, false);
      assert.deepEqual(Object.keys(run.outputs.endpoints.value as object).sort(), [
        "kafka",
        "mongodb",
        "postgres",
        "redis",
        "weaviate",
      ]);
      assert.equal(run.outputs.credentialsSecretName.value, "db-credentials");
    });
  }
});
