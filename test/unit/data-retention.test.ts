/**
 * `pulumi destroy` keeps the data (issue 8, item 1): nothing the program registers whose deletion takes
 * data with it is deleted by the engine. Deleting a namespace makes Kubernetes delete every object in it
 * (data PVCs of the StatefulSets and backup PVCs included), so the namespace is kept like the backup PVCs.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { byType, runOk } from "../support/program";

/** Types whose deletion deletes stored data: a namespace takes its PVCs with it. */
const DATA_HOLDERS = ["kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim"];

describe("pulumi destroy keeps the data", () => {
  for (const stack of ["dev", "prod"] as const) {
    it(`${stack}: the namespace the program creates is kept on destroy (retainOnDelete)`, () => {
      const [ns] = byType(runOk(stack), "kubernetes:core/v1:Namespace");
      assert.ok(ns, "the stack creates its namespace (createNamespace defaults to true)");
      assert.equal(ns.options.retainOnDelete, true, "a deleted namespace takes every PVC in it along");
    });

    it(`${stack}: every namespace and PVC the program registers is kept on destroy`, () => {
      const run = runOk(stack);
      const holders = run.resources.filter((r) => DATA_HOLDERS.includes(r.type));
      assert.ok(holders.length >= 6, `namespace and five backup claims, got ${holders.length}`);
      for (const r of holders) assert.equal(r.options.retainOnDelete, true, `${r.type} ${r.name}`);
    });
  }

  it("registers no namespace when createNamespace is false", () => {
    const run = runOk("dev", { "ai-platform-data:createNamespace": false });
    assert.deepEqual(byType(run, "kubernetes:core/v1:Namespace"), []);
  });
});
