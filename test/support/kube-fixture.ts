/**
 * A namespace of stand-in pods on scripts/kube.sh's kwok node, for tests that reach the loopback
 * servers through port-forwards: each pod gets a kwok PortForward that sends its ports to a loopback
 * server, a Service can select it, and its `status.podIP` can be set (a pod that announces its IP, as
 * Sentinel and Kafka do). Nothing runs in the pods; kwok's pod IPs (192.0.2.0/24) are labels only, and
 * {@link watchConnections} records every TCP connection this process opens, so a test can prove none of
 * them went to a pod IP or straight to a server.
 */
import * as assert from "node:assert/strict";
import * as net from "node:net";
import type { Services } from "./servers";
import { until } from "./wait";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- @kubernetes/client-node, untyped here
type Any = any;

/** A stand-in pod: its ports (name → container port → loopback target port) and labels. */
export interface StandIn {
  name: string;
  labels: Record<string, string>;
  ports: { name?: string; port: number; target: number }[];
  /** Set `status.podIP` to this once kwok made the pod ready. */
  podIP?: string;
}

/** A Service selecting stand-in pods. */
export interface StandInService {
  name: string;
  selector: Record<string, string>;
  ports: { port: number; targetPort: number | string }[];
}

/** The API of the harness, as its admin. */
function adminApi(kube: Services["kube"]) {
  const k8s = require("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  kc.setCurrentContext(kube.context);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api) as Any,
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api) as Any,
    custom: kc.makeApiClient(k8s.CustomObjectsApi) as Any,
  };
}

/** Creates the namespace, the pods (ready, IPs set), their forwards and the Services. */
export async function standUp(
  kube: Services["kube"],
  namespace: string,
  pods: StandIn[],
  services: StandInService[],
): Promise<void> {
  const { core } = adminApi(kube);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const p of pods) {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: p.name, labels: p.labels },
        spec: {
          nodeName: kube.node,
          containers: [
            {
              name: "server",
              image: "stand-in",
              ports: p.ports.map((x) => ({ containerPort: x.port, ...(x.name ? { name: x.name } : {}) })),
            },
          ],
        },
      },
    });
    await forwardPorts(kube, namespace, p);
  }
  for (const s of services) {
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: s.name }, spec: { selector: s.selector, ports: s.ports } },
    });
  }
  for (const p of pods) {
    const ready = (pod: Any) =>
      pod.status?.phase === "Running" &&
      pod.status?.podIP &&
      (pod.status?.conditions ?? []).some((c: Any) => c.type === "Ready" && c.status === "True");
    await until(`pod ${namespace}/${p.name} ready`, async () =>
      ready(await core.readNamespacedPod({ name: p.name, namespace })) ? true : undefined,
    );
    if (p.podIP) {
      // A JSON patch: the client's default patch type.
      await core.patchNamespacedPodStatus({
        name: p.name,
        namespace,
        body: [
          { op: "replace", path: "/status/podIP", value: p.podIP },
          { op: "replace", path: "/status/podIPs", value: [{ ip: p.podIP }] },
        ],
      });
      await until(`pod ${namespace}/${p.name} with IP ${p.podIP}`, async () => {
        const pod = await core.readNamespacedPod({ name: p.name, namespace });
        return pod.status?.podIP === p.podIP ? true : undefined;
      });
    }
  }
}

/** kwok's PortForward for a stand-in pod: each port to its loopback target. */
export async function forwardPorts(kube: Services["kube"], namespace: string, p: StandIn): Promise<void> {
  await adminApi(kube).custom.createNamespacedCustomObject({
    group: "kwok.x-k8s.io",
    version: "v1alpha1",
    namespace,
    plural: "portforwards",
    body: {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "PortForward",
      metadata: { name: p.name, namespace },
      spec: {
        forwards: p.ports.map((x) => ({ ports: [x.port], target: { address: "127.0.0.1", port: x.target } })),
      },
    },
  });
}

