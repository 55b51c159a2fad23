/**
 * What the releases' pods look like (issue 8): no privileged container from a floating tag (item 6), and
 * replicas spread over nodes with disruption budgets in prod, soft in dev (item 8).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { disruptionBudget, podAntiAffinity } from "../../components/shared/scheduling";
import { releaseValues, runError, runOk } from "../support/program";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values are untyped JSON */

describe("release pods", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("switches off the Weaviate chart's privileged alpine:latest sysctl init container", () => {
    for (const run of [prod, dev]) {
      const v = releaseValues(run, "weaviate") as any;
      assert.deepEqual(v.initContainers, { sysctlInitContainer: { enabled: false } });
    }
  });

  it("prod: hard anti-affinity for every service, a budget of one eviction for MongoDB, Redis and Kafka", () => {
    const budget = { create: true, minAvailable: "", maxUnavailable: 1 };
    const mongo = releaseValues(prod, "/mongodb") as any;
    assert.equal(mongo.podAntiAffinityPreset, "hard");
    assert.deepEqual(mongo.pdb, budget);
    const redis = releaseValues(prod, "/redis") as any;
    assert.equal(redis.replica.podAntiAffinityPreset, "hard");
    assert.deepEqual(redis.pdb, budget);
    const kafka = releaseValues(prod, "/kafka") as any;
    assert.equal(kafka.controller.podAntiAffinityPreset, "hard");
    assert.deepEqual(kafka.controller.pdb, budget);
    const pg = releaseValues(prod, "/postgresql") as any;
    assert.equal(pg.primary.podAntiAffinityPreset, "hard");
    assert.equal(pg.readReplicas.podAntiAffinityPreset, "hard");
    const weaviate = releaseValues(prod, "weaviate") as any;
    assert.deepEqual(weaviate.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, [
      {
        topologyKey: "kubernetes.io/hostname",
        labelSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["weaviate"] }] },
      },
    ]);
  });

  it("dev: soft anti-affinity and no budget for its single replicas", () => {
    const mongo = releaseValues(dev, "/mongodb") as any;
    assert.equal(mongo.podAntiAffinityPreset, "soft");
    assert.equal(mongo.pdb.create, false);
    const redis = releaseValues(dev, "/redis") as any;
    assert.equal(redis.replica.podAntiAffinityPreset, "soft");
    assert.equal(redis.pdb.create, false);
    assert.equal((releaseValues(dev, "/kafka") as any).controller.podAntiAffinityPreset, "soft");
    const weaviate = releaseValues(dev, "weaviate") as any;
    assert.equal(weaviate.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);
    assert.equal(
      weaviate.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight,
      1,
    );
  });

  it("creates a budget from two replicas on, never blanking maxUnavailable", () => {
    assert.equal(disruptionBudget(1).create, false);
    for (const n of [2, 3, 5])
      assert.deepEqual(disruptionBudget(n), { create: true, minAvailable: "", maxUnavailable: 1 });
    assert.ok(
      "preferredDuringSchedulingIgnoredDuringExecution" in
        podAntiAffinity("soft", { app: "x" }).podAntiAffinity,
    );
  });

  it("refuses an unknown podAntiAffinity before anything is created", () => {
    assert.match(
      runError("dev", { "ai-platform-data:podAntiAffinity": "strict" }),
      /ai-platform-data:podAntiAffinity: "strict" is not allowed; use one of "soft", "hard"/,
    );
  });
});
