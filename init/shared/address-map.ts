/**
 * Pure mapping from an address a server hands back (or the configured one) to what it names in the
 * cluster: a pod by its DNS name, a Service, or a pod IP; then from a Service's port to a pod's port.
 * Used by the port-forwards of init/shared/port-forward.ts, which look the answer up through the
 * Kubernetes API and forward to it. No network here: unit-tested on its own.
 */

/** An address as servers and config give it. */
export interface HostPort {
  host: string;
  port: number;
}

/** What an address names in the cluster. */
export type ClusterTarget =
  /** A pod by name: `<pod>.<headless service>.<namespace>.svc.<cluster domain>` (StatefulSet pods). */
  | { kind: "pod"; namespace: string; pod: string; port: number }
  /** A Service: `<service>.<namespace>.svc.<cluster domain>`, `<service>.<namespace>` or `<service>`. */
  | { kind: "service"; namespace: string; service: string; port: number }
  /** A pod by its IP (`status.podIP`), as Sentinel or a broker may announce it. */
  | { kind: "podIP"; namespace: string; ip: string; port: number };

/**
 * Error codes of the port-forwards. EK8SPOD (the pod is missing or not running yet, or no ready pod is
 * behind a Service) and EK8SFORWARD (a forward could not be opened or dropped) are transient
 * (shared/retry.ts); EK8SFORBIDDEN (the API refused the credentials or a permission), EK8SADDRESS (an
 * address that names nothing in the cluster) and EK8SCONFIG (no usable kubeconfig) end the run at once.
 */
export const FORWARD_FATAL_CODES = ["EK8SFORBIDDEN", "EK8SADDRESS", "EK8SCONFIG"];

/** An Error with a code, as the retries judge it. */
export function forwardError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message), { code, ...(cause !== undefined ? { cause } : {}) });
}

/** `host:port`; IPv6 hosts in brackets. */
export function hostPortKey(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `host:port` or `[v6]:port`; throws on anything else. */
export function parseHostPort(text: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw forwardError("EK8SADDRESS", `"${text}" is not host:port`);
  }
  return { host: m[1], port };
}

/** True for an IPv4 or IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.split(".").every((o) => Number(o) <= 255);
  return host.includes(":") && /^[0-9a-fA-F:.]+$/.test(host);
}

/** A DNS label as Kubernetes names pods, Services and namespaces (RFC 1123). */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * What an address names in the cluster, `namespace` being the release's (names without one are in it).
 * Throws EK8SADDRESS for a name that is not an in-cluster one (`db.example.com`): a port-forward only
 * reaches pods; and for one in another namespace: a server that announces such an address (a broker's
 * advertised listener, a Sentinel's replica) must not lead the initialiser, with its credentials, into
 * pods outside the release's namespace.
 */
export function clusterTarget(addr: HostPort, namespace: string): ClusterTarget {
  const t = namedTarget(addr, namespace);
  if (t.namespace !== namespace) {
    throw forwardError(
      "EK8SADDRESS",
      `${hostPortKey(addr)} names ${describeTarget(t)}, outside the release's namespace "${namespace}": the initialiser forwards only to the release's own pods`,
    );
  }
  return t;
}

function namedTarget(addr: HostPort, namespace: string): ClusterTarget {
  const port = addr.port;
  if (isIpLiteral(addr.host)) return { kind: "podIP", namespace, ip: addr.host, port };
  const labels = addr.host.toLowerCase().replace(/\.$/, "").split(".");
  const notInCluster = () =>
    forwardError(
      "EK8SADDRESS",
      `${hostPortKey(addr)} is not an in-cluster address (a pod's or a Service's DNS name in namespace "${namespace}", or a pod IP): a port-forward reaches pods only`,
    );
  if (!labels.every((l) => LABEL.test(l))) throw notInCluster();
  const svc = labels.indexOf("svc");
  // `<service>.<ns>.svc.<domain>` or `<pod>.<subdomain>.<ns>.svc.<domain>`, whatever the cluster domain.
  if (svc === 2) return { kind: "service", namespace: labels[1], service: labels[0], port };
  if (svc === 3) return { kind: "pod", namespace: labels[2], pod: labels[0], port };
  if (svc >= 0) throw notInCluster();
  // Short forms, as the resolver's search list completes them inside the release's namespace.
  if (labels.length === 1) return { kind: "service", namespace, service: labels[0], port };
  if (labels.length === 2) {
    return labels[1] === namespace
      ? { kind: "service", namespace, service: labels[0], port }
      : { kind: "pod", namespace, pod: labels[0], port };
  }
  if (labels.length === 3 && labels[2] === namespace) return { kind: "pod", namespace, pod: labels[0], port };
  throw notInCluster();
}

/** For messages: `pod ns/name`, `Service ns/name`, `the pod with IP 10.0.0.5 in ns`. */
export function describeTarget(t: ClusterTarget): string {
  if (t.kind === "pod") return `pod ${t.namespace}/${t.pod}`;
  if (t.kind === "service") return `Service ${t.namespace}/${t.service}`;
  return `the pod with IP ${t.ip} in namespace ${t.namespace}`;
}

/** The parts of a Service and a pod the mapping reads (as the Kubernetes API returns them). */
export interface ServiceLike {
  spec?: {
    selector?: Record<string, string>;
    ports?: { port: number; targetPort?: number | string; name?: string }[];
  };
}
export interface PodLike {
  metadata?: { name?: string; deletionTimestamp?: unknown };
  spec?: { containers?: { ports?: { containerPort: number; name?: string }[] }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/**
 * The pod port a Service's port leads to: its `targetPort` (a number, or the name of a container port of
 * `pod`), or the same number when unset. Undefined when the Service has no such port or the name is not
 * a port of the pod.
 */
export function servicePodPort(service: ServiceLike, port: number, pod: PodLike): number | undefined {
  const p = (service.spec?.ports ?? []).find((x) => x.port === port);
  if (!p) return undefined;
  const target = p.targetPort;
  if (target === undefined || target === null || target === "") return port;
  if (typeof target === "number") return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    const named = (c.ports ?? []).find((x) => x.name === target);
    if (named) return named.containerPort;
  }
  return undefined;
}

/** A `key=value,...` label selector from a Service's selector map, keys sorted. */
export function labelSelector(selector: Record<string, string>): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(",");
}

/** Running and not being deleted: a port-forward to it can work. */
export function podRunning(pod: PodLike): boolean {
  return pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp;
}

/** Running and Ready: what a Service would send traffic to. */
function podReady(pod: PodLike): boolean {
  return (
    podRunning(pod) && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** The pod a Service's traffic goes to through the forward: the first ready one by name (stable). */
export function pickPod<P extends PodLike>(pods: P[]): P | undefined {
  return pods
    .filter(podReady)
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)))[0];
}