/** Removes a stand-in pod's PortForward: kwok then answers "forward not found" on its streams. */
export async function unforwardPorts(kube: Services["kube"], namespace: string, name: string): Promise<void> {
  await adminApi(kube).custom.deleteNamespacedCustomObject({
    group: "kwok.x-k8s.io",
    version: "v1alpha1",
    namespace,
    plural: "portforwards",
    name,
  });
}

/** Deletes the namespace (and with it every pod, Service, forward and account of the test). */
export async function tearDown(kube: Services["kube"], namespace: string): Promise<void> {
  await adminApi(kube)
    .core.deleteNamespace({ name: namespace })
    .catch(() => undefined);
}

/**
 * A kubeconfig (content) for a ServiceAccount of the namespace, with `rules` granted in it: a user with
 * exactly the permissions a test wants. The token comes from the TokenRequest API (10 minutes).
 */
export async function accountKubeconfig(
  kube: Services["kube"],
  namespace: string,
  name: string,
  rules: { resources: string[]; verbs: string[] }[],
): Promise<string> {
  const { kc, core, rbac } = adminApi(kube);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  if (rules.length > 0) {
    await rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name }, rules: rules.map((r) => ({ apiGroups: [""], ...r })) },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [{ kind: "ServiceAccount", name, namespace }],
      },
    });
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { expirationSeconds: 600 } },
  });
  const cluster = kc.getCurrentCluster();
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "harness", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } },
    ],
    users: [{ name, user: { token: tr.status.token } }],
    contexts: [{ name, context: { cluster: "harness", user: name, namespace } }],
    "current-context": name,
  });
}

/** A TCP connection this process opened. */
export interface Dial {
  host: string;
  port: number;
}

/**
 * Records every `net.Socket#connect` of this process (every client: pg, the MongoDB driver, ioredis,
 * kafkajs, undici's fetch, the API client's TLS sockets) while `fn` runs.
 */
export async function watchConnections<T>(fn: () => Promise<T>): Promise<{ result: T; dials: Dial[] }> {
  const dials: Dial[] = [];
  const proto = net.Socket.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const original = proto.connect;
  proto.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0][0] as Record<string, unknown>) : args[0];
    if (first && typeof first === "object") {
      const o = first as { host?: string; port?: number | string; path?: string | null };
      if (o.path === undefined || o.path === null)
        dials.push({ host: o.host ?? "localhost", port: Number(o.port) });
    } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
      dials.push({ host: typeof args[1] === "string" ? args[1] : "localhost", port: Number(first) });
    }
    return original.apply(this, args);
  };
  try {
    const result = await fn();
    return { result, dials };
  } finally {
    proto.connect = original;
  }
}

/** True for an address in kwok's pod range or the harness's Service range (never dialled). */
export function isClusterIp(host: string): boolean {
  return /^192\.0\.2\.\d+$/.test(host) || /^198\.51\.100\.\d+$/.test(host);
}

/** Every dial of `dials` went to loopback, to the API server or to a forward; none to a server's own port. */
export function assertOnlyForwards(dials: Dial[], s: Omit<Services, "kube">, kubeServer: string) {
  const api = new URL(kubeServer);
  const serverPorts = new Set([
    s.postgres.port,
    s.mongodb.port,
    s.weaviate.port,
    ...s.redis.nodes.map((n) => n.port),
    ...s.redis.sentinels.map((n) => n.port),
    ...s.kafka.brokers.map((b) => Number(b.split(":")[1])),
  ]);
  assert.ok(dials.length > 0, "no connection was recorded");
  for (const d of dials) {
    assert.ok(!isClusterIp(d.host), `dialled a pod or Service IP: ${d.host}:${d.port}`);
    assert.ok(
      ["127.0.0.1", "localhost"].includes(d.host),
      `dialled a non-loopback address ${d.host}:${d.port}`,
    );
    assert.ok(
      !serverPorts.has(d.port),
      `dialled a server directly, not through a forward: ${d.host}:${d.port}`,
    );
  }
  assert.ok(
    dials.some((d) => d.port === Number(api.port)),
    "the API server was never reached: nothing went through a forward",
  );
}
