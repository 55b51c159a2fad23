/**
 * MongoDB's derived settings, pure functions of config: hosts, the connection URI, the WiredTiger cache,
 * the memory alert and the users that would collide with the exporter's.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import {
  MONGODB_METRICS_USER,
  mongodbHosts,
  mongodbUri,
  mongodbUserProblem,
  wiredTigerCacheSizeGB,
} from "../../components/mongodb";
import { mongodbAlertRules } from "../../components/mongodb/alerts";

describe("MongoDB derivations", () => {
  it("lists one in-cluster host per data-bearing member", () => {
    assert.deepEqual(mongodbHosts("mongodb", "ns", 2), [
      "mongodb-0.mongodb-headless.ns.svc.cluster.local:27017",
      "mongodb-1.mongodb-headless.ns.svc.cluster.local:27017",
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (n) => {
        const hosts = mongodbHosts("mongodb", "ns", n);
        return (
          hosts.length === n &&
          new Set(hosts).size === n &&
          hosts.every((h) => /^mongodb-\d+\.[^:]+:27017$/.test(h))
        );
      }),
    );
  });

  it("encodes any user and password so the URI gives them back unchanged", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (username, password) => {
        const uri = mongodbUri({
          hosts: ["h1:27017", "h2:27017"],
          username,
          password,
          database: "app",
          authSource: "app",
          replicaSet: "rs0",
        });
        const m =
          /^mongodb:\/\/([^:@/]*):([^:@/]*)@h1:27017,h2:27017\/app\?authSource=app&replicaSet=rs0$/.exec(uri);
        return m !== null && decodeURIComponent(m[1]) === username && decodeURIComponent(m[2]) === password;
      }),
    );
    assert.equal(
      mongodbUri({
        hosts: ["h:1"],
        username: "u",
        password: "p",
        database: "d",
        authSource: "admin",
        directConnection: true,
        tls: false,
      }),
      "mongodb://u:p@h:1/d?authSource=admin&directConnection=true&tls=false",
    );
  });

  it("sizes the WiredTiger cache as MongoDB does, from the container limit", () => {
    // MongoDB's default: 50% of (RAM - 1 GiB), at least 0.25 GiB.
    for (const [limit, expected] of [
      ["1Gi", 0.25],
      ["2Gi", 0.5],
      ["4Gi", 1.5],
      ["1536Mi", 0.25],
      ["3000Mi", 0.96],
    ] as const) {
      assert.equal(wiredTigerCacheSizeGB(limit), expected, limit);
    }
    fc.assert(
      fc.property(fc.integer({ min: 512, max: 1024 * 1024 }), (mi) => {
        const gb = wiredTigerCacheSizeGB(`${mi}Mi`);
        // Never more than MongoDB's own default, never below its floor, two decimals at most.
        return gb >= 0.25 && gb <= Math.max(0.25, (mi / 1024 - 1) / 2) && Number(gb.toFixed(2)) === gb;
      }),
    );
  });

  it("puts the memory limit of the config into the memory alert", () => {
    const rule = mongodbAlertRules("ns", "4Gi").find((r) => r.alert === "MongodbHighMemory")!;
    assert.match(rule.expr, / \/ 4294967296 > 0\.9$/);
  });

  it("names the exporter user only where it would collide", () => {
    assert.equal(mongodbUserProblem({ adminUser: "root", appUser: "app", database: "app" }), undefined);
    assert.match(
      mongodbUserProblem({ adminUser: MONGODB_METRICS_USER, appUser: "app", database: "app" })!,
      /adminUser/,
    );
    assert.equal(
      mongodbUserProblem({ adminUser: "root", appUser: MONGODB_METRICS_USER, database: "app" }),
      undefined,
    );
    assert.match(
      mongodbUserProblem({ adminUser: "root", appUser: MONGODB_METRICS_USER, database: "admin" })!,
      /appUser/,
    );
  });
});
