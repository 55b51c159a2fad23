/**
 * What the applications' Weaviate key can do, against the real Weaviate 1.22 of scripts/services.sh, which
 * runs with the admin list the chart gets by default (components/weaviate/values.ts, `weaviate.appAccess:
 * readOnly`): the admin key's user is an admin, the app key's read-only. The app key reads and queries;
 * writing objects, changing the schema and taking backups are refused by the server.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { requireServer, Services } from "../support/servers";

type Svc = Services["weaviate"];
const cls = `Access${randomBytes(3).toString("hex")}`;

async function call(svc: Svc, key: string, method: string, path: string, body?: unknown): Promise<number> {
  const r = await fetch(`${svc.scheme}://${svc.host}:${svc.port}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  await r.arrayBuffer();
  return r.status;
}

describe("Weaviate API keys: the applications' key is read-only (real server)", () => {
  it("reads and queries with the app key; writes, schema changes and backups are refused", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const admin = svc.apiKey;
    const app = svc.appApiKey;
    const classDef = { class: cls, vectorizer: "none", properties: [{ name: "title", dataType: ["text"] }] };
    assert.equal(await call(svc, admin, "POST", "/v1/schema", classDef), 200);
    try {
      assert.equal(
        await call(svc, admin, "POST", "/v1/objects", { class: cls, properties: { title: "a" } }),
        200,
      );
      const allowed = {
        "read the schema": await call(svc, app, "GET", `/v1/schema/${cls}`),
        "list objects": await call(svc, app, "GET", `/v1/objects?class=${cls}`),
        "query (GraphQL)": await call(svc, app, "POST", "/v1/graphql", {
          query: `{ Get { ${cls} { title } } }`,
        }),
      };
      assert.deepEqual(allowed, { "read the schema": 200, "list objects": 200, "query (GraphQL)": 200 });
      const refused = {
        "write an object": await call(svc, app, "POST", "/v1/objects", {
          class: cls,
          properties: { title: "b" },
        }),
        "delete the class": await call(svc, app, "DELETE", `/v1/schema/${cls}`),
        "create a class": await call(svc, app, "POST", "/v1/schema", { ...classDef, class: `${cls}B` }),
        "add a property": await call(svc, app, "POST", `/v1/schema/${cls}/properties`, {
          name: "extra",
          dataType: ["text"],
        }),
        "take a backup": await call(svc, app, "POST", "/v1/backups/filesystem", {
          id: `acc-${cls.toLowerCase()}`,
        }),
      };
      assert.deepEqual(refused, {
        "write an object": 403,
        "delete the class": 403,
        "create a class": 403,
        "add a property": 403,
        "take a backup": 403,
      });
    } finally {
      await call(svc, admin, "DELETE", `/v1/schema/${cls}`);
    }
  });
});

describe("Weaviate cluster API: basic auth (real server)", () => {
  // The data port serves what nodes ask each other (schema transactions, shard reads and writes, backup
  // commits); API keys do not cover it. The server runs with CLUSTER_BASIC_AUTH_* set, as the pinned chart
  // sets them from its own Secret (the rendered-charts test checks that it does).
  async function nodeStatus(svc: Svc, auth?: string): Promise<number> {
    const r = await fetch(`${svc.scheme}://${svc.host}:${svc.dataPort}/nodes/status`, {
      headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
    await r.arrayBuffer();
    return r.status;
  }

  it("refuses requests without the cluster's user and password, and with an API key's user", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    assert.deepEqual(
      {
        "no credentials": await nodeStatus(svc),
        "wrong password": await nodeStatus(svc, `${svc.clusterUser}:${svc.appApiKey}`),
        "the app's key as password": await nodeStatus(svc, `app:${svc.appApiKey}`),
        "the cluster's own": await nodeStatus(svc, `${svc.clusterUser}:${svc.clusterPassword}`),
      },
      {
        "no credentials": 401,
        "wrong password": 401,
        "the app's key as password": 401,
        "the cluster's own": 200,
      },
    );
  });
});
