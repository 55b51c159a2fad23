/**
 * The kubeconfig the port-forwards use (shared/port-forward.ts): the Kubernetes provider's own settings,
 * stack config `kubernetes:kubeconfig` (a path or the file's content) and `kubernetes:context`, else
 * KUBECONFIG or ~/.kube/config, as the provider reads them. Errors (EK8SCONFIG, which ends the run) name
 * where the kubeconfig came from and never carry its content: it may hold a token.
 */
import { forwardError } from "./address-map";

/** Where the kubeconfig comes from. */
export interface KubeconfigSource {
  /** A kubeconfig's content or path; unset: KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** The context; unset: the kubeconfig's current one. */
  context?: string;
}

/** The KubeConfig for `spec`; errors name where it came from and never carry its content. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- @kubernetes/client-node is required lazily
export function loadKubeConfig(spec: KubeconfigSource): any {
  const k8s = require("@kubernetes/client-node");
  const fs = require("fs");
  const os = require("os");
  const kc = new k8s.KubeConfig();
  const given = spec.kubeconfig?.trim();
  const isContent = given !== undefined && /[\n{]|^apiVersion:/.test(given);
  const home = `${os.homedir()}/.kube/config`;
  const where = given
    ? isContent
      ? "stack config kubernetes:kubeconfig"
      : `the kubeconfig file ${given} (stack config kubernetes:kubeconfig)`
    : process.env.KUBECONFIG
      ? `KUBECONFIG (${process.env.KUBECONFIG})`
      : home;
  if (!given && !process.env.KUBECONFIG && !fs.existsSync(home) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw forwardError(
      "EK8SCONFIG",
      `no kubeconfig to open port-forwards with: set stack config kubernetes:kubeconfig or KUBECONFIG (the Kubernetes provider's own settings), or set <service>.connect to in-cluster`,
    );
  }
  try {
    if (!given) kc.loadFromDefault();
    else if (isContent) kc.loadFromString(given);
    else kc.loadFromFile(given.replace(/^~(?=\/)/, os.homedir()));
  } catch (e) {
    // A parse error quotes the file, which may hold a token: only the kind of failure is kept.
    const code = (e as { code?: string })?.code;
    throw forwardError(
      "EK8SCONFIG",
      `cannot load ${where}: ${code ? `${code}` : "not a readable kubeconfig (YAML or JSON)"}`,
    );
  }
  if (spec.context) {
    if (!kc.getContextObject(spec.context)) {
      const names = kc.getContexts().map((c: { name: string }) => c.name);
      throw forwardError(
        "EK8SCONFIG",
        `context "${spec.context}" (stack config kubernetes:context) is not in ${where}; it has ${names.join(", ") || "none"}`,
      );
    }
    kc.setCurrentContext(spec.context);
  }
  if (!kc.getCurrentCluster()) {
    throw forwardError("EK8SCONFIG", `${where} has no cluster for context "${kc.getCurrentContext()}"`);
  }
  return kc;
}
