/**
 * The port-forwarding {@link Forwarder} of shared/port-forward.ts: one loopback listener per pod port,
 * each accepted connection one `@kubernetes/client-node` PortForward stream through the API server of the
 * spec's kubeconfig. Faults and refusals as described there. State lives in closures (dynamic providers
 * are serialized by Pulumi), modules are required inside the functions.
 */
import type * as net from "net";
import { loadKubeConfig } from "./kubeconfig";
import {
  ClusterTarget,
  clusterTarget,
  describeTarget,
  forwardError,
  HostPort,
  hostPortKey,
  labelSelector,
  pickPod,
  PodLike,
  podRunning,
  servicePodPort,
  ServiceLike,
} from "./address-map";
import type { Forwarder, ForwardSpec } from "./port-forward";

/** One accepted connection and the API stream it goes through (the ws library's WebSocket). */
interface Tunnel {
  sock: net.Socket;
  ws?: { close(): void; terminate(): void };
}

/** One loopback listener forwarding to one pod port. */
interface Forward {
  namespace: string;
  pod: string;
  port: number;
  server: net.Server;
  local: HostPort;
  /** Set when a stream failed or dropped: the next `resolve` of an address looks the pod up again. */
  broken: boolean;
  /** Set when the API refused the stream: `resolve` throws it. */
  fatal?: Error;
}

/**
 * The `message` of the API server's Status in an error body. @kubernetes/client-node's ApiException
 * carries the body as the raw response text (1.x and 2.x), not as an object; it may also be empty or not JSON.
 */
