/**
 * Reaching the servers through port-forwards (issue 10), without a cluster, part 1: the pure address
 * mapping (shared/address-map.ts), a Service's port to a pod's port, and the MongoDB primary from one
 * member's `hello`. The choice of `connect`, the errors, the socket factory and the kubeconfig errors are
 * in port-forward.test.ts; the forwards themselves, through a real API server, in
 * test/integration/port-forward.test.ts.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { primaryFromHello } from "../../init/mongodb/forward";
import {
  clusterTarget,
  hostPortKey,
  isIpLiteral,
  labelSelector,
  parseHostPort,
  pickPod,
  PodLike,
  servicePodPort,
} from "../../init/shared/address-map";
import { isForwardRefusal } from "../../init/shared/port-forward";

const NS = "ai-platform-data";

describe("address mapping: what an address names in the cluster", () => {
  it("maps Service names in every form the resolver completes", () => {
    for (const host of [
      "postgresql.ai-platform-data.svc.cluster.local",
      "postgresql.ai-platform-data.svc.cluster.local.",
      "postgresql.ai-platform-data.svc",
      "postgresql.ai-platform-data.svc.corp.example",
      "postgresql.ai-platform-data",
      "postgresql",
      "PostgreSQL.AI-Platform-Data.svc.cluster.local",
    ]) {
      assert.deepEqual(clusterTarget({ host, port: 5432 }, NS), {
        kind: "service",
        namespace: NS,
        service: "postgresql",
        port: 5432,
      });
    }
  });

  it("maps a StatefulSet pod's name (pod.headless.ns...) to that pod; refuses one in another namespace", () => {
    // A server may announce any address: it must not lead the initialiser's credentials out of the release.
    assert.throws(
      () =>
        clusterTarget(
          { host: "kafka-controller-2.kafka-controller-headless.other.svc.cluster.local", port: 9092 },
          NS,
        ),
      (e: Error & { code?: string }) =>
        e.code === "EK8SADDRESS" &&
        e.message.includes(`names pod other/kafka-controller-2, outside the release's namespace "${NS}"`),
    );
    assert.throws(
      () => clusterTarget({ host: "postgresql.kube-system.svc", port: 5432 }, NS),
      /outside the release's namespace/,
    );
    assert.deepEqual(clusterTarget({ host: "mongodb-1.mongodb-headless", port: 27017 }, NS), {
      kind: "pod",
      namespace: NS,
      pod: "mongodb-1",
      port: 27017,
    });
    assert.deepEqual(clusterTarget({ host: `redis-node-0.redis-headless.${NS}`, port: 26379 }, NS), {
      kind: "pod",
      namespace: NS,
      pod: "redis-node-0",
      port: 26379,
    });
  });

  it("maps an IP (Sentinel's announce, a broker's advertised address) to the pod with that IP", () => {
    assert.deepEqual(clusterTarget({ host: "192.0.2.17", port: 6379 }, NS), {
      kind: "podIP",
      namespace: NS,
      ip: "192.0.2.17",
      port: 6379,
    });
    assert.equal(clusterTarget({ host: "fd00::17", port: 6379 }, NS).kind, "podIP");
    assert.equal(isIpLiteral("256.1.1.1"), false);
    assert.equal(isIpLiteral("10.0.0.1"), true);
  });

  it("refuses a name outside the cluster at once (EK8SADDRESS), naming it", () => {
    for (const host of [
      "db.example.com",
      "a.b.c.d.e",
      "under_score.svc",
      "a.b.c.d.svc.cluster.local",
      "svc.cluster.local",
    ]) {
      assert.throws(
        () => clusterTarget({ host, port: 1 }, NS),
        (e: Error & { code?: string }) =>
          e.code === "EK8SADDRESS" && e.message.includes(host.toLowerCase()) && isForwardRefusal(e),
        host,
      );
    }
  });

  it("parses host:port and [v6]:port, and prints them back", () => {
    assert.deepEqual(parseHostPort("mongodb-0.h.ns.svc.cluster.local:27017"), {
      host: "mongodb-0.h.ns.svc.cluster.local",
      port: 27017,
    });
    assert.deepEqual(parseHostPort("[fd00::1]:6379"), { host: "fd00::1", port: 6379 });
    assert.equal(hostPortKey({ host: "fd00::1", port: 6379 }), "[fd00::1]:6379");
    assert.equal(hostPortKey({ host: "a", port: 1 }), "a:1");
    for (const bad of ["nohost", "h:0", "h:70000", "h:x"])
      assert.throws(() => parseHostPort(bad), /host:port/);
  });
});

describe("address mapping: a Service's port to a pod's port, and the pod", () => {
  const pod = (name: string, extra: Partial<PodLike> = {}): PodLike => ({
    metadata: { name },
    spec: { containers: [{ ports: [{ containerPort: 8080, name: "http" }] }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    ...extra,
  });

  it("follows targetPort: a number, a container port's name, or the same port when unset", () => {
    const svc = {
      spec: {
        ports: [
          { port: 80, targetPort: "http" },
          { port: 8088, targetPort: 8080 },
          { port: 5432 },
          { port: 9000, targetPort: "9001" },
          { port: 81, targetPort: "nope" },
        ],
      },
    };
    assert.equal(servicePodPort(svc, 80, pod("w-0")), 8080);
    assert.equal(servicePodPort(svc, 8088, pod("w-0")), 8080);
    assert.equal(servicePodPort(svc, 5432, pod("w-0")), 5432);
    assert.equal(servicePodPort(svc, 9000, pod("w-0")), 9001);
    assert.equal(servicePodPort(svc, 81, pod("w-0")), undefined);
    assert.equal(servicePodPort(svc, 1234, pod("w-0")), undefined);
  });

  it("picks a ready pod that is not being deleted, the first by name", () => {
    const notReady = pod("a-0", {
      status: { phase: "Running", conditions: [{ type: "Ready", status: "False" }] },
    });
    const deleting = pod("a-1", { metadata: { name: "a-1", deletionTimestamp: "2026-01-01T00:00:00Z" } });
    const pending = pod("a-2", { status: { phase: "Pending" } });
    assert.equal(pickPod([pod("b-1"), notReady, deleting, pending, pod("b-0")])?.metadata?.name, "b-0");
    assert.equal(pickPod([notReady, deleting, pending]), undefined);
  });

  it("writes a Service's selector as a label selector, keys sorted", () => {
    assert.equal(
      labelSelector({ "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/component": "primary" }),
      "app.kubernetes.io/component=primary,app.kubernetes.io/name=postgresql",
    );
  });
});

describe("MongoDB through port-forwards: the primary from one member's hello", () => {
  const asked = { host: "mongodb-1.mongodb-headless.ns.svc.cluster.local", port: 27017 };
  it("is the member itself when it is primary or standalone, the one it names otherwise", () => {
    assert.deepEqual(primaryFromHello(asked, { isWritablePrimary: true, setName: "rs0" }), asked);
    assert.deepEqual(primaryFromHello(asked, { isWritablePrimary: true }), asked);
    assert.deepEqual(
      primaryFromHello(asked, {
        isWritablePrimary: false,
        setName: "rs0",
        primary: "mongodb-0.mongodb-headless.ns.svc.cluster.local:27017",
      }),
      { host: "mongodb-0.mongodb-headless.ns.svc.cluster.local", port: 27017 },
    );
    assert.equal(primaryFromHello(asked, { isWritablePrimary: false, setName: "rs0" }), undefined);
  });
});
