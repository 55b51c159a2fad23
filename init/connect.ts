/**
 * Program-time choice of how each initialiser reaches its server (`<service>.connect`), and the
 * `forward` input that tells it (shared/port-forward.ts). Runs in the program, never in a provider.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ForwardSpec } from "./shared/port-forward";

/** The values of `<service>.connect`. */
export type ConnectSetting = "auto" | "in-cluster" | "port-forward";

/** The parts of a service's config that decide how it is reached. */
export interface ConnectConfig {
  mode: "helm" | "external";
  connect: ConnectSetting;
  /** The endpoint override; any value means "connect there, as given". */
  endpoint?: unknown;
}

/**
 * How the initialiser reaches the server: as given (`in-cluster`) for an external server or an
 * endpoint override, whatever `connect` says (config refuses `port-forward` with either); otherwise
 * `connect`.
 */
export function effectiveConnect(svc: ConnectConfig): ConnectSetting {
  if (svc.mode === "external" || svc.endpoint !== undefined) return "in-cluster";
  return svc.connect;
}

/** What the forwards use to reach the API server: the Kubernetes provider's own settings. */
export interface KubeAccess {
  /** Stack config `kubernetes:kubeconfig` (content or path; a secret, it may hold a token). */
  kubeconfig?: pulumi.Input<string>;
  /** Stack config `kubernetes:context`. */
  context?: string;
}

/**
 * The ambient Kubernetes provider's settings from stack config. Unset, the forwards read KUBECONFIG or
 * ~/.kube/config where the initialiser runs, as the provider does.
 */
export function kubernetesProviderAccess(): KubeAccess {
  const k = new pulumi.Config("kubernetes");
  return { kubeconfig: k.getSecret("kubeconfig"), context: k.get("context") };
}

/** The `forward` input of a service's initialisers, or undefined when they connect as given. */
export function forwardInput(
  svc: ConnectConfig,
  namespace: string,
  access: KubeAccess,
): pulumi.Output<ForwardSpec> | undefined {
  const connect = effectiveConnect(svc);
  if (connect === "in-cluster") return undefined;
  const spec: { [K in keyof ForwardSpec]: pulumi.Input<ForwardSpec[K]> } = { connect, namespace };
  if (access.kubeconfig !== undefined) spec.kubeconfig = pulumi.secret(access.kubeconfig);
  if (access.context !== undefined) spec.context = access.context;
  return pulumi.output(spec) as pulumi.Output<ForwardSpec>;
}