export function apiStatusMessage(body: unknown): string | undefined {
  let status = body;
  if (typeof body === "string") {
    try {
      status = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const message = (status as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" && message.length > 0 ? message : undefined;
}

/** A forwarder that opens port-forwards through the API server of `spec`'s kubeconfig. */
export function portForwarder(spec: ForwardSpec, log: (line: string) => void): Forwarder {
  const k8s = require("@kubernetes/client-node");
  const netm = require("net");
  const { Writable } = require("stream");
  const kc = loadKubeConfig(spec);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const portForward = new k8s.PortForward(kc);
  const who = `the kubeconfig user "${kc.getCurrentUser()?.name ?? "?"}" (context "${kc.getCurrentContext()}")`;
  const PERMISSIONS = (ns: string) =>
    `reaching the servers through port-forwards needs get and list on pods, get on services and create on pods/portforward in namespace "${ns}" (README "Reaching the servers")`;

  const forwards = new Map<string, Promise<Forward>>();
  const mapped = new Map<string, Forward>();
  const allowed = new Set<string>();
  const tunnels = new Set<Tunnel>();

  /** An API error as one of the forward errors; network errors are kept (transient by their code). */
  const apiError = (e: unknown, action: string, ns: string, pod?: string): Error => {
    const status = (e as { code?: unknown })?.code;
    const message = apiStatusMessage((e as { body?: unknown })?.body);
    const reason = message ? `: ${message}` : "";
    if (status === 401) {
      return forwardError(
        "EK8SFORBIDDEN",
        `the Kubernetes API refused the credentials of ${who} (401 Unauthorized) to ${action}`,
      );
    }
    if (status === 403) {
      return forwardError(
        "EK8SFORBIDDEN",
        `${who} may not ${action} in namespace "${ns}"${pod ? ` (pod ${pod})` : ""} (403 Forbidden): ${PERMISSIONS(ns)}`,
      );
    }
    if (typeof status === "number") {
      return forwardError("EK8SFORWARD", `the Kubernetes API answered ${status} to ${action}${reason}`);
    }
    return e as Error;
  };

  const findPod = async (t: ClusterTarget, addr: HostPort): Promise<{ pod: string; port: number }> => {
    const ns = t.namespace;
    const where = `${hostPortKey(addr)} (${describeTarget(t)})`;
    if (t.kind === "pod") {
      const pod: PodLike = await core
        .readNamespacedPod({ name: t.pod, namespace: ns })
        .catch((e: unknown) => {
          if ((e as { code?: unknown })?.code === 404)
            throw forwardError("EK8SPOD", `pod ${ns}/${t.pod} does not exist (address ${where})`);
          throw apiError(e, `get pod ${t.pod}`, ns, t.pod);
        });
      if (!podRunning(pod)) {
        throw forwardError(
          "EK8SPOD",
          `pod ${ns}/${t.pod} is ${pod.metadata?.deletionTimestamp ? "being deleted" : (pod.status?.phase ?? "not running")} (address ${where})`,
        );
      }
      return { pod: t.pod, port: t.port };
    }
    if (t.kind === "service") {
      const svc: ServiceLike = await core
        .readNamespacedService({ name: t.service, namespace: ns })
        .catch((e: unknown) => {
          if ((e as { code?: unknown })?.code === 404)
            throw forwardError("EK8SPOD", `Service ${ns}/${t.service} does not exist (address ${where})`);
          throw apiError(e, `get service ${t.service}`, ns);
        });
      const selector = svc.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) {
        throw forwardError(
          "EK8SADDRESS",
          `Service ${ns}/${t.service} has no pod selector: no pod to forward ${hostPortKey(addr)} to`,
        );
      }
      const list = await core
        .listNamespacedPod({ namespace: ns, labelSelector: labelSelector(selector) })
        .catch((e: unknown) => {
          throw apiError(e, "list pods", ns);
        });
      const pod = pickPod(list.items as PodLike[]);
      if (!pod) {
        throw forwardError(
          "EK8SPOD",
          `no ready pod behind Service ${ns}/${t.service} (selector ${labelSelector(selector)}) for ${hostPortKey(addr)}`,
        );
      }
      const port = servicePodPort(svc, t.port, pod);
      if (port === undefined) {
        throw forwardError(
          "EK8SADDRESS",
          `Service ${ns}/${t.service} has no port ${t.port} leading to a port of pod ${pod.metadata?.name}`,
        );
      }
      return { pod: String(pod.metadata?.name), port };
    }
    const list = await core
      .listNamespacedPod({ namespace: ns, fieldSelector: `status.podIP=${t.ip}` })
      .catch((e: unknown) => {
        throw apiError(e, "list pods", ns);
      });
    const pod = (list.items as PodLike[]).find(podRunning);
    if (!pod)
      throw forwardError("EK8SPOD", `no running pod in namespace ${ns} has IP ${t.ip} (address ${where})`);
    return { pod: String(pod.metadata?.name), port: t.port };
  };

  /** Asks the API once per pod whether the user may open a port-forward to it (no side effect). */
  const ensureAllowed = async (ns: string, pod: string): Promise<void> => {
    const key = `${ns}/${pod}`;
    if (allowed.has(key)) return;
    const review = await authz
      .createSelfSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              namespace: ns,
              verb: "create",
              resource: "pods",
              subresource: "portforward",
              name: pod,
            },
          },
        },
      })
      .catch((e: unknown) => {
        // Some clusters do not offer the review: the stream itself will tell. A 401 ends the run.
        if ((e as { code?: unknown })?.code === 401) throw apiError(e, "review its permissions", ns, pod);
        return undefined;
      });
    if (review?.status && review.status.allowed !== true) {
      throw forwardError(
        "EK8SFORBIDDEN",
        `${who} may not create pods/portforward in namespace "${ns}" (pod ${pod}): ${PERMISSIONS(ns)}`,
      );
    }
    allowed.add(key);
  };

  /** Bridges one accepted connection to the pod port through a new API stream. */
  const tunnel = (f: Forward, sock: net.Socket): void => {
    const t: Tunnel = { sock };
    tunnels.add(t);
    const fail = (why: string, fatal?: Error) => {
      if (!f.broken) log(`port-forward to pod ${f.namespace}/${f.pod} port ${f.port} failed (${why})`);
      f.broken = true;
      if (fatal) f.fatal = fatal;
      sock.destroy();
    };
    sock.on("error", () => undefined);
    sock.on("close", () => {
      tunnels.delete(t);
      t.ws?.close();
    });
    // The API's error channel: "forward not found", "connection refused" inside the pod, ...
    const errors = new Writable({
      write(chunk: Buffer, _enc: string, cb: () => void) {
        // The channel's first frame carries only the port number: empty once the client strips it.
        if (chunk.length > 0) fail(String(chunk).trim());
        cb();
      },
    });
    portForward.portForward(f.namespace, f.pod, [f.port], sock, errors, sock).then(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- ws WebSocket
      (ws: any) => {
        t.ws = ws;
        if (sock.destroyed) return ws.close();
        ws.on("error", () => sock.destroy());
        // A clean close is the pod's end closing the connection; any other code is a dropped stream.
        ws.on("close", (code: number) => {
          if (sock.destroyed) return;
          if (code === 1000) sock.end();
          else fail(`stream closed with code ${code}`);
        });
      },
      (e: unknown) => {
        const status = /Unexpected server response: (\d+)/.exec(String((e as Error)?.message))?.[1];
        if (status === "401" || status === "403") {
          fail(
            `${status} from the API`,
            apiError({ code: Number(status) }, "create pods/portforward", f.namespace, f.pod),
          );
        } else fail(String((e as Error)?.message ?? e));
      },
    );
  };

  /** The listener for a pod port; one per pod port, also when several connections ask at once. */
  const listen = (ns: string, pod: string, port: number): Promise<Forward> => {
    const key = `${ns}/${pod}:${port}`;
    const existing = forwards.get(key);
    if (existing) return existing;
    const opening = new Promise<Forward>((ok, ko) => {
      const server: net.Server = netm.createServer();
      server.once("error", ko);
      server.listen(0, "127.0.0.1", () => {
        const f: Forward = {
          namespace: ns,
          pod,
          port,
          server,
          local: { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port },
          broken: false,
        };
        server.on("connection", (sock: net.Socket) => tunnel(f, sock));
        ok(f);
      });
    });
    forwards.set(key, opening);
    return opening;
  };

  const dropConnections = (): number => {
    const n = tunnels.size;
    for (const t of [...tunnels]) {
      t.ws?.terminate();
      t.sock.destroy();
    }
    return n;
  };

  return {
    mode: "port-forward",
    async resolve(addr: HostPort): Promise<HostPort> {
      const key = hostPortKey(addr);
      const known = mapped.get(key);
      if (known?.fatal) throw known.fatal;
      if (known && !known.broken) return known.local;
      const target = clusterTarget(addr, spec.namespace);
      const { pod, port } = await findPod(target, addr);
      await ensureAllowed(target.namespace, pod);
      const f = await listen(target.namespace, pod, port);
      f.broken = false;
      if (mapped.get(key) !== f) {
        log(
          `${key}: through a port-forward to pod ${target.namespace}/${pod} port ${port} (${hostPortKey(f.local)})`,
        );
      }
      mapped.set(key, f);
      return f.local;
    },
    forwards: () =>
      [...mapped.values()]
        .filter((f, i, all) => all.indexOf(f) === i)
        .map((f) => ({ target: `${f.namespace}/${f.pod}:${f.port}`, local: f.local })),
    dropConnections,
    async close(): Promise<void> {
      dropConnections();
      await Promise.all(
        [...forwards.values()].map((opening) =>
          opening.then(
            (f) => new Promise((done) => f.server.close(() => done(undefined))),
            () => undefined,
          ),
        ),
      );
      forwards.clear();
      mapped.clear();
    },
  };
}
