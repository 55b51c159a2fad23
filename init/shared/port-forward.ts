/**
 * Reaching the release's pods from where `pulumi up` runs: port-forwards through the Kubernetes API
 * (`@kubernetes/client-node`'s PortForward, one WebSocket stream per TCP connection), each listening on
 * an ephemeral 127.0.0.1 port, open only while an initialiser's method runs.
 *
 * Every address is mapped on its own ({@link Forwarder.resolve}): the configured one (a Service) and
 * every address a server hands back (a Sentinel's master and replicas, a Kafka broker from the cluster
 * metadata, a MongoDB member), found by pod name, by the Service's selector or by pod IP
 * (shared/address-map.ts), so nothing ever dials an in-cluster address directly.
 *
 * Faults: a forward whose stream fails or drops makes the client's connection fail like a reset
 * (transient, shared/retry.ts), and the next `resolve` of that address looks the pod up again. A missing
 * pod is EK8SPOD (transient: it may be starting); an API refusal (401/403, from a lookup, the
 * SelfSubjectAccessReview or the stream) is EK8SFORBIDDEN, one error that names the namespace, the pod
 * and the permission needed, and ends the run.
 *
 * Dynamic providers are serialized by Pulumi: every module is required inside the functions, and the
 * state lives in closures, never in a class or a module variable.
 */
import { FORWARD_FATAL_CODES, HostPort } from "./address-map";
import { portForwarder } from "./pod-forwarder";

export type { HostPort } from "./address-map";

/** The `forward` input of the initialisers: how to reach the in-cluster addresses they are given. */
export interface ForwardSpec {
  /**
   * `auto`: the addresses as given when the first one resolves here (DNS), port-forwards otherwise;
   * `port-forward`: always through port-forwards.
   */
  connect: "auto" | "port-forward";
  /** The release's namespace: names without one are looked up in it. */
  namespace: string;
  /** A kubeconfig's content or path (stack config `kubernetes:kubeconfig`); unset: KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** The kubeconfig context (stack config `kubernetes:context`); unset: its current context. */
  context?: string;
}

/** Where an initialiser connects, for one provider method. */
export interface Forwarder {
  /** `direct`: addresses as given; `port-forward`: every address through a forward. */
  readonly mode: "direct" | "port-forward";
  /** The address to connect to for `addr`: itself, or the loopback end of the forward to its pod. */
  resolve(addr: HostPort): Promise<HostPort>;
  /** Every forward opened so far: its in-cluster end and its loopback address. */
  forwards(): { target: string; local: HostPort }[];
  /** Ends every connection open through the forwards, as a dropped stream does (listeners stay). */
  dropConnections(): number;
  /** Closes every listener and connection. */
  close(): Promise<void>;
}

/** True for an error after which another attempt cannot help: an API refusal, an address outside the cluster. */
export function isForwardRefusal(e: unknown): boolean {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, n = 0; cur && n < 5; n++) {
    if (typeof cur.code === "string" && FORWARD_FATAL_CODES.includes(cur.code)) return true;
    cur = cur.cause as typeof cur;
  }
  return false;
}

/** The forwarder that connects to every address as given (no `forward` input, or `in-cluster`). */
function directForwarder(): Forwarder {
  return {
    mode: "direct",
    resolve: async (addr) => addr,
    forwards: () => [],
    dropConnections: () => 0,
    close: async () => undefined,
  };
}

/**
 * Runs `fn` with a {@link Forwarder} for `spec`, closing every forward afterwards whatever happens.
 * `first` is the configured address, which decides `auto`.
 */
export async function withForwarder<T>(
  spec: ForwardSpec | undefined,
  first: HostPort,
  log: (line: string) => void,
  fn: (fw: Forwarder) => Promise<T>,
): Promise<T> {
  const fw = await openForwarder(spec, first, log);
  try {
    return await fn(fw);
  } finally {
    await fw.close();
  }
}

/**
 * Whether this process runs in a Kubernetes pod: the kubelet sets KUBERNETES_SERVICE_HOST and mounts
 * the service account. Decided from the pod's environment, never from DNS: a laptop resolving
 * `*.svc.cluster.local` (mDNS answers any `.local` name on macOS) would send credentials to whoever
 * answers.
 */
export function runsInCluster(
  env: NodeJS.ProcessEnv = process.env,
  fsm: { existsSync(p: string): boolean } = require("fs"),
): boolean {
  return (
    Boolean(env.KUBERNETES_SERVICE_HOST) &&
    fsm.existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")
  );
}

/** `direct` for no spec, and for `auto` inside a pod (runsInCluster); a port-forwarding one otherwise. */
export async function openForwarder(
  spec: ForwardSpec | undefined,
  first: HostPort,
  log: (line: string) => void = () => undefined,
): Promise<Forwarder> {
  if (!spec) return directForwarder();
  if (spec.connect === "auto") {
    if (runsInCluster()) return directForwarder();
    log(`not in a pod: reaching ${first.host} through port-forwards (connect: auto)`);
  }
  return portForwarder(spec, log);
}
