/**
 * Port-forward faults through the real kube-apiserver of scripts/kube.sh (issue 10), with the
 * initialisers serialized as Pulumi's dynamic-provider host runs them: no ready pod behind a Service,
 * a missing pod, an RBAC refusal (403) and a forward that drops mid-run.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MongoCollectionsInputs, MongoCollectionsProvider } from "../../init/mongodb";
import { loadMigrations, PostgresSchemaInputs, PostgresSchemaProvider } from "../../init/postgres";
import { openForwarder } from "../../init/shared/port-forward";
import { isTransient } from "../../init/shared/retry";
import { viaSerialization } from "../support/dynamic";
import { accountKubeconfig, forwardPorts, unforwardPorts } from "../support/kube-fixture";
import { until } from "../support/wait";
import { portForwardStage, standIns } from "../support/port-forward-stage";

const { run, NS, fqdn, servers, forward } = portForwardStage();

describe("port-forward faults", () => {
  it("no ready pod behind the Service: retried, then one error naming the Service and its selector", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new PostgresSchemaProvider())).provider;
    const inputs = {
      host: fqdn("ghost"),
      port: 5432,
      adminUser: s.postgres.user,
      password: s.postgres.password,
      maintenanceDatabase: "postgres",
      database: `aipd_pf_${run}_ghost`,
      appUser: `aipd_pf_${run}_ghost_app`,
      migrations: loadMigrations(),
      timeoutSeconds: 3,
      appPasswordRevision: 0,
      forward: forward(),
    } as PostgresSchemaInputs;
    await assert.rejects(p.create!(inputs), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`no ready pod behind Service ${NS}/ghost \\(selector app=nothing-matches\\)`),
      );
      assert.match(e.message, /not reachable after \d+ attempts/);
      return true;
    });
  });

  it("a pod named by its DNS name that does not exist: retried, then one error naming namespace and pod", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new MongoCollectionsProvider())).provider;
    const inputs: MongoCollectionsInputs = {
      hosts: [`ghost-0.mongodb-headless.${NS}.svc.cluster.local:27017`],
      username: s.mongodb.username,
      password: s.mongodb.password,
      authSource: s.mongodb.authSource,
      database: `aipd_pf_${run}_ghost`,
      collections: [],
      dropRemovedCollections: false,
      timeoutSeconds: 3,
      forward: forward(),
    };
    await assert.rejects(p.create!(inputs), (e: Error) => {
      assert.match(e.message, new RegExp(`pod ${NS}/ghost-0 does not exist`));
      return true;
    });
  });

  it("an RBAC refusal ends the run at once, naming the namespace, the pod and the permission", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const p = (await viaSerialization(new PostgresSchemaProvider())).provider;
    const inputs = (kubeconfig: string) =>
      ({
        host: fqdn("postgresql"),
        port: 5432,
        adminUser: s.postgres.user,
        password: s.postgres.password,
        maintenanceDatabase: "postgres",
        database: `aipd_pf_${run}_rbac`,
        appUser: `aipd_pf_${run}_rbac_app`,
        migrations: loadMigrations(),
        timeoutSeconds: 120,
        appPasswordRevision: 0,
        forward: { connect: "port-forward", namespace: NS, kubeconfig },
      }) as PostgresSchemaInputs;
    // A refusal is not retried up to the deadline (120 s): the message is the refusal, not "not reachable".
    const notRetried = (e: Error) => assert.doesNotMatch(e.message, /not reachable after|attempts? over/);
    // No permission at all: the first lookup is refused.
    const nobody = await accountKubeconfig(s.kube, NS, "nobody", []);
    await assert.rejects(p.create!(inputs(nobody)), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`may not get service postgresql in namespace "${NS}" \\(403 Forbidden\\)`),
      );
      assert.match(e.message, /create on pods\/portforward/);
      notRetried(e);
      return true;
    });
    // Pods and Services readable, but no port-forward: the access review says so for the pod.
    const reader = await accountKubeconfig(s.kube, NS, "reader", [
      { resources: ["pods", "services"], verbs: ["get", "list"] },
    ]);
    await assert.rejects(p.create!(inputs(reader)), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`may not create pods/portforward in namespace "${NS}" \\(pod postgresql-0\\)`),
      );
      notRetried(e);
      return true;
    });
  });

  it("a forward that drops mid-run fails the connection like a reset, and the next one goes through", async (t) => {
    const s = await servers(t);
    if (!s) return;
    const { Client } = require("pg");
    const target = { host: fqdn("postgresql"), port: 5432 };
    const fw = await openForwarder(forward(), target);
    const connect = async () => {
      const at = await fw.resolve(target);
      const c = new Client({
        ...at,
        user: s.postgres.user,
        password: s.postgres.password,
        database: "postgres",
      });
      c.on("error", () => undefined);
      await c.connect();
      return c;
    };
    try {
      const c = await connect();
      assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1);
      assert.ok(fw.dropConnections() >= 1);
      const dropped = await c.query("SELECT 1").then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(dropped, "the query succeeded on a dropped forward");
      assert.ok(isTransient(dropped), `not judged transient: ${dropped.message}`);
      await c.end().catch(() => undefined);
      // kwok's forward gone: the stream's error channel fails the connection and marks the forward
      // broken (kwok applies the deletion on its own time: waited for)...
      await unforwardPorts(s.kube, NS, "postgresql-0");
      const refused = await until("a connection refused by the removed forward", () =>
        connect().then(
          async (x) => void (await x.end()),
          (e: Error) => e,
        ),
      );
      assert.ok(isTransient(refused), `not judged transient: ${refused.message}`);
      // ...and once it is back, a later attempt looks the pod up again and gets through.
      await forwardPorts(s.kube, NS, standIns(s)[0]);
      const again = await until("the forward back", () => connect().catch(() => undefined));
      assert.equal((await again.query("SELECT 2 AS two")).rows[0].two, 2);
      await again.end();
      assert.deepEqual(
        fw.forwards().map((f) => f.target),
        [`${NS}/postgresql-0:5432`],
      );
    } finally {
      await fw.close();
    }
  });
});
