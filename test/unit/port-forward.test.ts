/**
 * Reaching the servers through port-forwards (issue 10), without a cluster: the choice of `connect`, how
 * the errors are judged by the retries, the Kafka socket factory, the kubeconfig errors, and what the
 * program hands each initialiser. The address mapping is in port-forward-addresses.test.ts; the
 * forwards themselves, through a real API server, are test/integration/port-forward.test.ts.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { parseConfig } from "../../config";
import { effectiveConnect } from "../../init/connect";
import { isFatalRedisError } from "../../init/redis-topology";
import { hostPortKey } from "../../init/shared/address-map";
import { changedKeys } from "../../init/shared/diff";
import { forwardedSocketFactory, isKafkaFatal } from "../../init/shared/kafka";
import { initialiserOptions } from "../../init/shared/options";
import { Forwarder, isForwardRefusal, openForwarder, runsInCluster } from "../../init/shared/port-forward";
import { isTransient, mayRetry } from "../../init/shared/retry";
import { isSecretInput } from "../support/assert-helpers";
import { runOk } from "../support/program";
import { configProblems } from "../support/unit-config";

const NS = "ai-platform-data";

describe("connect: which initialisers forward", () => {
  it("defaults to auto; in-cluster and port-forward are taken as given", () => {
    const c = parseConfig({ postgres: { connect: "port-forward" }, redis: { connect: "in-cluster" } });
    assert.equal(c.kafka.connect, "auto");
    assert.equal(effectiveConnect(c.kafka), "auto");
    assert.equal(effectiveConnect(c.postgres), "port-forward");
    assert.equal(effectiveConnect(c.redis), "in-cluster");
  });

  it("an endpoint override or an external server is reached as given (the current behaviour)", () => {
    const c = parseConfig({ weaviate: { endpoint: { host: "127.0.0.1", port: 8080 } } });
    assert.equal(effectiveConnect(c.weaviate), "in-cluster");
    assert.equal(effectiveConnect({ mode: "external", connect: "auto", endpoint: {} }), "in-cluster");
  });

  it("refuses an unknown value, and port-forward with an endpoint or an external server, naming the key", () => {
    assert.match(
      configProblems({ kafka: { connect: "tunnel" } }),
      /ai-platform-data:kafka.connect: "tunnel" is not allowed; use one of "auto", "in-cluster", "port-forward"/,
    );
    assert.match(
      configProblems({
        redis: { connect: "port-forward", endpoint: { sentinels: [{ host: "h", port: 26379 }] } },
      }),
      /ai-platform-data:redis.connect: "port-forward" .* remove redis.endpoint to use port-forwards/,
    );
    assert.match(
      configProblems({
        mongodb: { connect: "port-forward", mode: "external", endpoint: { hosts: ["h:27017"] } },
      }),
      /ai-platform-data:mongodb.connect: "port-forward" .* an external server has none/,
    );
  });
});

describe("forward errors, as the retries judge them", () => {
  const err = (code: string) => Object.assign(new Error(code), { code });

  it("a missing pod and a dropped forward are transient; an API refusal and a foreign address end the run", () => {
    assert.ok(isTransient(err("EK8SPOD")) && mayRetry(err("EK8SFORWARD")) && mayRetry(err("ENOPRIMARY")));
    for (const fatal of ["EK8SFORBIDDEN", "EK8SADDRESS", "EK8SCONFIG"]) {
      assert.ok(isForwardRefusal(err(fatal)) && !mayRetry(err(fatal)), fatal);
    }
    assert.ok(!isForwardRefusal(err("EK8SPOD")));
  });

  it("is recognised inside the clients' wrappers: kafkajs's connection error and retries, Redis", () => {
    // kafkajs copies the socket error's code onto KafkaJSConnectionError and wraps it as `cause`.
    const connection = Object.assign(new Error("Connection error: forbidden"), {
      name: "KafkaJSConnectionError",
      code: "EK8SFORBIDDEN",
    });
    const exceeded = Object.assign(new Error(connection.message), {
      name: "KafkaJSNumberOfRetriesExceeded",
      cause: connection,
    });
    assert.ok(isKafkaFatal(exceeded));
    assert.ok(!isKafkaFatal(Object.assign(new Error("Connection error"), { code: "EK8SPOD" })));
    assert.ok(isFatalRedisError(err("EK8SFORBIDDEN")) && isFatalRedisError(new Error("WRONGPASS x")));
  });

  it("the forward input is never a change, and is always a secret output (it may carry a kubeconfig)", () => {
    assert.deepEqual(changedKeys({ a: 1, forward: { connect: "auto" } }, { a: 1, forward: undefined }), []);
    assert.ok(initialiserOptions(undefined, ["password"]).additionalSecretOutputs?.includes("forward"));
  });
});

describe("the Kafka socket factory connects where the forwarder says", () => {
  const servers: net.Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it("connects the socket to the mapped address, and fails it with the mapping's error", async () => {
    const accepted: string[] = [];
    const server = net.createServer((s) => {
      accepted.push(String(s.remotePort));
      s.end("hi");
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const local = { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port };
    const asked: string[] = [];
    const fw: Forwarder = {
      mode: "port-forward",
      async resolve(addr) {
        asked.push(hostPortKey(addr));
        if (addr.host.startsWith("gone"))
          throw Object.assign(new Error("pod ns/gone-0 does not exist"), { code: "EK8SPOD" });
        return local;
      },
      forwards: () => [],
      dropConnections: () => 0,
      close: async () => undefined,
    };
    const factory = forwardedSocketFactory(fw);
    const data = await new Promise<string>((resolve, reject) => {
      const s = factory({
        host: "kafka-0.kafka-headless.ns.svc.cluster.local",
        port: 9092,
        onConnect: () => undefined,
      });
      let got = "";
      s.on("data", (d) => (got += String(d)));
      s.on("end", () => resolve(got));
      s.on("error", reject);
    });
    assert.equal(data, "hi");
    const failed = await new Promise<Error & { code?: string }>((resolve) => {
      const s = factory({
        host: "gone-0.kafka-headless.ns.svc.cluster.local",
        port: 9092,
        onConnect: () => undefined,
      });
      s.on("error", resolve);
    });
    assert.equal(failed.code, "EK8SPOD");
    assert.deepEqual(asked, [
      "kafka-0.kafka-headless.ns.svc.cluster.local:9092",
      "gone-0.kafka-headless.ns.svc.cluster.local:9092",
    ]);
    assert.equal(accepted.length, 1);
  });
});

describe("opening the forwarder", () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("connects as given without a forward input; auto decides 'in a pod' from the pod's environment, not DNS", async () => {
    assert.equal((await openForwarder(undefined, { host: "x.invalid", port: 1 })).mode, "direct");
    const token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    const has = (p: string) => p === token;
    assert.equal(runsInCluster({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, { existsSync: has }), true);
    assert.equal(runsInCluster({}, { existsSync: has }), false, "no KUBERNETES_SERVICE_HOST");
    assert.equal(runsInCluster({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, { existsSync: () => false }), false);
    // This test process runs in no pod: a name that resolves here (localhost) still goes through
    // port-forwards, which here stop at the kubeconfig that does not exist.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-kubeconfig-"));
    dirs.push(dir);
    await assert.rejects(
      openForwarder(
        { connect: "auto", namespace: NS, kubeconfig: path.join(dir, "missing.yaml") },
        { host: "localhost", port: 1 },
      ),
      (e: Error & { code?: string }) => e.code === "EK8SCONFIG",
    );
  });

  it("names a missing kubeconfig file, an unknown context, and never prints a kubeconfig's content", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-kubeconfig-"));
    dirs.push(dir);
    const missing = path.join(dir, "missing.yaml");
    await assert.rejects(
      openForwarder({ connect: "port-forward", namespace: NS, kubeconfig: missing }, { host: "a", port: 1 }),
      (e: Error & { code?: string }) => e.code === "EK8SCONFIG" && e.message.includes(missing),
    );
    const file = path.join(dir, "config.yaml");
    fs.writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
        "users: [{name: u, user: {token: s3cr3t-t0ken}}]",
        "contexts: [{name: one, context: {cluster: c, user: u}}]",
        "current-context: one",
      ].join("\n"),
    );
    await assert.rejects(
      openForwarder(
        { connect: "port-forward", namespace: NS, kubeconfig: file, context: "two" },
        { host: "a", port: 1 },
      ),
      /context "two" \(stack config kubernetes:context\) is not in the kubeconfig file .*; it has one/,
    );
    const content = "apiVersion: v1\nusers: [{name: u, user: {token: s3cr3t-t0ken}\n";
    await assert.rejects(
      openForwarder({ connect: "port-forward", namespace: NS, kubeconfig: content }, { host: "a", port: 1 }),
      (e: Error) => /stack config kubernetes:kubeconfig/.test(e.message) && !e.message.includes("s3cr3t"),
    );
  });
});

describe("the program hands each initialiser its forward", () => {
  const INITIALISERS: [string, string][] = [
    ["postgres-schema", "postgres"],
    ["mongodb-collections", "mongodb"],
    ["weaviate-classes", "weaviate"],
    ["redis-acl-users", "redis"],
    ["kafka-scram-users", "kafka"],
    ["kafka-topics", "kafka"],
  ];
  const dynamic = (run: ReturnType<typeof runOk>, name: string) => {
    const r = run.resources.find((x) => x.type === "pulumi-nodejs:dynamic:Resource" && x.name === name);
    assert.ok(r, `no initialiser ${name}`);
    return r;
  };

  it("port-forward with the provider's kubeconfig and context (a secret); none with an endpoint override", () => {
    const kubeconfig = "/home/ci/.kube/ci-runner.yaml";
    const run = runOk("dev", {
      "ai-platform-data:namespace": "pf-ns",
      "ai-platform-data:postgres": JSON.stringify({ connect: "port-forward" }),
      "ai-platform-data:redis": JSON.stringify({
        aclUsers: [{ name: "app" }],
        endpoint: { sentinels: [{ host: "127.0.0.1", port: 26379 }] },
      }),
      "kubernetes:kubeconfig": kubeconfig,
      "kubernetes:context": "ci",
    });
    for (const [name, service] of INITIALISERS) {
      const r = dynamic(run, name);
      assert.ok(
        r.options.additionalSecretOutputs?.includes("forward"),
        `${name}: forward not a secret output`,
      );
      if (service === "redis") {
        assert.equal(r.inputs.forward, undefined, "an endpoint override is reached as given");
        continue;
      }
      const connect = service === "postgres" ? "port-forward" : "auto";
      assert.deepEqual(r.inputs.forward, { connect, namespace: "pf-ns", kubeconfig, context: "ci" }, name);
      assert.ok(isSecretInput(r, "forward.kubeconfig"), `${name}: the kubeconfig is not a secret input`);
    }
  });

  it("in-cluster: no forward, the addresses as given", () => {
    const run = runOk("dev", { "ai-platform-data:weaviate": JSON.stringify({ connect: "in-cluster" }) });
    assert.equal(dynamic(run, "weaviate-classes").inputs.forward, undefined);
    assert.deepEqual(dynamic(run, "postgres-schema").inputs.forward, {
      connect: "auto",
      namespace: "ai-platform-data-dev",
    });
  });
});
